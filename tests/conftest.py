"""Core tests use the fixtures of praho.core.testing (the pytest11 plugin)."""

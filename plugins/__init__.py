"""Built-in PRAHO plugins."""

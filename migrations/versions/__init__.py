"""Migration scripts, date-prefixed."""

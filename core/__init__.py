"""PRAHO Billing core."""

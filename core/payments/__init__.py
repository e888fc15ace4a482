"""Payments in the core: the gateway contract, payment records and their services."""

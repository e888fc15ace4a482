"""Business operations as plain functions ``verb_noun(session, ..., *, now=None)``.

They flush and never commit: the request, Celery task or CLI command that calls them
owns the transaction. Import the modules directly, e.g.
``from praho.core.services import invoicing``.
"""

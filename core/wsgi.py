"""Entry points for process managers: ``gunicorn 'praho.core.wsgi:app'`` and
``celery -A praho.core.wsgi:celery_app worker``.

The application is built once per process from the ``PRAHO_*`` environment.
"""

from __future__ import annotations

from praho.core.app import create_app

app = create_app()
celery_app = app.extensions["celery"]

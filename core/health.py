"""``/healthz``: is the database reachable, and the broker when one is configured."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

health_blueprint = Blueprint("health", __name__)


def _check_database() -> tuple[bool, str]:
    try:
        with current_app.extensions["praho.db"].engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy; report its type only
        return False, type(exc).__name__


def _check_broker() -> tuple[bool, str]:
    broker = current_app.config.get("BROKER_URL")
    if not broker:
        return True, "eager (no broker configured)"
    try:
        celery_app = current_app.extensions["celery"]
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:  # noqa: BLE001
        return False, type(exc).__name__


@health_blueprint.get("/healthz")
def healthz() -> Any:
    """200 when every dependency answers, 503 otherwise; never reveals connection strings."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(ok for ok, _ in checks.values())
    body = {"status": "ok" if healthy else "unhealthy",
            "checks": {name: detail for name, (_ok, detail) in checks.items()}}
    return jsonify(body), 200 if healthy else 503

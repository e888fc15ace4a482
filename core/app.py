"""The application factory: config, database, plugins, blueprints, admin, Celery."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Request, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from jinja2 import ChoiceLoader, FileSystemLoader
from praho.core import immutability, redaction
from praho.core.config import finalize_settings, load_settings
from praho.core.db import Database
from praho.core.errors import PrahoError
from praho.core.plugins import build_registry
from praho.core.ratelimit import init_rate_limits
from praho.core.services import audit, mail
from praho.core.tasks import celery_init_app

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signer built only when a cookie came.

    Flask builds the signer for every request before it looks for the cookie; webhooks
    and the usage API never send one, and for them that was a measurable part of the
    request. A request without the cookie gets the same fresh, empty session as before.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """A new session when no cookie came (and a secret key is set); else Flask's."""
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ  # no Cookie header: nothing to parse
            or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)


def create_app(config: dict[str, Any] | None = None, *,
               plugins: Iterable[tuple[str, Any]] = ()) -> Flask:
    """Build a PRAHO application.

    :param config: settings overriding the ``PRAHO_*`` environment (keys without the
        prefix, e.g. ``{"DATABASE_URL": "sqlite://"}``), plus any Flask setting.
    :param plugins: extra ``(name, plugin)`` pairs to register (tests, embedding).
    """
    settings = load_settings()
    overrides = dict(config or {})
    settings.update({k: v for k, v in overrides.items() if k in settings})
    instance_path = settings.get("INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    app = Flask("praho.core", instance_path=os.path.abspath(instance_path),
                template_folder=str(TEMPLATE_DIR))
    settings = finalize_settings(settings, app.instance_path)
    app.config.update(settings)
    app.config.update(overrides)
    app.session_interface = CookieSessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("SESSION_COOKIE_SECURE", settings["SESSION_COOKIE_SECURE"])
    logging.getLogger("praho").setLevel(settings["LOG_LEVEL"])

    immutability.install_guards()
    audit.install_sealing()
    mail.install_dispatch()
    database = Database(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])
    app.extensions["praho.db"] = database
    app.teardown_appcontext(lambda _exc: database.remove())

    manifest = app.config.get("PLUGIN_MANIFEST")
    registry = build_registry(Path(manifest) if manifest else None, app=app, extra_plugins=plugins,
                              load_entry_points=app.config.get("LOAD_ENTRY_POINTS", True))
    app.extensions["praho.plugins"] = registry
    # Every log record of the process is redacted from here on (secrets, tokens, cards).
    redaction.install_log_redaction(
        redaction.secret_values(app.config) + redaction.secret_values(registry.settings)
    )

    loaders = [FileSystemLoader(str(TEMPLATE_DIR))]
    loaders += registry.collect("register_templates")
    app.jinja_loader = ChoiceLoader(loaders)  # type: ignore[assignment]

    celery_init_app(app)
    init_rate_limits(app)
    _register_blueprints(app, registry)
    from praho.core.cli import register_core_commands

    register_core_commands(app)
    for command in registry.collect("register_cli_commands"):
        app.cli.add_command(command)
    from praho.admin import init_admin

    init_admin(app, registry)
    @app.errorhandler(PrahoError)
    def _praho_error(error: PrahoError) -> Any:
        return jsonify({"error": error.code, "message": error.message}), error.http_status

    return app


def _register_blueprints(app: Flask, registry: Any) -> None:
    from praho.core.health import health_blueprint
    from praho.core.webhooks.blueprint import webhooks_blueprint

    app.register_blueprint(health_blueprint)
    app.register_blueprint(webhooks_blueprint)
    for blueprint in registry.collect("register_blueprints", app=app):
        app.register_blueprint(blueprint)


def get_db(app: Flask | None = None) -> Database:
    """The :class:`Database` of ``app`` (or of the current app)."""
    from flask import current_app

    database: Database = (app or current_app).extensions["praho.db"]
    return database

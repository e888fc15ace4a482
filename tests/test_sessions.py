"""The app's cookie sessions: built lazily, read and written exactly as Flask's own."""

from __future__ import annotations

from flask import Blueprint, session
from praho.core.app import CookieSessionInterface, create_app
from praho.core.hookspecs import hookimpl
from praho.core.testing import StaticTestPlugin, config_for_tests

probe = Blueprint("session_probe", __name__)


@probe.get("/probe/session/set/<value>")
def set_value(value):
    session["value"] = value
    return {"ok": True}


@probe.get("/probe/session/get")
def get_value():
    return {"value": session.get("value"), "new": not session}


class ProbePlugin:
    @hookimpl
    def register_blueprints(self):
        return [probe]


def _app(praho_database_url):
    return create_app(config_for_tests(praho_database_url),
                      plugins=[("static_test", StaticTestPlugin()), ("probe", ProbePlugin())])


def test_a_session_round_trips_and_a_request_without_a_cookie_gets_an_empty_one(
    praho_database_url,
):
    app = _app(praho_database_url)
    assert isinstance(app.session_interface, CookieSessionInterface)
    client = app.test_client()
    fresh = client.get("/probe/session/get")
    assert fresh.json == {"value": None, "new": True} and "Set-Cookie" not in fresh.headers
    assert "Set-Cookie" in client.get("/probe/session/set/kept").headers
    assert client.get("/probe/session/get").json == {"value": "kept", "new": False}
    # A cookie that does not verify is a fresh session, as with Flask's own interface.
    other = app.test_client()
    other.set_cookie(app.config.get("SESSION_COOKIE_NAME") or "session", "forged.value.sig")
    assert other.get("/probe/session/get").json == {"value": None, "new": True}

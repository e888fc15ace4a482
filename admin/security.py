"""HTTP hardening of /admin: CSRF on every POST, security headers, cookie and proxy settings.

- CSRF: Flask-WTF's :class:`CSRFProtect` with the default check off, then enforced for
  every unsafe method under /admin (webhooks and the usage API authenticate otherwise
  and must not need a browser token).
- Headers: a Content-Security-Policy with a per-request nonce for scripts (Flask-Admin's
  templates carry it), frame denial, no sniffing, no referrer leaks, and HSTS when the
  request came over TLS (directly, or through ``PRAHO_TRUSTED_PROXIES`` proxies).
- Cookies: HttpOnly, SameSite=Lax, Secure unless ``PRAHO_SESSION_COOKIE_SECURE=false``
  (tests and plain-HTTP development only).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HSTS_SECONDS = 63072000  # two years, the value hstspreload.org asks for


def csp_nonce() -> str:
    """This request's CSP nonce (created on first use)."""
    # Kept in the request's environ: an app context (``g``) may span several requests.
    nonce = request.environ.get("praho.csp_nonce")
    if nonce is None:
        nonce = request.environ["praho.csp_nonce"] = secrets.token_urlsafe(18)
    return str(nonce)


def content_security_policy(nonce: str) -> str:
    """The admin's CSP: only our own origin; scripts need the nonce; no frames, no plugins.

    Inline ``style`` attributes stay allowed: Flask-Admin's templates and our server-side
    SVG charts use them, and styles cannot run code.
    """
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def is_admin_path(path: str, prefix: str) -> bool:
    """True for ``prefix`` itself and everything below it."""
    return path == prefix or path.startswith(prefix + "/")


def install_security(app: Flask, *, prefix: str) -> None:
    """Wire CSRF, headers, cookie flags and proxy handling for the back office at ``prefix``."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 3600 * 8)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        minutes=int(app.config.get("ADMIN_IDLE_MINUTES") or 60)
    )
    csrf.init_app(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Behind a TLS-terminating proxy: trust its X-Forwarded-For/Proto so HSTS, secure
        # redirects and per-address login limits see the real scheme and client.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,
            x_host=proxies,
        )

    @app.before_request
    def _admin_csrf() -> None:
        # Flask-WTF caches the token on ``g``; when one app context spans several requests
        # (tests, embedding), a cached token may belong to a session that no longer exists.
        g.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
        if request.method in UNSAFE_METHODS and is_admin_path(request.path, prefix):
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError) -> Any:
        return Response(
            f"400 Bad Request: CSRF check failed ({error.description})",
            status=400,
            mimetype="text/plain",
        )

    @app.after_request
    def _admin_headers(response: Response) -> Response:
        if not is_admin_path(request.path, prefix):
            return response
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        # Money and personal data: never keep admin pages in shared or browser caches.
        response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = (
                f"max-age={HSTS_SECONDS}; includeSubDomains"
            )
        return response

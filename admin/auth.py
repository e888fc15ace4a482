"""Login, logout, language switch, and the role checks every admin page and action uses.

A session holds the staff user's id, the user's ``session_version`` (a password change
or a disabled account ends older sessions), when the login happened and when the user
was last seen. Sessions end after ``PRAHO_SESSION_LIFETIME_MINUTES`` from login and after
``PRAHO_ADMIN_IDLE_MINUTES`` without a request, whichever comes first.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from praho.admin.i18n import LANGUAGES, gettext
from praho.admin.models import StaffRole, StaffUser
from praho.admin.security import csp_nonce
from praho.admin.staff import authenticate
from praho.core.clock import utcnow
from praho.core.ratelimit import limiter, login_limit

# Which roles may do what. Reading and notes: everyone; money and fiscal actions: billing
# and admin; staff management: admin only.
READ = frozenset(StaffRole)
MONEY = frozenset({StaffRole.ADMIN, StaffRole.BILLING})
ADMIN_ONLY = frozenset({StaffRole.ADMIN})

auth_blueprint = Blueprint("praho_auth", __name__, url_prefix="/admin", template_folder="templates")


def _db_session() -> Any:
    return current_app.extensions["praho.db"].session


def _end_session() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def current_staff() -> StaffUser | None:
    """The logged-in staff user of this request, or None (checks expiry and revocation)."""
    # Cached per request (not on ``g``: an app context may outlive several requests).
    cache = request.environ
    if "praho.staff" not in cache:
        cache["praho.staff"] = _load_staff()
    return cache["praho.staff"]  # type: ignore[no-any-return]


def _load_staff() -> StaffUser | None:
    staff_id = session.get("staff_id")
    if staff_id is None:
        return None
    now = utcnow()
    lifetime = int(current_app.config.get("SESSION_LIFETIME_MINUTES") or 480) * 60
    idle = int(current_app.config.get("ADMIN_IDLE_MINUTES") or 60) * 60
    auth_at = float(session.get("auth_at", 0))
    seen_at = float(session.get("seen_at", 0))
    if now.timestamp() - auth_at > lifetime or now.timestamp() - seen_at > idle:
        _end_session()
        request.environ["praho.session_expired"] = True
        return None
    user = _db_session().get(StaffUser, staff_id)
    if user is None or not user.active or user.session_version != session.get("staff_version"):
        _end_session()
        return None
    session["seen_at"] = now.timestamp()
    return user


def has_role(roles: Iterable[StaffRole]) -> bool:
    """True when the logged-in user has one of ``roles``."""
    user = current_staff()
    return user is not None and StaffRole(user.role) in set(roles)


def login_redirect() -> Any:
    """Send the browser to the login page, remembering where it wanted to go."""
    message = (
        "Your session expired; please log in again."
        if request.environ.get("praho.session_expired")
        else "Please log in."
    )
    flash(gettext(message), "warning")
    return redirect(url_for("praho_auth.login", next=request.full_path.rstrip("?")))


def require_role(roles: Iterable[StaffRole]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an admin view method or function: 403 unless the user has one of ``roles``.

    Checked on the server for every request, whatever the page showed.
    """
    allowed = frozenset(roles)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_staff()
            if user is None:
                return login_redirect()
            if StaffRole(user.role) not in allowed:
                abort(403, gettext("You do not have the role needed for this action."))
            return view(*args, **kwargs)

        wrapper.praho_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an absolute URL (open redirect).
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("admin.index")


def _account_key() -> str:
    # The e-mail tried, hashed: the limiter's storage never holds addresses in clear.
    email = (request.form.get("email") or "").strip().lower()[:254]
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _account_limit() -> str:
    return str(current_app.config.get("RATELIMIT_LOGIN_ACCOUNT") or "20 per hour")


@auth_blueprint.route("/login", methods=["GET", "POST"])
@login_limit
# Per account too: a password guessed from many addresses still hits this limit.
@limiter.limit(_account_limit, key_func=_account_key, scope="login_account", methods=["POST"])
def login() -> Any:
    """Show the login form; on POST check the credentials and open a fresh session."""
    error = None
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        database = current_app.extensions["praho.db"]
        with database.transaction() as db_session:
            user = authenticate(db_session, email, password)
            if user is not None:
                # A new session on login (no fixation); the language choice survives.
                language = session.get("lang") or user.language
                session.clear()
                session.permanent = True
                now = datetime.now(UTC).timestamp()
                session.update(
                    staff_id=user.id,
                    staff_version=user.session_version,
                    auth_at=now,
                    seen_at=now,
                    lang=language,
                )
        if user is not None:
            return redirect(_safe_next(request.args.get("next")))
        error = gettext("Invalid e-mail or password.")
        current_app.logger.info(
            "admin login refused for %s from %s", email[:80], request.remote_addr
        )
    return render_template("praho_admin/login.html", error=error, csp_nonce=csp_nonce, _=gettext), (
        401 if error else 200
    )


@auth_blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    """End the session (POST only, CSRF-checked, so a link elsewhere cannot log you out)."""
    _end_session()
    return redirect(url_for("praho_auth.login"))


@auth_blueprint.route("/language/<code>", methods=["POST"])
def set_language(code: str) -> Any:
    """Switch the interface language for this browser session."""
    if code not in LANGUAGES:
        abort(400, f"language: {code!r} is not one of {', '.join(LANGUAGES)}")
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))

"""The base of every back-office list: login required, read-only, search, filters, CSV export,
and record actions that call the core services.

A view is a small class: the model, the columns, and a list of :class:`Action` (POST,
role-checked, one transaction, one service call) and :class:`Download` (GET, read-only).
Plugins subclass :class:`PrahoModelView` and return instances from
``register_admin_views``; see docs/admin.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.contrib.sqla import ModelView
from praho.admin.auth import MONEY, READ, current_staff, has_role, login_redirect
from praho.admin.i18n import (
    current_language,
    flask_admin_gettext,
    flask_admin_ngettext,
    gettext,
    lazy,
)
from praho.admin.models import StaffRole, StaffUser
from praho.admin.staff import add_note, notes_for, staff_actor
from praho.admin.views.filters import PrahoFilterConverter
from praho.core.clock import utcnow
from praho.core.errors import PrahoError
from praho.core.money import format_amount
from praho.core.services.audit import Actor
from sqlalchemy.orm import Session

# Spreadsheets run cells starting with these as formulas (CSV injection); exports
# prefix such text values with an apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class FormField:
    """One input of an action form: ``kind`` is text, textarea, checkbox, amount or select."""

    name: str
    label: str
    kind: str = "text"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    suffix: str = ""


@dataclass
class ActionContext:
    """What an action handler gets: its own transaction's session, the object, the form."""

    session: Session
    obj: Any
    form: dict[str, str]
    user: StaffUser
    actor: Actor
    now: datetime


@dataclass(frozen=True)
class Action:
    """A POST operation on one record; ``run`` calls one service and returns a message.

    ``run`` may also return a Flask response (e.g. a redirect to a new credit note).
    ``preview`` returns rows ``(label, value)`` shown before confirming; it runs in a
    transaction that is always rolled back.
    """

    name: str
    label: str
    run: Callable[[ActionContext], Any]
    roles: frozenset[StaffRole] = MONEY
    applies: Callable[[Any], bool] = lambda _obj: True
    fields: tuple[FormField, ...] = ()
    preview: Callable[[ActionContext], list[tuple[str, str]]] | None = None
    style: str = "primary"


@dataclass(frozen=True)
class Download:
    """A GET that produces a file from a record (PDF, XML); reads only."""

    name: str
    label: str
    produce: Callable[[Session, Any], tuple[bytes, str, str]]
    roles: frozenset[StaffRole] = READ
    applies: Callable[[Any], bool] = lambda _obj: True


def money(amount_field: str, currency_field: str = "currency") -> Callable[..., str]:
    """A column formatter printing ``<amount_field>`` (minor units) in the record's currency."""

    def formatter(_view: Any, _context: Any, model: Any, _name: str) -> str:
        amount = getattr(model, amount_field)
        if amount is None:
            return ""
        currency = getattr(model, currency_field) or "RON"
        return f"{format_amount(amount, currency, current_language())} {currency}"

    return formatter


class SecureViewMixin:
    """Login required; translated chrome; CSP nonce and roles for the templates."""

    roles_to_view: frozenset[StaffRole] = READ

    def is_accessible(self) -> bool:
        """Logged in with a role that may see this view."""
        return has_role(self.roles_to_view)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        """Anonymous: to the login page; logged in without the role: 403."""
        if current_staff() is None:
            return login_redirect()
        abort(403)

    def render(self, template: str, **kwargs: Any) -> Any:
        """Render with our translations (Flask-Admin's own strings too) and the user."""
        self._template_args.update(  # type: ignore[attr-defined]
            _gettext=flask_admin_gettext,
            _ngettext=flask_admin_ngettext,
            _=gettext,
            staff=current_staff(),
            has_role=has_role,
        )
        return super().render(template, **kwargs)  # type: ignore[misc]


class PrahoBaseView(SecureViewMixin, BaseView):
    """A plain page (dashboard, forms) behind the login."""


class PrahoModelView(SecureViewMixin, ModelView):
    """A read-only list with search, filters, details, CSV export, actions and notes.

    Nothing is created, edited or deleted through the generic forms: writes go
    through :attr:`actions` only, so issued documents, ledger entries and audit
    events cannot be changed from the UI.
    """

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    export_max_rows = 100_000
    page_size = 50
    can_set_page_size = True
    details_template = "praho_admin/details.html"
    list_template = "praho_admin/list.html"
    # Flask-Admin's bulk actions use inline onclick handlers (blocked by our CSP) and
    # would bypass the per-record role checks: off.
    action_disallowed_list = ["delete"]
    column_display_actions = True

    filter_converter = PrahoFilterConverter()
    actions: Sequence[Action] = ()
    downloads: Sequence[Download] = ()
    # ``customer``, ``invoice`` or ``subscription`` to show and accept staff notes.
    notes_object: str | None = None

    def __init__(
        self,
        model: Any,
        session: Any,
        *,
        name: str,
        category: str | None = None,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        with warnings.catch_warnings():
            # Flask-Admin 2.2 prefers a Flask-SQLAlchemy object; we own a plain scoped session.
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__(
                model,
                session,
                name=lazy(name),  # type: ignore[arg-type]
                category=lazy(category) if category else None,  # type: ignore[arg-type]
                endpoint=endpoint,
                **kwargs,
            )

    # --- labels: translated when rendered (Flask-Admin caches the column lists) ----

    def get_list_columns(self) -> list[tuple[Any, Any]]:
        """List columns with labels translated per request."""
        return [(c, lazy(str(name))) for c, name in super().get_list_columns()]

    def get_details_columns(self) -> list[tuple[Any, Any]]:
        """Details rows with labels translated per request."""
        return [(c, lazy(str(name))) for c, name in super().get_details_columns()]

    # --- export -------------------------------------------------------------------

    def get_export_value(self, model: Any, name: str) -> Any:
        """The cell as text, neutralised against spreadsheet formula injection."""
        value = super().get_export_value(model, name)
        if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
            return "'" + value
        return value

    # --- actions ------------------------------------------------------------------

    def available_actions(self, obj: Any) -> list[Action]:
        """Actions that apply to ``obj`` and that the current user may run."""
        return [a for a in self.actions if a.applies(obj) and has_role(a.roles)]

    def available_downloads(self, obj: Any) -> list[Download]:
        """Downloads that apply to ``obj`` for the current user."""
        return [d for d in self.downloads if d.applies(obj) and has_role(d.roles)]

    def _find(self, items: Iterable[Any], name: str) -> Any:
        for item in items:
            if item.name == name:
                return item
        abort(404)

    def _load(self, session: Session, record_id: str | None) -> Any:
        try:
            key = int(record_id or "")
        except ValueError:
            abort(400, "id: must be a whole number")
        obj = session.get(self.model, key)
        if obj is None:
            abort(404)
        return obj

    def _details_url(self, record_id: Any) -> str:
        return url_for(".details_view", id=record_id)

    def _context(self, session: Session, obj: Any) -> ActionContext:
        user = current_staff()
        assert user is not None
        form = {k: v for k, v in request.form.items() if k != "csrf_token"}
        return ActionContext(session, obj, form, user, staff_actor(user), utcnow())

    @expose("/record-action/<action_name>/", methods=("GET", "POST"))
    def record_action_view(self, action_name: str) -> Any:
        """GET: the action's form and preview. POST: run it (role checked here, always)."""
        action: Action = self._find(self.actions, action_name)
        user = current_staff()
        if user is None:
            return login_redirect()
        if StaffRole(user.role) not in action.roles:
            abort(403, gettext("You do not have the role needed for this action."))
        record_id = request.values.get("id")
        database = current_app.extensions["praho.db"]
        if request.method == "POST":
            try:
                with database.transaction() as session:
                    obj = self._load(session, record_id)
                    if not action.applies(obj):
                        raise PrahoError(f"{action.name} does not apply to this record now")
                    result = action.run(self._context(session, obj))
            except PrahoError as error:
                flash(f"{gettext('The action was refused')}: {error.message}", "error")
                return redirect(
                    url_for(".record_action_view", action_name=action_name, id=record_id)
                )
            if isinstance(result, Response):
                return result
            flash(result or gettext("Done."), "success")
            return redirect(self._details_url(record_id))
        session = database.session_factory()
        try:
            obj = self._load(session, record_id)
            rows: list[tuple[str, str]] = []
            preview_error = None
            if action.preview is not None:
                try:
                    rows = action.preview(self._context(session, obj))
                except PrahoError as exc:
                    preview_error = exc.message
            return self.render(
                "praho_admin/action.html",
                action=action,
                obj=obj,
                record_id=record_id,
                preview_rows=rows,
                preview_error=preview_error,
                return_url=self._details_url(record_id),
            )
        finally:
            session.rollback()
            session.close()

    @expose("/download/<download_name>/")
    def download_view(self, download_name: str) -> Any:
        """Send a file made from the record (read-only; roles checked)."""
        download: Download = self._find(self.downloads, download_name)
        if not has_role(download.roles):
            abort(403)
        database = current_app.extensions["praho.db"]
        session = database.session_factory()
        try:
            obj = self._load(session, request.args.get("id"))
            if not download.applies(obj):
                abort(404)
            try:
                content, mimetype, filename = download.produce(session, obj)
            except PrahoError as error:
                flash(f"{gettext('The action was refused')}: {error.message}", "error")
                return redirect(self._details_url(obj.id))
        finally:
            session.rollback()
            session.close()
        response = Response(content, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @expose("/note/", methods=("POST",))
    def note_view(self) -> Any:
        """Append a staff note to the record (every role may)."""
        if self.notes_object is None:
            abort(404)
        user = current_staff()
        if user is None:
            return login_redirect()
        record_id = request.form.get("id")
        database = current_app.extensions["praho.db"]
        try:
            with database.transaction() as session:
                obj = self._load(session, record_id)
                author = session.get(StaffUser, user.id)
                add_note(
                    session,
                    author,
                    object_type=self.notes_object,
                    object_id=obj.id,
                    body=request.form.get("body", ""),
                    now=utcnow(),
                )
        except PrahoError as error:
            flash(f"{gettext('The action was refused')}: {error.message}", "error")
        return redirect(self._details_url(record_id))

    @expose("/details/")
    def details_view(self) -> Any:
        """Flask-Admin's details page plus actions, downloads and notes."""
        record_id = request.args.get("id")
        obj = self.get_one(record_id) if record_id else None
        if obj is not None:
            self._template_args.update(  # type: ignore[attr-defined]
                record_actions=self.available_actions(obj),
                record_downloads=self.available_downloads(obj),
                record_notes=(
                    notes_for(self.session, self.notes_object, obj.id)
                    if self.notes_object
                    else None
                ),
                record_id=obj.id,
                record_extra=self.details_extra(obj),
            )
        return super().details_view()

    def details_extra(self, obj: Any) -> list[tuple[str, list[list[str]], list[str]]]:
        """Extra tables under the details (title, rows, header); override per view."""
        return []


def field_value(form: dict[str, str], name: str) -> str:
    """A trimmed form value ('' when absent)."""
    return (form.get(name) or "").strip()


def checked(form: dict[str, str], name: str) -> bool:
    """A checkbox's value."""
    return form.get(name) in {"on", "1", "true", "yes"}


@dataclass
class Panel:
    """One dashboard box contributed by a view: a title, a header and rows of text."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    link: str | None = None

"""The base of every back-office list: login required, read-only, search, filters, CSV export,
and record actions that call the core services.

A view is a small class: the model, the columns, and a list of :class:`Action` (POST,
role-checked, one transaction, one service call) and :class:`Download` (GET, read-only).
Plugins subclass :class:`PrahoModelView` and return instances from
``register_admin_views``; see docs/admin.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin._compat import csv_encode
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
from praho.core.errors import FieldError, IdempotencyConflict, PrahoError
from praho.core.money import (
    AmountInputError,
    format_amount,
    parse_amount_input,
    parse_decimal_input,
    to_major,
)
from praho.core.services.audit import Actor
from praho.core.services.idempotency import run_once
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

# Spreadsheets run cells starting with these as formulas (CSV injection); exports
# prefix such text values with an apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A plain signed decimal (-80.00) is read as a number, never as a formula: left as is so
# exported amounts stay machine-readable.
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")

# The hidden field carrying a form's single-use key (see PrahoModelView._claim_form).
FORM_KEY_FIELD = "form_key"
# Form fields that are not the action's parameters.
_NOT_PARAMETERS = frozenset({"csrf_token", FORM_KEY_FIELD})


ALREADY_SENT_WITH_OTHER_VALUES = (
    "This form was already sent with other values; open the action again to send new values."
)


def new_form_key() -> str:
    """A fresh single-use key for a form being rendered (unguessable, URL-safe)."""
    return secrets.token_urlsafe(24)


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


def money_text(minor: int, currency: str) -> str:
    """An amount as staff read it: in their language, then the currency code."""
    return f"{format_amount(minor, currency, current_language())} {currency}"


def money(amount_field: str, currency_field: str = "currency") -> Callable[..., str]:
    """A column formatter printing ``<amount_field>`` (minor units) in the record's currency."""

    def formatter(_view: Any, _context: Any, model: Any, _name: str) -> str:
        amount = getattr(model, amount_field)
        if amount is None:
            return ""
        return money_text(amount, getattr(model, currency_field) or "RON")

    return formatter


def money_export(amount_field: str, currency_field: str = "currency") -> Callable[..., str]:
    """A CSV formatter: major units as a plain decimal (``2420.00``), whatever the language.

    Spreadsheets and accounting imports read it as a number; the currency is its own column.
    """

    def export_formatter(_view: Any, _context: Any, model: Any, _name: str) -> str:
        amount = getattr(model, amount_field)
        if amount is None:
            return ""
        return str(to_major(amount, getattr(model, currency_field) or "RON"))

    return export_formatter


def money_by_currency(field_name: str) -> Callable[..., str]:
    """A column formatter for ``{"RON": 5000, "EUR": 1000}`` (minor units per currency)."""

    def formatter(_view: Any, _context: Any, model: Any, _name: str) -> str:
        amounts = getattr(model, field_name) or {}
        return ", ".join(money_text(int(minor), code) for code, minor in sorted(amounts.items()))

    return formatter


def money_by_currency_export(field_name: str) -> Callable[..., str]:
    """A CSV formatter for amounts per currency: JSON of major-unit decimal strings."""

    def export_formatter(_view: Any, _context: Any, model: Any, _name: str) -> str:
        amounts = getattr(model, field_name) or {}
        major = {code: str(to_major(int(minor), code)) for code, minor in amounts.items()}
        return json.dumps(major, sort_keys=True) if major else ""

    return export_formatter


def amount_input(
    ctx: ActionContext,
    name: str,
    *,
    currency: str,
    required: bool = True,
) -> int | None:
    """The amount staff typed in field ``name``, in minor units of ``currency``.

    Read strictly (:func:`praho.core.money.parse_amount_input`): an ambiguous ``1.500`` or
    an over-precise ``10,005`` is a form error, never a guess or a rounding. Empty gives
    None when the field is optional.
    """
    text = field_value(ctx.form, name)
    if not text and not required:
        return None
    try:
        return parse_amount_input(text, currency)
    except AmountInputError as error:
        raise FieldError(name, str(error)) from None


def unit_price_input(ctx: ActionContext, name: str) -> Any:
    """A unit price typed by staff (up to 6 decimals, below one minor unit), read strictly."""
    try:
        return parse_decimal_input(field_value(ctx.form, name), max_decimals=6)
    except AmountInputError as error:
        raise FieldError(name, str(error)) from None


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
    # Money columns (minor units) and the attribute holding each one's currency: lists
    # and details show them formatted in the user's language, CSV exports as plain
    # major-unit decimals next to a currency column (added when the list has none).
    money_columns: dict[str, str] = {}
    # Columns holding ``{"RON": 5000}`` (minor units per currency), e.g. coupon amounts.
    money_by_currency_columns: tuple[str, ...] = ()

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
        self._install_money_formatters()
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

    def _install_money_formatters(self) -> None:
        """Formatters for :attr:`money_columns`; a view's own formatters take precedence."""
        listed: dict[str, Any] = {k: money(k, c) for k, c in self.money_columns.items()}
        exported: dict[str, Any] = {k: money_export(k, c) for k, c in self.money_columns.items()}
        for name in self.money_by_currency_columns:
            listed[name] = money_by_currency(name)
            exported[name] = money_by_currency_export(name)
        self.column_formatters = {**listed, **dict(self.column_formatters or {})}
        self.column_formatters_export = {**exported, **dict(self.column_formatters_export or {})}

    # --- labels: translated when rendered (Flask-Admin caches the column lists) ----

    def get_list_columns(self) -> list[tuple[Any, Any]]:
        """List columns with labels translated per request."""
        return [(c, lazy(str(name))) for c, name in super().get_list_columns()]

    def get_details_columns(self) -> list[tuple[Any, Any]]:
        """Details rows with labels translated per request."""
        return [(c, lazy(str(name))) for c, name in super().get_details_columns()]

    # --- export -------------------------------------------------------------------

    def get_export_columns(self) -> list[tuple[Any, Any]]:
        """The exported columns, plus the currency of every exported money column."""
        columns = list(super().get_export_columns())
        names = {name for name, _label in columns}
        for amount, currency in self.money_columns.items():
            if amount in names and currency not in names:
                columns += self.get_column_names(only_columns=[currency], excluded_columns=None)
                names.add(currency)
        return columns

    def _export_csv(self, return_url: Any) -> Any:
        """The CSV, built completely before the view returns.

        Flask-Admin streams rows from a generator that runs after the request's
        teardown has removed the session: any attribute not loaded yet (a relation such
        as ``entry.kind``) then raises DetachedInstanceError and the download silently
        stops after the header. Every cell is computed here, while the session is open;
        queries eager-load what the columns print (see ``get_query``) so this is one
        query, not one per row.
        """
        _count, data = self._export_data()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([csv_encode(label) for _name, label in self._export_columns])
        for row in data:
            writer.writerow(
                [csv_encode(self.get_export_value(row, name)) for name, _ in self._export_columns]
            )
        filename = secure_filename(self.get_export_name(export_type="csv"))
        return Response(
            buffer.getvalue(),
            headers={"Content-Disposition": f"attachment;filename={filename}"},
            mimetype="text/csv",
        )

    def get_export_value(self, model: Any, name: str) -> Any:
        """The cell as text, neutralised against spreadsheet formula injection."""
        value = super().get_export_value(model, name)
        if (
            isinstance(value, str)
            and value.startswith(FORMULA_PREFIXES)
            and not PLAIN_NUMBER.fullmatch(value)
        ):
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
        form = {k: v for k, v in request.form.items() if k not in _NOT_PARAMETERS}
        return ActionContext(session, obj, form, user, staff_actor(user), utcnow())

    def _form_claim(self, user: StaffUser, name: str, record_id: Any) -> tuple[str, dict[str, Any]]:
        """The idempotency key and parameters of the posted form.

        The key is the form's single-use key scoped to the staff user, this view, the
        action and the record; the parameters are what was typed (the same key with other
        values is refused). A POST without the form's key (a script) is keyed by its CSRF
        token, which is the same when the request is sent again.
        """
        form_key = request.form.get(FORM_KEY_FIELD) or request.form.get("csrf_token") or ""
        scope = f"{self.endpoint}|{name}|{record_id}|{form_key}"
        key = f"admin:{user.id}:{hashlib.sha256(scope.encode()).hexdigest()}"
        params = {
            "view": self.endpoint,
            "name": name,
            "id": str(record_id),
            "form": {k: v for k, v in request.form.items() if k not in _NOT_PARAMETERS},
        }
        return key, params

    def _run_once(
        self,
        operation: str,
        name: str,
        record_id: Any,
        work: Callable[[Session], dict[str, str]],
    ) -> tuple[dict[str, str], bool]:
        """Run ``work`` once per rendered form; returns (response, True) when it ran.

        A form sent again (double click, resubmit, retry after a lost answer) replays
        what the first submission answered (``work``'s dict: message and location) and
        runs nothing: see :func:`praho.core.services.idempotency.run_once`.

        :raises IdempotencyConflict: the key was used with other values; nothing written.
        """
        user = current_staff()
        assert user is not None
        key, params = self._form_claim(user, name, record_id)
        return run_once(current_app.extensions["praho.db"], key=key, operation=operation,
                        params=params, work=work, now=utcnow())

    def _replayed(self, response: dict[str, str], fallback_url: str) -> Any:
        """Answer a form sent again: what the first submission did, nothing run twice."""
        first = response.get("message")
        message = gettext("This form was already sent; the action was not run again.")
        flash(f"{message} {first}" if first else message, "warning")
        return redirect(response.get("location") or fallback_url)

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
        form_url = url_for(".record_action_view", action_name=action_name, id=record_id)
        details_url = self._details_url(record_id)
        if request.method == "POST":
            produced: list[Response] = []

            def work(session: Session) -> dict[str, str]:
                obj = self._load(session, record_id)
                if not action.applies(obj):
                    raise PrahoError(f"{action.name} does not apply to this record now")
                result = action.run(self._context(session, obj))
                if isinstance(result, Response):
                    produced.append(result)
                    return {"message": "", "location": result.location or details_url}
                return {"message": str(result or gettext("Done.")), "location": details_url}

            try:
                response, first = self._run_once("admin.action", action.name, record_id, work)
            except IdempotencyConflict:
                flash(gettext(ALREADY_SENT_WITH_OTHER_VALUES), "error")
                return redirect(form_url)
            except PrahoError as error:
                flash(f"{gettext('The action was refused')}: {error.message}", "error")
                return redirect(form_url)
            if not first:
                return self._replayed(response, details_url)
            if produced:
                return produced[0]
            flash(response["message"], "success")
            return redirect(response["location"])
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
                form_key=new_form_key(),
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
        details_url = self._details_url(record_id)

        def work(session: Session) -> dict[str, str]:
            obj = self._load(session, record_id)
            add_note(
                session,
                session.get(StaffUser, user.id),
                object_type=self.notes_object,
                object_id=obj.id,
                body=request.form.get("body", ""),
                now=utcnow(),
            )
            return {"message": "", "location": details_url}

        try:
            # Notes are append-only: a note sent twice would stay twice.
            response, first = self._run_once("admin.note", "note", record_id, work)
        except IdempotencyConflict:
            flash(gettext(ALREADY_SENT_WITH_OTHER_VALUES), "error")
            return redirect(details_url)
        except PrahoError as error:
            flash(f"{gettext('The action was refused')}: {error.message}", "error")
            return redirect(details_url)
        if not first:
            return self._replayed(response, details_url)
        return redirect(details_url)

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
                form_key=new_form_key(),
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

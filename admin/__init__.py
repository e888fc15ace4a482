"""The PRAHO back office (Flask-Admin 2), mounted at /admin by ``create_app``.

:func:`init_admin` builds the :class:`flask_admin.Admin` with the dashboard, the core
lists, every view plugins return from ``register_admin_views``, the login blueprint,
CSRF and security headers, and the ``praho admin`` commands.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

ADMIN_URL = "/admin"


def core_views(session: Any) -> list[Any]:
    """The lists the core provides (plugins add theirs through ``register_admin_views``)."""
    from praho.admin.views.customers import CustomerView
    from praho.admin.views.documents import CreditNoteView, InvoiceView, ProformaView
    from praho.admin.views.records import (
        AuditEventView,
        CreditMovementView,
        PaymentView,
        StaffUserView,
        WebhookEventView,
    )
    from praho.admin.views.refunds import RefundView
    from praho.admin.views.subscriptions import SubscriptionView
    from praho.core.models import (
        AuditEvent,
        Customer,
        Invoice,
        JournalLine,
        Subscription,
        WebhookEvent,
    )
    from praho.core.models.payments import Payment
    from praho.core.models.refunds import Refund

    return [
        CustomerView(Customer, session, name="Customers", endpoint="customers"),
        SubscriptionView(Subscription, session, name="Subscriptions", endpoint="subscriptions"),
        InvoiceView(Invoice, session, name="Invoices", endpoint="invoices", category="Documents"),
        ProformaView(
            Invoice, session, name="Proformas", endpoint="proformas", category="Documents"
        ),
        CreditNoteView(
            Invoice, session, name="Credit notes", endpoint="credit_notes", category="Documents"
        ),
        PaymentView(Payment, session, name="Payments", endpoint="payments", category="Money"),
        RefundView(Refund, session, name="Refunds", endpoint="refunds", category="Money"),
        CreditMovementView(
            JournalLine,
            session,
            name="Credit movements",
            endpoint="credit_movements",
            category="Money",
        ),
        WebhookEventView(
            WebhookEvent,
            session,
            name="Webhook events",
            endpoint="webhook_events",
            category="System",
        ),
        AuditEventView(
            AuditEvent, session, name="Audit events", endpoint="audit_events", category="System"
        ),
        StaffUserView(session, name="Staff users", endpoint="staff_users", category="System"),
    ]


def init_admin(app: Flask, registry: Any) -> Admin:
    """Mount the back office on ``app``; plugin views come from ``register_admin_views``."""
    import praho.admin.models  # noqa: F401 - the staff tables belong to the metadata
    from praho.admin.auth import auth_blueprint
    from praho.admin.cli import admin_group
    from praho.admin.security import csp_nonce, install_security
    from praho.admin.views.dashboard import DashboardView

    install_security(app, prefix=ADMIN_URL)
    app.register_blueprint(auth_blueprint)
    database = app.extensions["praho.db"]
    session = database.session

    @app.teardown_request
    def _end_admin_session(_exc: BaseException | None) -> None:
        # One session per request even when an app context spans several (tests,
        # embedding): the lists must never show another request's snapshot.
        database.remove()

    admin = Admin(
        app,
        name="PRAHO",
        url=ADMIN_URL,
        index_view=DashboardView(name="Dashboard", url=ADMIN_URL, endpoint="admin"),
        theme=Bootstrap4Theme(base_template="praho_admin/base.html", fluid=True),
        csp_nonce_generator=csp_nonce,
    )
    for view in core_views(session):
        admin.add_view(view)
    for view in registry.collect("register_admin_views", admin=admin, session=session):
        admin.add_view(view)
    app.extensions["praho.admin"] = admin
    app.cli.add_command(admin_group)
    return admin

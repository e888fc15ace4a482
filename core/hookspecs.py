"""Every hook a PRAHO plugin can implement.

Plugins import one name, ``hookimpl``, from :mod:`praho.core.hookspecs` and decorate
module-level functions. Hooks are always called with keyword arguments, so an
implementation may accept fewer arguments than the spec. ``register_*`` hooks return
lists of objects the core owns and dispatches by id; ``resolve_*`` hooks stop at the
first non-None result; event hooks are named in the past tense and return nothing.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "praho"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------
# Start-up: what a plugin adds to the application
# ---------------------------------------------------------------------------


@hookspec
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Receive the plugin's own settings from plugin_manifest.toml, once, at start-up.

    :param app: the Flask application being created.
    :param name: the plugin's name in the manifest.
    :param settings: its settings, environment references already resolved.

    Raise :class:`praho.core.errors.PluginError` for a missing or invalid setting; the
    application then refuses to start with that message.
    """


@hookspec
def register_blueprints(app: Any) -> list[Any]:
    """Return Flask blueprints to mount (webhook receivers, APIs).

    :param app: the Flask application.
    :return: a list of :class:`flask.Blueprint`.
    """


@hookspec
def register_cli_commands() -> list[Any]:
    """Return click commands or groups to add under the ``praho`` command.

    :return: a list of :class:`click.Command`.
    """


@hookspec
def register_periodic_tasks(app: Any) -> list[Any]:
    """Return entries for the Celery beat schedule.

    :param app: the Flask application.
    :return: a list of :class:`praho.core.tasks.PeriodicTask`.
    """


@hookspec
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """Return Flask-Admin views for the plugin's own models and actions.

    :param admin: the :class:`flask_admin.Admin` instance.
    :param session: the scoped SQLAlchemy session the views must use.
    :return: a list of views (already instantiated).
    """


@hookspec
def register_templates() -> list[Any]:
    """Return Jinja loaders for the plugin's e-mail and document templates.

    :return: a list of :class:`jinja2.BaseLoader`, searched after the core's templates.
    """


# ---------------------------------------------------------------------------
# Tax, currency and documents
# ---------------------------------------------------------------------------


@hookspec
def register_tax_regimes() -> list[Any]:
    """Return tax regimes; a seller's ``tax_regime`` names the one that decides its VAT.

    :return: objects implementing :class:`praho.core.tax.TaxRegime` (``id`` and ``decide``).
    """


@hookspec(firstresult=True)
def resolve_exchange_rate(session: Any, currency: str, on_date: Any) -> Any:
    """Return the exchange rate RON per unit of ``currency`` applicable on ``on_date``.

    :param session: the database session.
    :param currency: an ISO 4217 code other than RON.
    :param on_date: the document's tax point (a :class:`datetime.date`).
    :return: a :class:`praho.core.tax.ExchangeRateQuote`, or None to let another plugin answer.

    Stops at the first non-None result.
    """


@hookspec
def register_einvoice_formats() -> list[Any]:
    """Return electronic invoice formats (UBL CIUS-RO, ...), dispatched by ``id``.

    :return: objects with ``id``, ``render(document) -> bytes`` and ``validate(xml) -> list``.
    """


@hookspec
def validate_document_action(session: Any, document: Any, action: str) -> list[str]:
    """Veto an action on a document (``void``, ``credit``) with reasons.

    :param session: the database session.
    :param document: the :class:`praho.core.models.Invoice`.
    :param action: ``void`` or ``credit``.
    :return: a list of human-readable reasons; any non-empty list refuses the action.
    """


@hookspec
def invoice_issued(session: Any, invoice: Any) -> None:
    """An invoice, proforma or credit note was issued (numbered and frozen).

    :param session: the database session (inside the issuing transaction).
    :param invoice: the issued :class:`praho.core.models.Invoice` (any kind).
    """


@hookspec
def invoices_issued(session: Any, invoices: list[Any]) -> None:
    """Many documents were issued together, in one transaction (a billing-run chunk).

    A plugin implementing this hook receives the whole batch here and is *not* called
    with ``invoice_issued`` for these documents, so it can write its own rows in bulk
    (:func:`praho.core.services.bulk_sql.insert_rows`) instead of one ORM object each.
    Plugins implementing only ``invoice_issued`` are still called once per document.
    Documents issued one at a time (back office, orders, credit notes) always go
    through ``invoice_issued``, so a plugin implementing this hook implements both.

    :param session: the database session (inside the issuing transaction).
    :param invoices: the issued :class:`praho.core.models.Invoice` objects, in issue order.
    """


@hookspec
def invoice_voided(session: Any, invoice: Any) -> None:
    """An issued document was voided; its number stays used.

    :param session: the database session.
    :param invoice: the voided document.
    """


@hookspec
def invoice_paid(session: Any, invoice: Any) -> None:
    """A document reached payment status paid (or overpaid).

    :param session: the database session.
    :param invoice: the paid document.
    """


# ---------------------------------------------------------------------------
# Payments and webhooks
# ---------------------------------------------------------------------------


@hookspec
def register_payment_gateways() -> list[Any]:
    """Return payment gateways, dispatched by ``id`` (``stripe``, ``paypal``, ``fake``).

    :return: objects implementing :class:`praho.core.payments.gateway.PaymentGateway`.
    """


@hookspec
def register_webhook_sources() -> list[Any]:
    """Return webhook sources (verifier + parser + handlers) mounted at ``/webhooks/<id>``.

    :return: objects implementing :class:`praho.core.webhooks.source.WebhookSource`.
    """


@hookspec
def payment_succeeded(session: Any, payment: Any) -> None:
    """Money was received and allocated.

    :param session: the database session.
    :param payment: the :class:`Payment`.
    """


@hookspec
def payment_failed(session: Any, attempt: Any) -> None:
    """A payment attempt failed (declined, error).

    :param session: the database session.
    :param attempt: the failed payment attempt.
    """


@hookspec
def refund_completed(session: Any, refund: Any) -> None:
    """A refund was completed by the gateway or recorded as paid out.

    :param session: the database session.
    :param refund: the :class:`Refund`.
    """


# ---------------------------------------------------------------------------
# Subscriptions and pricing
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def resolve_subscription_price(session: Any, subscription: Any, item: Any, period_start: Any,
                               now: Any) -> Any:
    """Return the unit price for one subscription item's renewal, before the catalog's.

    Grandfathering and promotional pricing answer here; when every plugin returns None
    the core uses the price version effective at ``period_start``.

    :param session: the database session.
    :param subscription: the subscription being renewed.
    :param item: the subscription item (price and quantity); when a plan, quantity or
        add-on change is priced for proration, a proposed item not stored yet (``id`` None).
    :param period_start: the first day of the period being billed.
    :param now: the current instant.
    :return: a :class:`praho.core.pricing.ResolvedPrice` or None. Stops at first non-None result.
    """


@hookspec
def collect_renewal_charges(session: Any, subscription: Any, period_start: Any, period_end: Any,
                            invoice: Any, now: Any) -> list[Any]:
    """Return extra lines for a renewal document (usage in arrears, adjustments).

    :param session: the database session.
    :param subscription: the subscription being billed.
    :param period_start: first day of the period billed in advance.
    :param period_end: last day (exclusive) of that period.
    :param invoice: the draft being built: a
        :class:`praho.core.services.billing_issue.DraftDocument`, in memory, with the
        attributes of an Invoice and ``id`` None (the issued document arrives through
        ``invoice_issued`` and ``subscription_renewed``). Also called by previews, inside
        a savepoint that is rolled back.
    :param now: the current instant.
    :return: a list of :class:`praho.core.pricing.DraftLine`.
    """


@hookspec
def collect_renewal_allowances(session: Any, subscription: Any, invoice: Any, now: Any) -> list[Any]:
    """Return discounts (allowances) for a renewal document, applied after all lines.

    :param session: the database session.
    :param subscription: the subscription being billed.
    :param invoice: the draft with its lines (VAT decided), as in ``collect_renewal_charges``.
    :param now: the current instant.
    :return: a list of :class:`praho.core.pricing.DraftAllowance`.
    """


@hookspec
def collect_final_charges(
    session: Any, subscription: Any, end_date: Any, invoice: Any, now: Any
) -> list[Any]:
    """Return the lines still owed when a subscription ends (usage billed in arrears).

    Called when a subscription is cancelled now, terminated, or when its cancellation at
    period end takes effect; the lines go on its final document with any proration lines
    still waiting. Nothing may be written here (the draft may be rolled back).

    :param session: the database session.
    :param subscription: the ending subscription (still in its last status).
    :param end_date: the first day not owed: the period end for a cancellation at period
        end, the day after the cancellation or termination otherwise.
    :param invoice: the final draft, in the database, without lines yet.
    :param now: the current instant.
    :return: a list of :class:`praho.core.pricing.DraftLine`.
    """


@hookspec
def subscription_final_invoiced(
    session: Any, subscription: Any, invoice: Any, end_date: Any
) -> None:
    """The final document of an ending subscription was issued (record what it billed).

    :param session: the database session (inside the ending transaction).
    :param subscription: the ending subscription.
    :param invoice: the issued final document.
    :param end_date: the ``end_date`` given to ``collect_final_charges``.
    """


@hookspec
def subscription_activated(session: Any, subscription: Any) -> None:
    """A subscription became active for the first time (provision the service).

    :param session: the database session.
    :param subscription: the subscription.
    """


@hookspec
def subscription_renewed(session: Any, subscription: Any, invoice: Any) -> None:
    """A subscription moved to its next period and its document was issued.

    Fires for every period document of the billing run, the first period's included,
    inside the run's transaction (after ``invoice_issued``).

    :param session: the database session.
    :param subscription: the subscription.
    :param invoice: the renewal document.
    """


@hookspec
def subscription_suspended(session: Any, subscription: Any, reason: str) -> None:
    """A subscription was suspended (``non_payment``, ``manual``, ...).

    :param session: the database session.
    :param subscription: the subscription.
    :param reason: why.
    """


@hookspec
def subscription_reactivated(session: Any, subscription: Any, reason: str) -> None:
    """A suspended subscription became active again (e.g. the overdue invoice was paid).

    :param session: the database session.
    :param subscription: the subscription.
    :param reason: why.
    """


@hookspec
def subscription_cancelled(session: Any, subscription: Any, at_period_end: bool) -> None:
    """A subscription was cancelled now or scheduled to end at its period end.

    A cancellation at period end fires twice: when scheduled (``at_period_end`` True,
    the service continues) and when the billing run ends it (False: the service ends now).

    :param session: the database session.
    :param subscription: the subscription.
    :param at_period_end: True when the service continues until the period ends.
    """


@hookspec
def subscription_terminated(session: Any, subscription: Any, reason: str) -> None:
    """A subscription ended for good (remove the service after any grace period).

    :param session: the database session.
    :param subscription: the subscription.
    :param reason: why.
    """


@hookspec
def price_changed(session: Any, price: Any, version: Any, now: Any) -> None:
    """A new price version was created for a price (a price change with a date).

    :param session: the database session.
    :param price: the :class:`praho.core.models.Price`.
    :param version: the new :class:`praho.core.models.PriceVersion`.
    :param now: the current instant.
    """


@hookspec
def usage_threshold_reached(session: Any, subscription: Any, meter: Any, alert: Any,
                            quantity: Any, threshold: Any, period_start: Any,
                            period_end: Any) -> None:
    """A usage alert was reached for the first time in a period (fires once per period).

    :param session: the database session (inside the ingestion's transaction).
    :param subscription: the :class:`praho.core.models.Subscription`.
    :param meter: the usage meter (``praho.plugins.usage_metering.models.Meter``).
    :param alert: the alert that fired (threshold quantity or percent of included units).
    :param quantity: the period's quantity so far (a rounded :class:`~decimal.Decimal`).
    :param threshold: the threshold as a quantity.
    :param period_start: first day of the current period.
    :param period_end: first day after it (exclusive).
    """


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------


@hookspec
def customer_created(session: Any, customer: Any) -> None:
    """A customer was created (import, back office, API).

    :param session: the database session.
    :param customer: the :class:`praho.core.models.Customer`.
    """

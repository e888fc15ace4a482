"""Every core model, imported here so the metadata is complete for Alembic and tests."""

from praho.core.models.audit import ActorType, AuditChainHead, AuditEvent
from praho.core.models.billing_runs import (
    BillingOutcome,
    BillingRun,
    BillingRunChunk,
    BillingRunStatus,
    ChunkStatus,
    OutcomeKind,
)
from praho.core.models.catalog import Price, PriceVersion, Product, ProductKind, TaxClass
from praho.core.models.customers import Customer, CustomerKind, CustomerStatus, InvoiceMode
from praho.core.models.invoices import (
    MUTABLE_AFTER_ISSUE,
    DocumentKind,
    DocumentSeries,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    InvoiceTaxSubtotal,
    LineKind,
    PaymentStatus,
    SeriesCounter,
)
from praho.core.models.mail import EmailMessage, EmailStatus
from praho.core.models.ledger import Account, AccountCode, AccountType, JournalEntry, JournalLine
from praho.core.models.orders import Order, OrderLine, OrderStatus, RefundState
from praho.core.models.seller import Seller
from praho.core.models.task_failures import TaskFailure
from praho.core.models.subscriptions import (
    BILLABLE_STATUSES,
    SUBSCRIPTION_TRANSITIONS,
    ItemRole,
    PendingProration,
    Subscription,
    SubscriptionEvent,
    SubscriptionItem,
    SubscriptionPeriod,
    SubscriptionStatus,
    SuspensionReason,
)
from praho.core.models.webhooks import WebhookEvent, WebhookStatus
from praho.core.models.disputes import Dispute, DisputeStatus
from praho.core.models.gateway_refunds import GatewayRefund, GatewayRefundStatus

__all__ = [
    "BILLABLE_STATUSES",
    "MUTABLE_AFTER_ISSUE",
    "SUBSCRIPTION_TRANSITIONS",
    "Account",
    "AccountCode",
    "AccountType",
    "ActorType",
    "AuditChainHead",
    "AuditEvent",
    "BillingOutcome",
    "BillingRun",
    "BillingRunChunk",
    "BillingRunStatus",
    "ChunkStatus",
    "Customer",
    "CustomerKind",
    "CustomerStatus",
    "DocumentKind",
    "DocumentSeries",
    "DocumentStatus",
    "EmailMessage",
    "EmailStatus",
    "Invoice",
    "InvoiceAllowance",
    "InvoiceLine",
    "InvoiceMode",
    "InvoiceTaxSubtotal",
    "ItemRole",
    "JournalEntry",
    "JournalLine",
    "LineKind",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OutcomeKind",
    "PaymentStatus",
    "PendingProration",
    "Price",
    "PriceVersion",
    "Product",
    "ProductKind",
    "RefundState",
    "SeriesCounter",
    "Seller",
    "TaskFailure",
    "Subscription",
    "SubscriptionEvent",
    "SubscriptionItem",
    "SubscriptionPeriod",
    "SubscriptionStatus",
    "SuspensionReason",
    "TaxClass",
    "WebhookEvent",
    "WebhookStatus",
    "Dispute",
    "DisputeStatus",
    "GatewayRefund",
    "GatewayRefundStatus",
]

"""Every core model, imported here so the metadata is complete for Alembic and tests."""

from praho.core.models.audit import ActorType, AuditChainHead, AuditEvent
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
from praho.core.models.ledger import Account, AccountCode, AccountType, JournalEntry, JournalLine
from praho.core.models.orders import Order, OrderLine, OrderStatus, RefundState
from praho.core.models.seller import Seller
from praho.core.models.webhooks import WebhookEvent, WebhookStatus

__all__ = [
    "MUTABLE_AFTER_ISSUE",
    "Account",
    "AccountCode",
    "AccountType",
    "ActorType",
    "AuditChainHead",
    "AuditEvent",
    "Customer",
    "CustomerKind",
    "CustomerStatus",
    "DocumentKind",
    "DocumentSeries",
    "DocumentStatus",
    "Invoice",
    "InvoiceAllowance",
    "InvoiceLine",
    "InvoiceMode",
    "InvoiceTaxSubtotal",
    "JournalEntry",
    "JournalLine",
    "LineKind",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PaymentStatus",
    "Price",
    "PriceVersion",
    "Product",
    "ProductKind",
    "RefundState",
    "SeriesCounter",
    "Seller",
    "TaxClass",
    "WebhookEvent",
    "WebhookStatus",
]

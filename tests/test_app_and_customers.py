"""Application settings, health check, and customer validation."""

import json

import pytest
from praho.core.app import create_app
from praho.core.config import ConfigError
from praho.core.errors import ValidationFailed
from praho.core.models import Customer
from praho.core.services.customers import CustomerInput, create_customer, update_customer
from praho.core.testing import config_for_tests


def test_embedded_default_is_sqlite_in_instance_folder_with_eager_celery(tmp_path, monkeypatch):
    for name in ("PRAHO_DATABASE_URL", "PRAHO_BROKER_URL", "PRAHO_ENV", "PRAHO_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PRAHO_INSTANCE_PATH", str(tmp_path / "inst"))
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'inst' / 'praho.db'}"
    assert app.config["CELERY_EAGER"] is True
    assert app.extensions["celery"].conf.task_always_eager is True


def test_environment_variables_configure_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("PRAHO_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    monkeypatch.setenv("PRAHO_BROKER_URL", "redis://127.0.0.1:6379/9")
    monkeypatch.setenv("PRAHO_MAX_AMOUNT_MINOR", "5000")
    app = create_app()
    assert app.config["DATABASE_URL"].endswith("other.db")
    assert app.extensions["celery"].conf.task_always_eager is False
    assert app.config["MAX_AMOUNT_MINOR"] == 5000


@pytest.mark.parametrize("secret", [None, "dev-insecure-secret-key", "short"])
def test_production_refuses_weak_secret(monkeypatch, secret):
    monkeypatch.setenv("PRAHO_ENV", "production")
    monkeypatch.setenv("PRAHO_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/x")
    if secret:
        monkeypatch.setenv("PRAHO_SECRET_KEY", secret)
    else:
        monkeypatch.delenv("PRAHO_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="PRAHO_SECRET_KEY"):
        create_app()


def test_production_refuses_sqlite(monkeypatch):
    monkeypatch.setenv("PRAHO_ENV", "production")
    monkeypatch.setenv("PRAHO_SECRET_KEY", "x" * 40)
    monkeypatch.delenv("PRAHO_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="PostgreSQL"):
        create_app()


def test_invalid_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("PRAHO_MAX_AMOUNT_MINOR", "lots")
    with pytest.raises(ConfigError, match="PRAHO_MAX_AMOUNT_MINOR"):
        create_app()


def test_healthz_reports_database(praho_app):
    response = praho_app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_healthz_unhealthy_database_is_503_without_leaking_url(tmp_path):
    app = create_app(config_for_tests("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert b"hunter2" not in response.data and b"nobody" not in response.data


def test_healthz_checks_the_broker(praho_database_url):
    app = create_app(config_for_tests(praho_database_url, BROKER_URL="redis://127.0.0.1:1/0"))
    body = app.test_client().get("/healthz").get_json()
    assert body["status"] == "unhealthy" and body["checks"]["broker"] != "ok"


# --- customers --------------------------------------------------------------------

VALID_COMPANY = {"legal_name": "Exemplu SRL", "email": "a@exemplu.ro", "street": "Str. A 1",
                 "city": "Iași", "county": "RO-IS", "cui": "RO 14399840"}


def test_company_identifiers_are_normalised(praho_factory, praho_session):
    praho_factory.seller()
    customer = create_customer(praho_session, CustomerInput.from_mapping(
        {**VALID_COMPANY, "vat_id": "ro14399840"}))
    assert customer.cui == "14399840" and customer.vat_id == "RO14399840" and customer.vat_payer
    assert customer.code.startswith("C")


@pytest.mark.parametrize("changes,field", [
    ({"cui": "14399841"}, "cui"),
    ({"cui": None}, "cui"),
    ({"county": "RO-XX"}, "county"),
    ({"county": None}, "county"),
    ({"county": "RO-B", "city": "București"}, "city"),
    ({"email": "not-an-email"}, "email"),
    ({"country": "ZZ"}, "country"),
    ({"currency": "EURO"}, "currency"),
    ({"language": "de"}, "language"),
    ({"vat_id": "DE123"}, "vat_id"),
    ({"legal_name": "x" * 201}, "legal_name"),
    ({"street": "Str.\x00A"}, "street"),
    ({"kind": "individual", "cui": None, "cnp": "1800101221145"}, "cnp"),
    ({"payment_terms_days": 900}, "payment_terms_days"),
])
def test_invalid_customers_are_rejected_naming_the_field(praho_factory, praho_session, changes, field):
    praho_factory.seller()
    before = praho_session.query(Customer).count()
    with pytest.raises(ValidationFailed) as failure:
        create_customer(praho_session, CustomerInput.from_mapping({**VALID_COMPANY, **changes}))
    assert field in {e.field for e in failure.value.errors}
    assert praho_session.query(Customer).count() == before


def test_bucharest_sector_and_individual_with_cnp(praho_factory, praho_session):
    praho_factory.seller()
    person = create_customer(praho_session, CustomerInput.from_mapping({
        "legal_name": "Ion Popescu", "email": "ion@example.ro", "street": "Bd. Unirii 1",
        "city": "sector 3", "county": "ro-b", "kind": "individual", "cnp": "1800101221144"}))
    assert person.city == "SECTOR3" and person.county == "RO-B" and not person.is_business


def test_foreign_customers_need_no_county(praho_factory, praho_session):
    praho_factory.seller()
    german = create_customer(praho_session, CustomerInput.from_mapping({
        "legal_name": "Beispiel GmbH", "email": "x@beispiel.de", "street": "Hauptstr. 1",
        "city": "Berlin", "country": "DE", "vat_id": "DE136695976", "currency": "EUR"}))
    assert german.vat_id == "DE136695976" and german.county is None


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationFailed, match="colour: unknown field"):
        CustomerInput.from_mapping({**VALID_COMPANY, "colour": "blue"})


def test_update_validates_the_whole_customer_and_audits(praho_factory, praho_session):
    customer = praho_factory.customer()
    with pytest.raises(ValidationFailed):
        update_customer(praho_session, customer, {"county": "RO-XX"})
    update_customer(praho_session, customer, {"city": "Turda"})
    assert customer.city == "Turda"


def test_invoice_list_and_show_cli(praho_committing, praho_app):
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        invoice = PrahoFactory(session).invoice(lines=[("Hosting", "2", "50.00")])
        number = invoice.full_number
    runner = praho_app.test_cli_runner()
    listed = json.loads(runner.invoke(args=["invoice", "list", "--json"]).output)
    assert [d["number"] for d in listed] == [number]
    shown = json.loads(runner.invoke(args=["invoice", "show", number, "--json"]).output)
    assert shown["total_minor"] == 12100 and shown["lines"][0]["quantity"] == "2.000000"
    text_out = runner.invoke(args=["invoice", "show", number]).output
    assert "VAT S 21.0000%" in text_out
    missing = runner.invoke(args=["invoice", "show", "NOPE-1"])
    assert missing.exit_code != 0 and "no document NOPE-1" in missing.output

"""``praho import``: the documented format, all-or-nothing, line-precise errors."""

from pathlib import Path

import pytest
from praho.core.jsoninput import JSONInputError, parse_with_positions
from praho.core.models import Customer, Invoice, Price, PriceVersion, Product, Subscription
from praho.core.services.importer import ImportFailed, import_data
from praho.core.testing import at

DATA = Path(__file__).parent / "data"


def test_sample_import_creates_everything(praho_session):
    parsed = parse_with_positions((DATA / "import_sample.json").read_bytes())
    report = import_data(praho_session, parsed.value)
    assert report.created == {"seller": 1, "customers": 2, "products": 2, "prices": 2,
                              "subscriptions": 2, "documents": 1}
    assert praho_session.query(Customer).count() == 2
    assert praho_session.query(PriceVersion).count() == 3
    draft = praho_session.query(Invoice).one()
    assert draft.status == "draft" and draft.lines[0].net_amount_minor == 4900


def test_bad_import_reports_every_problem_and_writes_nothing(praho_session):
    parsed = parse_with_positions((DATA / "import_bad.json").read_bytes())
    with pytest.raises(ImportFailed) as failure:
        import_data(praho_session, parsed.value)
    by_path = {p.dotted: p for p in failure.value.problems}
    assert "customers[1].cui" in by_path
    assert parsed.line_of(by_path["customers[1].cui"].path) == 8
    assert "prices[0].product" in by_path
    assert parsed.line_of(by_path["prices[0].product"].path) == 11


def test_cli_import_dry_run_and_errors(praho_committing, praho_app):
    runner = praho_app.test_cli_runner()
    dry = runner.invoke(args=["import", "--dry-run", str(DATA / "import_sample.json")])
    assert dry.exit_code == 0, dry.output
    assert "would import" in dry.output
    with praho_committing.transaction() as session:
        assert session.query(Customer).count() == 0
    bad = runner.invoke(args=["import", str(DATA / "import_bad.json")])
    assert bad.exit_code == 1
    assert "import_bad.json:8: customers[1].cui:" in bad.output
    assert "nothing was imported" in bad.output
    with praho_committing.transaction() as session:
        assert session.query(Customer).count() == 0  # OK1 was valid but is not kept
    real = runner.invoke(args=["import", str(DATA / "import_sample.json")])
    assert real.exit_code == 0, real.output
    with praho_committing.transaction() as session:
        assert session.query(Product).count() == 2 and session.query(Price).count() == 2


@pytest.mark.parametrize("body,reason", [
    ('{"format": "praho-import/1",\n "customers": [}', "line 2"),
    ('{"format": "x"}', "format"),
    ('[1, 2]', "must contain a JSON object"),
    ('{"format": "praho-import/1", "payments": []}', "unknown section"),
    ('{"format": "praho-import/1", "customers": {}}', "must be a list"),
    ('{"format": "praho-import/1", "customers": [{"code": "A", "colour": "red"}]}', "unknown field"),
])
def test_malformed_imports(praho_session, body, reason):
    with pytest.raises((ImportFailed, JSONInputError)) as failure:
        import_data(praho_session, parse_with_positions(body).value)
    problems = getattr(failure.value, "problems", None)
    text = " ".join(f"{p.dotted} {p.reason}" for p in problems) if problems else str(failure.value)
    assert reason in text


def test_imported_subscriptions_are_billed_from_their_next_renewal(praho_session):
    parsed = parse_with_positions((DATA / "import_sample.json").read_bytes())
    import_data(praho_session, parsed.value, now=at("2026-11-20"))
    acme, ion = praho_session.query(Subscription).order_by(Subscription.id).all()
    # Nothing billed at import: the old system invoiced the period in progress.
    assert praho_session.query(Invoice).filter(Invoice.status != "draft").count() == 0
    assert (acme.status, acme.next_billing_date.isoformat(), acme.anchor_day) == ("active", "2026-12-15", 15)
    assert acme.attributes == {"imported": True, "original_start_date": "2024-03-15"}
    assert (ion.billing_cycle_months, ion.next_billing_date.isoformat()) == (12, "2027-02-01")


@pytest.mark.parametrize("subscription, problem", [
    ({"customer": "NOBODY", "items": [{"price": "WEB-PRO-M"}], "next_billing_date": "2026-12-01"},
     "subscriptions[0].customer"),
    ({"customer": "ACME", "items": [], "next_billing_date": "2026-12-01"}, "subscriptions[0].items"),
    ({"customer": "ACME", "items": [{"price": "NOPE"}], "next_billing_date": "2026-12-01"},
     "subscriptions[0].items[0].price"),
    ({"customer": "ACME", "items": [{"price": "WEB-PRO-M"}]}, "subscriptions[0].next_billing_date"),
    ({"customer": "ACME", "items": [{"price": "WEB-PRO-M"}], "trial_end": "2026-12-01",
      "next_billing_date": "2026-12-01"}, "subscriptions[0].next_billing_date"),
    ({"customer": "ACME", "items": [{"price": "WEB-PRO-M", "qty": 2}],
      "next_billing_date": "2026-12-01"}, "subscriptions[0].items[0].qty"),
])
def test_bad_subscriptions_are_refused_with_their_path_and_nothing_is_kept(praho_session,
                                                                           subscription, problem):
    data = parse_with_positions((DATA / "import_sample.json").read_bytes()).value
    data["subscriptions"] = [subscription]
    with pytest.raises(ImportFailed) as failure:
        import_data(praho_session, data, now=at("2026-11-20"))
    assert problem in {p.dotted for p in failure.value.problems}
    assert praho_session.query(Subscription).count() == 0


def test_a_subscription_still_in_trial_is_first_billed_at_its_end(praho_session):
    data = parse_with_positions((DATA / "import_sample.json").read_bytes()).value
    data["subscriptions"] = [{"customer": "ACME", "items": [{"price": "WEB-PRO-M"}],
                              "trial_end": "2026-12-04"}]
    import_data(praho_session, data, now=at("2026-11-20"))
    subscription = praho_session.query(Subscription).one()
    assert subscription.status == "trialing"
    assert subscription.next_billing_date.isoformat() == "2026-12-04"

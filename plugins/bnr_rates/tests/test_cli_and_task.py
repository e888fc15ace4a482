"""``praho rates fetch|show``, the Celery task and its beat schedule entry (real commits)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from celery.schedules import crontab
from praho.core.tasks import build_beat_schedule
from praho.plugins.bnr_rates.models import ExchangeRate, RateFetch
from praho.plugins.bnr_rates.tasks import TASK_NAME, fetch_bnr_rates
from sqlalchemy import func, select


def _count(database, model):
    with database.transaction() as session:
        return session.scalar(select(func.count(model.id)))


def test_cli_fetch_and_show(praho_app, praho_committing, bnr):
    runner = praho_app.test_cli_runner()
    result = runner.invoke(args=["rates", "fetch"])
    assert result.exit_code == 0, result.output
    assert "BNR rates for 2026-08-05: 37 read, 37 new" in result.output
    shown = runner.invoke(args=["rates", "show", "--date", "2026-08-06"])
    assert shown.exit_code == 0, shown.output
    assert "tax point 2026-08-06 uses BNR rates of 2026-08-05" in shown.output
    huf = next(line for line in shown.output.splitlines() if line.strip().startswith("HUF"))
    assert huf.split() == ["HUF", "0.014483", "RON", "(published", "1.4483", "per", "100)"]
    one = runner.invoke(
        args=["rates", "show", "--date", "2026-08-06", "--currency", "eur", "--json"]
    )
    assert '"rate": "5.2489"' in one.output
    none = runner.invoke(args=["rates", "show", "--date", "2026-08-05"])
    assert none.exit_code == 1 and "no BNR rate before 2026-08-05" in none.output


def test_cli_fetch_failure_exits_non_zero_and_changes_nothing(
    praho_app, praho_committing, bnr, fixture_bytes
):
    runner = praho_app.test_cli_runner()
    assert runner.invoke(args=["rates", "fetch"]).exit_code == 0
    bnr.serve(
        fixture_bytes("failures/504_gateway_timeout.html"), status=504, content_type="text/html"
    )
    result = runner.invoke(args=["rates", "fetch"])
    assert result.exit_code == 1
    assert "HTTP 504" in result.output and "stored rates are kept" in result.output
    assert _count(praho_committing, ExchangeRate) == 37
    with praho_committing.transaction() as session:
        last = session.scalars(select(RateFetch).order_by(RateFetch.id.desc())).first()
        assert (last.ok, last.error_code) == (False, "fetch_failed")


def test_cli_fetch_from_url_and_file(praho_app, praho_committing, bnr, tmp_path, fixture_bytes):
    runner = praho_app.test_cli_runner()
    assert runner.invoke(args=["rates", "fetch", "--url", "ftp://x"]).exit_code == 2
    bnr.serve(fixture_bytes("bnr_sample_old_namespace.xml"))
    assert runner.invoke(args=["rates", "fetch", "--url", bnr.url]).exit_code == 0
    saved = tmp_path / "nbrfxrates2025.xml"
    saved.write_bytes(fixture_bytes("bnr_sample_2025_with_BGN.xml"))
    result = runner.invoke(args=["rates", "fetch", "--file", str(saved)])
    assert result.exit_code == 0 and "2025-12-31: 38 read, 38 new" in result.output
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    failed = runner.invoke(args=["rates", "fetch", "--file", str(empty)])
    assert failed.exit_code == 1 and "empty" in failed.output
    assert _count(praho_committing, ExchangeRate) == 37 + 38


def test_task_fetches_and_commits(praho_app, praho_committing, bnr):
    result = fetch_bnr_rates.delay()
    assert result.get()["ok"] is True
    with praho_committing.transaction() as session:
        rate = session.scalars(select(ExchangeRate).where(ExchangeRate.currency == "EUR")).one()
        assert (rate.rate_date, rate.rate) == (date(2026, 8, 5), Decimal("5.2489"))


def test_task_failure_is_logged_and_keeps_rates(praho_app, praho_committing, bnr, fixture_bytes):
    fetch_bnr_rates.delay()
    bnr.serve(b"", status=200)
    summary = fetch_bnr_rates.delay().get()
    assert summary["ok"] is False and "empty" in summary["error"]
    assert _count(praho_committing, ExchangeRate) == 37
    assert _count(praho_committing, RateFetch) == 2


def test_beat_schedule_has_the_fetch(praho_app):
    entry = build_beat_schedule(praho_app)["bnr-rates-fetch"]
    assert entry["task"] == TASK_NAME
    assert entry["schedule"] == crontab(minute="5,35", hour="13-17", day_of_week="mon-fri")
    assert TASK_NAME in praho_app.extensions["celery"].tasks

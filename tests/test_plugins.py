"""The plugin system: manifest, entry points, settings, and the hook contract itself."""

import ast
import inspect
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from flask import Blueprint
from praho.core import hookspecs
from praho.core.app import create_app
from praho.core.errors import InvalidTransition, PluginError
from praho.core.hookspecs import hookimpl
from praho.core.plugins import read_manifest, resolve_setting
from praho.core.tasks import PeriodicTask, build_beat_schedule
from praho.core.testing import config_for_tests

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOOK_NAMES = sorted(
    name for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(obj, "praho_spec")
)


def _write_manifest(tmp_path, body):
    path = tmp_path / "manifest.toml"
    path.write_text(textwrap.dedent(body))
    return path


# --- the contract -------------------------------------------------------------


def test_every_hook_is_documented():
    for name in HOOK_NAMES:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc.strip()) > 40, f"hook {name} needs a docstring"
        params = [p for p in inspect.signature(getattr(hookspecs, name)).parameters]
        for param in params:
            assert f":param {param}:" in doc, f"hook {name} does not document {param}"


def test_every_hook_has_a_test():
    """A test function named test_hook_<name> must exist for every hook (Datasette's rule)."""
    sources = list((ROOT / "tests").rglob("test_*.py")) + list((ROOT / "plugins").rglob("tests/test_*.py"))
    defined = set()
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Name)}
    missing = [name for name in HOOK_NAMES
               if f"test_hook_{name}" not in defined]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_hookspecs_module_has_no_logic():
    for name in HOOK_NAMES:
        body = ast.parse(textwrap.dedent(inspect.getsource(getattr(hookspecs, name)))).body[0].body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), f"{name} must only have a docstring"


# --- manifest and start-up errors ------------------------------------------------


def test_repository_manifest_is_valid():
    specs = read_manifest(ROOT / "plugin_manifest.toml")
    assert len({s.name for s in specs}) == len(specs)


def test_manifest_errors_are_clear(tmp_path, praho_database_url):
    cases = {
        "[[plugin]]\nname = 'x'\n": "'module' is required",
        "[[plugin]]\nname = 'x'\nmodule = 'no.such.module'\n": "cannot import 'no.such.module'",
        "[[plugin]]\nname='x'\nmodule='json'\nflavour='y'\n": "unknown keys ['flavour']",
        "[[plugin]]\nname='x'\nmodule='json'\ndepends=['missing']\n": "depends on ['missing']",
        "[[plugin]\n": "manifest.toml",
        "[[plugin]]\nname='x'\nmodule='json'\n[[plugin]]\nname='x'\nmodule='json'\n": "listed twice",
    }
    for body, message in cases.items():
        path = _write_manifest(tmp_path, body)
        with pytest.raises(PluginError, match=message.replace("[", r"\[").replace("]", r"\]")):
            create_app(config_for_tests(praho_database_url, PLUGIN_MANIFEST=str(path)))


def test_missing_manifest_file_is_reported(tmp_path, praho_database_url):
    with pytest.raises(PluginError, match="not found"):
        create_app(config_for_tests(praho_database_url, PLUGIN_MANIFEST=str(tmp_path / "none.toml")))


def test_misspelled_hook_is_refused_at_start_up(praho_database_url):
    class Typo:
        @hookimpl
        def invoice_isued(self, invoice):  # noqa: D102 - deliberately misspelled
            pass

    with pytest.raises(PluginError, match="unknown hook"):
        create_app(config_for_tests(praho_database_url), plugins=[("typo", Typo())])


def test_settings_read_environment_references():
    env = {"PRAHO_SECRET_X": "s3cret"}
    settings = {"key": {"env": "PRAHO_SECRET_X"}, "other": {"env": "UNSET", "default": 5},
                "nested": {"deep": {"env": "PRAHO_SECRET_X"}}, "plain": 1}
    resolved = resolve_setting(settings, "test", env)
    assert resolved == {"key": "s3cret", "other": 5, "nested": {"deep": "s3cret"}, "plain": 1}
    with pytest.raises(PluginError, match="UNSET is required"):
        resolve_setting({"k": {"env": "UNSET", "required": True}}, "plugin 'p' settings", env)


# --- hooks the core calls --------------------------------------------------------


class Recorder:
    """A plugin that records what the core told it."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def plugin_configured(self, app, name, settings):
        self.calls.append(("configured", name))

    @hookimpl
    def customer_created(self, customer):
        self.calls.append(("customer_created", customer.code))

    @hookimpl
    def invoice_issued(self, invoice):
        self.calls.append(("invoice_issued", invoice.full_number))

    @hookimpl
    def invoice_voided(self, invoice):
        self.calls.append(("invoice_voided", invoice.full_number))

    @hookimpl
    def price_changed(self, price, version):
        self.calls.append(("price_changed", price.code, version.unit_amount_minor))


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def praho_plugins(recorder):
    from praho.core.testing import StaticTestPlugin

    return [("static_test", StaticTestPlugin()), ("recorder", recorder)]


def test_hook_plugin_configured(recorder, praho_app):
    assert ("configured", "recorder") in recorder.calls


def test_hook_customer_created(recorder, praho_factory):
    customer = praho_factory.customer()
    assert ("customer_created", customer.code) in recorder.calls


def test_hook_invoice_issued(recorder, praho_factory):
    invoice = praho_factory.invoice()
    assert ("invoice_issued", invoice.full_number) in recorder.calls


def test_hook_invoice_voided(recorder, praho_factory, praho_session):
    from praho.core.services.issuing import void_document

    invoice = praho_factory.invoice()
    void_document(praho_session, invoice, reason="typo in address", now=NOW)
    assert ("invoice_voided", invoice.full_number) in recorder.calls


def test_hook_price_changed(recorder, praho_factory, praho_session):
    from datetime import date

    from praho.core.services.catalog import add_price_version

    price = praho_factory.price()
    add_price_version(praho_session, price, unit_amount_minor=6000, effective_from=date(2027, 1, 1), now=NOW)
    assert ("price_changed", price.code, 6000) in recorder.calls


def test_hook_validate_document_action(praho_database_url):
    from praho.core.services.issuing import void_document
    from praho.core.testing import PrahoFactory, StaticTestPlugin

    class Veto:
        @hookimpl
        def validate_document_action(self, document, action):
            return [f"{document.full_number} was accepted by ANAF"] if action == "void" else []

    app = create_app(config_for_tests(praho_database_url),
                     plugins=[("static_test", StaticTestPlugin()), ("veto", Veto())])
    with app.app_context(), app.extensions["praho.db"].session_factory() as session:
        invoice = PrahoFactory(session).invoice()
        with pytest.raises(InvalidTransition, match="accepted by ANAF"):
            void_document(session, invoice, reason="x", now=NOW)
        session.rollback()


def test_hook_register_tax_regimes(praho_factory, praho_session):
    from praho.core.errors import TaxDecisionError

    invoice = praho_factory.invoice()
    assert invoice.tax_regime == "static"
    praho_factory.seller().tax_regime = "unknown_regime"
    with pytest.raises(TaxDecisionError, match="no loaded plugin provides"):
        praho_factory.invoice(praho_factory.customer())


def test_hook_resolve_exchange_rate(praho_factory):
    from praho.core.errors import ExchangeRateUnavailable

    eur = praho_factory.invoice(currency="EUR")
    assert eur.exchange_rate_source == "static-test"
    with pytest.raises(ExchangeRateUnavailable, match="GBP"):
        praho_factory.invoice(currency="GBP")


def test_hook_register_blueprints_cli_commands_templates_and_periodic_tasks(praho_database_url):
    from jinja2 import DictLoader

    class Extras:
        @hookimpl
        def register_blueprints(self, app):
            bp = Blueprint("extra", __name__)
            bp.add_url_rule("/extra/ping", "ping", lambda: "pong")
            return [bp]

        @hookimpl
        def register_cli_commands(self):
            return [click.Command("extra-hello", callback=lambda: click.echo("hello from plugin"))]

        @hookimpl
        def register_templates(self):
            return [DictLoader({"extra/hello.txt": "Salut {{ name }}"})]

        @hookimpl
        def register_periodic_tasks(self, app):
            return [PeriodicTask(name="extra-nightly", task="extra.nightly", schedule=3600.0)]

    app = create_app(config_for_tests(praho_database_url), plugins=[("extras", Extras())])
    assert app.test_client().get("/extra/ping").data == b"pong"
    result = app.test_cli_runner().invoke(args=["extra-hello"])
    assert result.output.strip() == "hello from plugin"
    with app.app_context():
        assert app.jinja_env.get_template("extra/hello.txt").render(name="Ana") == "Salut Ana"
        assert build_beat_schedule(app)["extra-nightly"]["task"] == "extra.nightly"


test_hook_register_blueprints = test_hook_register_blueprints_cli_commands_templates_and_periodic_tasks
test_hook_register_cli_commands = test_hook_register_blueprints_cli_commands_templates_and_periodic_tasks
test_hook_register_templates = test_hook_register_blueprints_cli_commands_templates_and_periodic_tasks
test_hook_register_periodic_tasks = test_hook_register_blueprints_cli_commands_templates_and_periodic_tasks


# --- a real third-party package through the entry point ------------------------------


@pytest.mark.slow
def test_outside_plugin_installs_through_entry_point_and_is_called(tmp_path, praho_database_url):
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "tests" / "example_plugin")],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    script = textwrap.dedent(f"""
        from datetime import datetime, UTC
        from praho.core.app import create_app
        from praho.core.testing import PrahoFactory, config_for_tests
        import praho_example_plugin

        app = create_app(config_for_tests({praho_database_url!r}))
        registry = app.extensions["praho.plugins"]
        assert registry.specs["example"].source == "entry point example", registry.specs
        with app.app_context(), app.extensions["praho.db"].session_factory() as session:
            factory = PrahoFactory(session)
            factory.seller(tax_regime="example", is_default=True, code="EXAMPLE-SELLER")
            from praho.core.models import Seller
            for seller in session.query(Seller).filter(Seller.code != "EXAMPLE-SELLER"):
                seller.is_default = False
            invoice = factory.invoice(now=datetime(2026, 3, 2, 10, tzinfo=UTC))
            print(invoice.vat_minor, praho_example_plugin.ISSUED)
            session.rollback()
    """)
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    vat, issued = run.stdout.strip().split(" ", 1)
    assert vat == "1000"  # the outside regime's flat 10% of 100.00
    assert "PRH" in issued

"""Our validator against the official artefacts: examples pass, unit cases fire their rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from praho.plugins.ro_efactura.cli import efactura_group
from praho.plugins.ro_efactura.validation import (
    errors_only,
    validate_all,
    validate_schematron,
    validate_xsd,
)

# Official CEN artefacts copied into the tests (official/README.md), so CI needs nothing
# outside the repository.
OFFICIAL = Path(__file__).parent / "official"
EXAMPLES = OFFICIAL / "examples"
UNIT_TESTS = OFFICIAL
GOLDEN = Path(__file__).parent / "golden"
VEFA = "{http://difi.no/xsd/vefa/validator/1.0}"
# A spread over the rule families (syntax, core, each VAT category, code lists).
UNIT_SAMPLE = [
    "Invoice-unit-UBL/BR-01.xml",
    "Invoice-unit-UBL/BR-02.xml",
    "Invoice-unit-UBL/BR-06.xml",
    "Invoice-unit-UBL/BR-16.xml",
    "Invoice-unit-UBL/BR-CO-10.xml",
    "Invoice-unit-UBL/BR-CO-15.xml",
    "Invoice-unit-UBL/BR-S-08-1.xml",
    "Invoice-unit-UBL/BR-AE-02.xml",
    "Invoice-unit-UBL/BR-AE-10.xml",
    "Invoice-unit-UBL/BR-E-10.xml",
    "Invoice-unit-UBL/BR-O-02.xml",
    "Invoice-unit-UBL/BR-Z-10.xml",
    "Invoice-unit-UBL/BR-CL-04.xml",
    "CreditNote-unit-UBL/BR-01.xml",
    "CreditNote-unit-UBL/BR-CO-15.xml",
]


@pytest.mark.parametrize(
    "path",
    sorted(EXAMPLES.glob("*"), key=lambda p: p.name),
    ids=lambda p: p.name,
)
def test_official_en16931_examples_pass_xsd_and_cen(path):
    problems = errors_only(validate_all(path.read_bytes(), ("xsd", "cen")))
    assert problems == [], "\n".join(map(str, problems))


def _unit_cases(path: Path):
    root = etree.parse(str(path)).getroot()
    for test in root.iter(f"{VEFA}test"):
        expectation = test.find(f"{VEFA}assert")
        document = next(
            child for child in test if not child.tag.startswith(VEFA) and isinstance(child.tag, str)
        )
        errors = [e.text for e in expectation.iter(f"{VEFA}error")]
        success = [e.text for e in expectation.iter(f"{VEFA}success")]
        warnings = [e.text for e in expectation.iter(f"{VEFA}warning")]
        yield etree.tostring(document).decode(), errors, success, warnings


@pytest.mark.parametrize("relative", UNIT_SAMPLE)
def test_official_unit_cases_fire_the_rule_they_state(relative):
    path = UNIT_TESTS / relative
    checked = 0
    for xml, errors, success, warnings in _unit_cases(path):
        fired = {p.rule_id for p in validate_schematron(xml, ["cen"])}
        for rule in errors + warnings:
            assert rule in fired, f"{relative}: {rule} should fire, fired {sorted(fired)}"
        for rule in success:
            assert rule not in fired, f"{relative}: {rule} should not fire"
        checked += 1
    assert checked >= 1


def test_anaf_layer_catches_romanian_rules():
    xml = (GOLDEN / "bucharest_sectors.xml").read_text(encoding="utf-8")
    broken = xml.replace(
        "<cbc:CityName>SECTOR3</cbc:CityName>", "<cbc:CityName>Bucuresti</cbc:CityName>"
    )
    broken = broken.replace("CIUS-RO:1.0.1", "CIUS-RO:1.0.0")
    rules = {p.rule_id for p in errors_only(validate_all(broken))}
    assert {"BR-RO-101", "BR-RO-001"} <= rules


def test_xsd_layer_explains_schema_errors_with_paths():
    xml = (
        (GOLDEN / "domestic_21.xml")
        .read_bytes()
        .replace(
            b"<cbc:DocumentCurrencyCode>",
            b"<cbc:Unexpected>x</cbc:Unexpected><cbc:DocumentCurrencyCode>",
        )
    )
    problems = validate_xsd(etree.fromstring(xml))
    assert problems and problems[0].layer == "xsd"
    assert "Unexpected" in problems[0].message and problems[0].location


def test_not_well_formed_xml_is_one_clear_problem():
    problems = validate_all(b"<Invoice><unclosed></Invoice>")
    assert [p.rule_id for p in problems] == ["XML"]


def test_cli_validate_prints_rule_ids_and_exits_non_zero(tmp_path):
    good = GOLDEN / "domestic_21.xml"
    bad = tmp_path / "bad.xml"
    bad.write_text(good.read_text(encoding="utf-8").replace("RO-CJ", "CJ"), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(efactura_group, ["validate", str(good)])
    assert ok.exit_code == 0 and "valid (0 error(s)" in ok.output
    failed = runner.invoke(efactura_group, ["validate", str(good), str(bad)])
    assert failed.exit_code == 1
    assert "bad.xml: INVALID" in failed.output
    assert "anaf BR-RO-111:" in failed.output

"""praho.core.xmlinput: XXE, entity expansion, DTDs, oversized and deep XML; zip bombs."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.testing import fuzz_settings, fuzz_tried
from praho.core.xmlinput import (
    UntrustedXMLError,
    UntrustedZipError,
    ZipLimits,
    parse_untrusted_xml,
    read_untrusted_zip,
)


def test_plain_xml_parses():
    root = parse_untrusted_xml(b'<?xml version="1.0" encoding="UTF-8"?><a x="1"><b>t</b></a>')
    assert root.tag == "a" and root.findtext("b") == "t"
    assert parse_untrusted_xml("<a>ăîșț</a>").text == "ăîșț"


def test_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    attack = (f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
              "<a>&x;</a>").encode()
    with pytest.raises(UntrustedXMLError, match="DOCTYPE") as caught:
        parse_untrusted_xml(attack)
    assert caught.value.reason == "doctype"
    assert "TOP-SECRET" not in str(caught.value)


def test_billion_laughs_and_external_dtd_are_refused():
    lol = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">'
           b'<!ENTITY c "&b;&b;&b;&b;&b;">]><l>&c;</l>')
    external = b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>'
    parameter = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd">%p;]>'
                 b"<a/>")
    for attack in (lol, external, parameter):
        with pytest.raises(UntrustedXMLError, match="DOCTYPE"):
            parse_untrusted_xml(attack)


def test_doctype_hidden_by_utf16_is_still_refused():
    attack = ('<?xml version="1.0" encoding="UTF-16"?>'
              '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]><a>&x;</a>').encode("utf-16")
    assert b"<!DOCTYPE" not in attack
    with pytest.raises(UntrustedXMLError, match="DOCTYPE"):
        parse_untrusted_xml(attack)


def test_size_depth_and_garbage_limits():
    with pytest.raises(UntrustedXMLError, match="exceeds the limit of 100") as caught:
        parse_untrusted_xml(b"<a>" + b"x" * 200 + b"</a>", max_bytes=100)
    assert caught.value.reason == "too_large"
    with pytest.raises(UntrustedXMLError, match="not well-formed"):
        parse_untrusted_xml(b"<a>" * 5000 + b"</a>" * 5000)  # libxml2's depth limit stays on
    with pytest.raises(UntrustedXMLError, match="empty"):
        parse_untrusted_xml(b"  \n")
    with pytest.raises(UntrustedXMLError, match="expected bytes"):
        parse_untrusted_xml(42)  # type: ignore[arg-type]


@fuzz_settings(factor=5)
@given(raw=st.binary(max_size=300)
       | st.text(alphabet="<>/?!=\"' abx:&;#[]-\x00é", max_size=200).map(str.encode))
def test_arbitrary_bytes_parse_or_raise_our_error(raw):
    fuzz_tried("xmlinput: arbitrary bytes")
    try:
        parse_untrusted_xml(raw)
    except UntrustedXMLError as error:
        assert error.http_status == 400 and error.message


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_small_archive_is_read():
    assert read_untrusted_zip(_zip({"a.xml": b"<a/>", "d/": b"", "d/b.xml": b"<b/>"})) == {
        "a.xml": b"<a/>", "d/b.xml": b"<b/>"}


def test_zip_bomb_stops_at_the_declared_size():
    bomb = _zip({"bomb.xml": b"0" * (40 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(UntrustedZipError, match="declares") as caught:
        read_untrusted_zip(bomb)
    assert caught.value.reason == "too_large"


def test_zip_bomb_with_lying_headers_stops_while_inflating():
    honest = _zip({"x.xml": b"1" * 5_000_000})
    # Rewrite the uncompressed size in both headers to claim 100 bytes.
    data = bytearray(honest)
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 100)
    struct.pack_into("<I", data, central + 24, 100)
    with pytest.raises(UntrustedZipError):
        read_untrusted_zip(bytes(data), limits=ZipLimits(max_entry_bytes=1000))


def test_zip_limits_on_entries_total_and_names():
    many = _zip({f"f{i}.xml": b"<a/>" for i in range(20)})
    with pytest.raises(UntrustedZipError, match="entries exceed"):
        read_untrusted_zip(many, limits=ZipLimits(max_entries=10))
    big = _zip({"a": b"a" * 600, "b": b"b" * 600})
    with pytest.raises(UntrustedZipError, match="uncompressed"):
        read_untrusted_zip(big, limits=ZipLimits(max_entry_bytes=1000, max_total_bytes=1000))
    with pytest.raises(UntrustedZipError, match="exceeds the limit"):
        read_untrusted_zip(big, limits=ZipLimits(max_bytes=100))
    with pytest.raises(UntrustedZipError, match="longer than"):
        read_untrusted_zip(_zip({"n" * 300: b""}))


def test_duplicate_and_encrypted_entries_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("same.xml", b"<a/>")
        with pytest.warns(UserWarning):
            archive.writestr("same.xml", b"<b/>")
    with pytest.raises(UntrustedZipError, match="twice"):
        read_untrusted_zip(buffer.getvalue())
    data = bytearray(_zip({"e.xml": b"<a/>"}, zipfile.ZIP_STORED))
    for marker, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(marker)
        data[at + offset] |= 0x1
    with pytest.raises(UntrustedZipError, match="encrypted"):
        read_untrusted_zip(bytes(data))


@fuzz_settings(factor=5)
@given(raw=st.binary(max_size=400), flip=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_arbitrary_and_corrupted_zips_read_or_raise_our_error(raw, flip, byte):
    fuzz_tried("xmlinput: arbitrary and corrupted zips")
    valid = bytearray(_zip({"a.xml": raw, "semnatura_a.xml": raw[::-1]}))
    valid[flip % len(valid)] = byte
    for candidate in (raw, bytes(valid), b"PK\x03\x04" + raw):
        try:
            files = read_untrusted_zip(candidate, limits=ZipLimits(max_entry_bytes=4096))
        except UntrustedZipError as error:
            assert error.message
        else:
            assert all(len(data) <= 4096 for data in files.values())


def test_crc_errors_are_ours():
    data = bytearray(_zip({"a.xml": b"<a>hello world</a>" * 10}, zipfile.ZIP_STORED))
    at = data.find(b"hello")
    data[at] = ord("j")
    with pytest.raises(UntrustedZipError, match="readable"):
        read_untrusted_zip(bytes(data))


def test_efactura_validator_never_hands_a_doctype_to_the_schematron(tmp_path):
    """`praho efactura validate FILE` parses files from anywhere: no entity reaches Saxon."""
    from praho.plugins.ro_efactura.validation import validate_all

    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    attack = (f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'
              '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&x;'
              "</Invoice>").encode()
    problems = validate_all(attack)
    assert [(p.rule_id, "DOCTYPE" in p.message) for p in problems] == [("XML", True)]
    assert "TOP-SECRET" not in " ".join(str(p) for p in problems)

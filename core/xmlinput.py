"""XML and zip archives from outside (ANAF, BNR, VIES, uploaded files), read defensively.

Every XML document that did not come from our own renderer goes through
:func:`parse_untrusted_xml`: lxml with entity resolution, DTD loading and network access
off, ``huge_tree`` off (libxml2's depth and text-node limits stay on), a size limit
checked before parsing, and any DOCTYPE refused, so neither an external entity (XXE) nor
an entity expansion ("billion laughs") can ever be processed.

Zip archives (ANAF's ``descarcare`` answers) go through :func:`read_untrusted_zip`, which
limits the compressed size, the number of entries, each entry's and the total
uncompressed size (counted while decompressing, never trusting the archive's own
headers) and refuses encrypted or duplicated entries: a zip bomb stops at the limit.

Both raise :class:`UntrustedInputError` subclasses with a reason a person can act on;
nothing else escapes for any input.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from lxml import etree
from praho.core.errors import PrahoError

DEFAULT_MAX_XML_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024


class UntrustedInputError(PrahoError):
    """Input from outside was refused; ``reason`` is a short code, the message says why."""

    http_status = 400
    code = "untrusted_input"
    reason = "invalid"


class UntrustedXMLError(UntrustedInputError):
    """XML that is too large, not well-formed, or uses a DOCTYPE or entities."""

    code = "invalid_xml"


class UntrustedZipError(UntrustedInputError):
    """A zip archive that is corrupt, encrypted, or exceeds a limit (zip bomb)."""

    code = "invalid_zip"


def safe_xml_parser() -> etree.XMLParser:
    """A fresh lxml parser that never resolves entities, loads DTDs or uses the network."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
    )


def parse_untrusted_xml(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_XML_BYTES,
                        what: str = "XML") -> etree._Element:
    """Parse XML from outside and return its root element, or raise :class:`UntrustedXMLError`.

    :param data: the raw bytes (text is encoded as UTF-8 first, so an encoding declaration
        in it must say UTF-8).
    :param max_bytes: refuse larger documents before parsing.
    :param what: how error messages name the document ("ANAF stareMesaj answer").
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UntrustedXMLError(f"{what}: expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) > max_bytes:
        error = UntrustedXMLError(f"{what}: {len(raw)} bytes exceeds the limit of {max_bytes}")
        error.reason = "too_large"
        raise error
    if not raw.strip():
        error = UntrustedXMLError(f"{what}: the body is empty")
        error.reason = "empty"
        raise error
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise _doctype(what)
    try:
        root = etree.fromstring(raw, parser=safe_xml_parser())
    except etree.XMLSyntaxError as exc:
        raise UntrustedXMLError(f"{what}: not well-formed XML ({exc.msg})") from None
    except (ValueError, TypeError, UnicodeError, LookupError) as exc:
        raise UntrustedXMLError(f"{what}: unreadable ({type(exc).__name__})") from None
    if root is None:
        raise UntrustedXMLError(f"{what}: no root element")
    # A UTF-16 document hides "<!DOCTYPE" from the byte scan above; the parsed tree does not.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype(what)
    return root


def _doctype(what: str) -> UntrustedXMLError:
    error = UntrustedXMLError(f"{what}: a DOCTYPE or entity declaration is not allowed")
    error.reason = "doctype"
    return error


@dataclass(frozen=True)
class ZipLimits:
    """Limits for an archive from outside; the defaults suit a few small XML files."""

    max_bytes: int = 20 * 1024 * 1024
    max_entries: int = 16
    max_entry_bytes: int = 16 * 1024 * 1024
    max_total_bytes: int = 32 * 1024 * 1024
    max_name_length: int = 255


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
               ValueError, EOFError, OSError, zlib.error, KeyError, IndexError, OverflowError)


def read_untrusted_zip(raw: bytes, *, limits: ZipLimits | None = None,
                       what: str = "zip archive") -> dict[str, bytes]:
    """Every file of a zip from outside as ``{name: bytes}`` (folders skipped), within limits.

    Raises :class:`UntrustedZipError` for a corrupt, encrypted or oversized archive.
    """
    limits = limits or ZipLimits()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise UntrustedZipError(f"{what}: expected bytes, got {type(raw).__name__}")
    if len(raw) > limits.max_bytes:
        raise _zip_limit(f"{what}: {len(raw)} bytes exceeds the limit of {limits.max_bytes}")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
            infos = archive.infolist()
            if len(infos) > limits.max_entries:
                raise _zip_limit(
                    f"{what}: {len(infos)} entries exceed the limit of {limits.max_entries}"
                )
            files: dict[str, bytes] = {}
            total = 0
            for info in infos:
                name = info.filename
                if len(name) > limits.max_name_length:
                    raise UntrustedZipError(f"{what}: an entry name is longer than "
                                            f"{limits.max_name_length} characters")
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise UntrustedZipError(f"{what}: entry {name!r} is encrypted")
                if name in files:
                    raise UntrustedZipError(f"{what}: entry {name!r} appears twice")
                if info.file_size > limits.max_entry_bytes:
                    raise _zip_limit(f"{what}: entry {name!r} declares {info.file_size} bytes; "
                                     f"the limit is {limits.max_entry_bytes}")
                data = _read_entry(archive, info, limits.max_entry_bytes, what)
                total += len(data)
                if total > limits.max_total_bytes:
                    raise _zip_limit(f"{what}: more than {limits.max_total_bytes} bytes "
                                     "uncompressed")
                files[name] = data
            return files
    except UntrustedZipError:
        raise
    except _ZIP_ERRORS as exc:
        raise UntrustedZipError(f"{what}: not a readable zip ({type(exc).__name__})") from None


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, what: str) -> bytes:
    """Decompress one entry, stopping as soon as it exceeds ``limit`` (headers may lie)."""
    buffer = bytearray()
    with archive.open(info) as handle:
        while chunk := handle.read(_CHUNK):
            buffer += chunk
            if len(buffer) > limit:
                raise _zip_limit(f"{what}: entry {info.filename!r} inflates past {limit} bytes")
    return bytes(buffer)


def _zip_limit(message: str) -> UntrustedZipError:
    error = UntrustedZipError(message)
    error.reason = "too_large"
    return error

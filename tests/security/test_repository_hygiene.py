"""The repository holds no committed secrets, and secrets are compared in constant time."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from praho.core.credentials import PROJECT_ROOT

SKIP_DIRS = {".git", ".venv", "venv", "instance", "build", "dist", "node_modules", "__pycache__",
             ".mypy_cache", ".ruff_cache", ".pytest_cache"}
SECRET_PATTERNS = {
    "Stripe secret or restricted key": re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}"),
    "Stripe webhook signing secret": re.compile(r"\bwhsec_[A-Za-z0-9]{24,}"),
    "PayPal live access token": re.compile(r"\bA21AA[A-Za-z0-9_-]{40,}"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:(?!\{)[^\s@/'\"$]{6,}@(?!127\.0\.0\.1|localhost)"),
    "production secret assignment": re.compile(
        r"\bPRAHO_[A-Z_]*(?:SECRET|PASSWORD|TOKEN_KEY)[A-Z_]*(?<!_FILE)\s*=\s*['\"]?"
        r"(?![/$])[A-Za-z0-9+/=_-]{24,}"),
}


def _repository_files() -> list[Path]:
    """Tracked files (git ls-files), or every file outside build and cache folders."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True,
                                check=True, timeout=60).stdout.decode().split("\0")
        files = [PROJECT_ROOT / name for name in listed if name]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in PROJECT_ROOT.rglob("*")
                 if p.is_file() and not SKIP_DIRS & set(p.relative_to(PROJECT_ROOT).parts)]
    return [f for f in files if f.is_file() and f.stat().st_size < 5_000_000]


def test_no_secrets_are_committed():
    findings = []
    for path in _repository_files():
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary (fonts, PDFs, zips)
        text = data.decode("utf-8", "replace")
        for name, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                findings.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}")
    assert not findings, "secrets committed to the repository:\n" + "\n".join(findings)


def test_the_scan_would_find_a_committed_key(tmp_path):
    sample = "STRIPE_KEY = '" + "sk_" + "live_" + "a1B2c3D4e5F6g7H8i9J0k1L2" + "'"
    assert SECRET_PATTERNS["Stripe secret or restricted key"].search(sample)
    assert not SECRET_PATTERNS["password in a URL"].search("postgresql+psycopg://postgres@127.0.0.1/x")
    assert not SECRET_PATTERNS["production secret assignment"].search(
        "PRAHO_SECRET_KEY_FILE=/run/secrets/praho_secret_key")
    assert SECRET_PATTERNS["production secret assignment"].search(
        "PRAHO_SECRET_KEY=" + "Zm9vYmFyYmF6cXV4cXV1eGNvcmdl")


# Names that hold a signature, token, secret, digest or MAC. Comparing one with == or !=
# leaks, through timing, how many leading characters an attacker guessed right.
SENSITIVE_NAME = re.compile(
    r"(?:^|_)(signature|sig|token|secret|digest|hexdigest|hmac|mac|password|passwd|api_key|"
    r"sha256|hash)s?(?:$|_)", re.IGNORECASE)


def _names(node: ast.AST) -> list[str]:
    names = []
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.append(child.id)
        elif isinstance(child, ast.Attribute):
            names.append(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            names.append("")  # string literals are not secrets by themselves
    return names


def _sensitive(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and not isinstance(node.value, str):
        return False
    return any(SENSITIVE_NAME.search(name) and not name[:1].isupper() for name in _names(node))


def _is_query(node: ast.Compare) -> bool:
    """SQLAlchemy column comparisons (``Model.column == value``) build SQL, not a check."""
    left = node.left
    return isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name) \
        and left.value.id[:1].isupper()


def test_secrets_are_compared_in_constant_time():
    offenders = []
    for folder in ("core", "plugins", "admin"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            if "tests" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Compare) or _is_query(node):
                    continue
                if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                    continue
                operands = [node.left, *node.comparators]
                if any(_sensitive(operand) for operand in operands) and not any(
                        isinstance(o, ast.Constant) and o.value in (None, "", 0) for o in operands):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: "
                                     f"{ast.unparse(node)}")
    assert not offenders, ("compare signatures, tokens and digests with hmac.compare_digest:\n"
                           + "\n".join(offenders))


def test_the_constant_time_check_catches_a_plain_comparison():
    tree = ast.parse("ok = request_signature == expected_signature\nq = Token.cui == cui\n")
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert _sensitive(compares[0].left) and not _is_query(compares[0])
    assert _is_query(compares[1])

"""Where secrets come from: the environment, or a secrets file outside the repository.

Every ``PRAHO_<NAME>`` setting (and every ``{ env = "NAME" }`` reference of
plugin_manifest.toml) may instead be given as ``PRAHO_<NAME>_FILE`` (``NAME_FILE``): the
path of a file holding the value, the way Docker and Kubernetes mount secrets
(``/run/secrets/praho_secret_key``). One trailing newline is removed.

A secrets file inside the project folder (the checkout or the installed package) is
refused, so a secret can never end up committed next to the code; so is giving both the
variable and its ``_FILE`` twin, an unreadable file, or an oversized one. Error messages
name the variable and the path, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FILE_SUFFIX = "_FILE"
MAX_SECRET_FILE_BYTES = 64 * 1024


class SecretSourceError(RuntimeError):
    """A secret could not be read from where the configuration says it is."""


def inside_project(path: Path, root: Path = PROJECT_ROOT) -> bool:
    """True when ``path`` (symlinks resolved) lies in the project folder ``root``."""
    resolved_root = root.resolve()
    for candidate in {path.absolute(), path.resolve()}:
        if candidate == resolved_root or resolved_root in candidate.parents:
            return True
    return False


def read_secret_file(variable: str, path_text: str, *, root: Path = PROJECT_ROOT) -> str:
    """The content of the secrets file named by ``variable`` (one trailing newline removed)."""
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        raise SecretSourceError(f"{variable}: give an absolute path to the secrets file, "
                                f"not {path_text!r}")
    if inside_project(path, root):
        raise SecretSourceError(
            f"{variable}: {path} is inside the project folder {root}; keep secrets files "
            "outside the repository (e.g. /run/secrets or /etc/praho)"
        )
    try:
        size = path.stat().st_size
        if size > MAX_SECRET_FILE_BYTES:
            raise SecretSourceError(f"{variable}: {path} is {size} bytes; a secrets file holds "
                                    f"at most {MAX_SECRET_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except SecretSourceError:
        raise
    except FileNotFoundError:
        raise SecretSourceError(f"{variable}: secrets file {path} does not exist") from None
    except IsADirectoryError:
        raise SecretSourceError(f"{variable}: {path} is a folder, not a secrets file") from None
    except PermissionError:
        raise SecretSourceError(f"{variable}: secrets file {path} is not readable") from None
    except UnicodeDecodeError:
        raise SecretSourceError(f"{variable}: secrets file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise SecretSourceError(f"{variable}: cannot read {path} ({exc.strerror})") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


def env_or_file(name: str, environ: Mapping[str, str] | None = None, *,
                root: Path = PROJECT_ROOT) -> str | None:
    """The value of environment variable ``name``, or of the file ``<name>_FILE`` points to.

    Empty values count as unset. Giving both is an error: which one wins would be a guess.
    """
    env = os.environ if environ is None else environ
    direct = env.get(name)
    file_path = env.get(name + FILE_SUFFIX)
    if direct and file_path:
        raise SecretSourceError(f"both {name} and {name}{FILE_SUFFIX} are set; keep one")
    if file_path:
        return read_secret_file(name + FILE_SUFFIX, file_path, root=root)
    return direct or None

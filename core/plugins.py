"""The plugin manager: plugin_manifest.toml plus the ``praho.plugins`` entry points.

Built in :func:`praho.core.app.create_app`, never at import time. The manifest says
which plugins load, in what order, and with what settings; a setting written as
``{ env = "PRAHO_X" }`` is read from the environment (or from the secrets file that
``PRAHO_X_FILE`` names, see :mod:`praho.core.credentials`) so secrets stay out of the file.
Third-party packages add plugins through the entry point group ``praho.plugins``; the
manifest may list them too to give them settings or disable them.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
from flask import current_app, has_app_context
from praho.core import hookspecs
from praho.core.credentials import SecretSourceError, env_or_file
from praho.core.errors import PluginError
from praho.core.redaction import SECRET_SETTING_NAME

ENTRY_POINT_GROUP = "praho.plugins"
DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "plugin_manifest.toml"


@dataclass
class PluginSpec:
    """One plugin as the manifest (or an entry point) describes it."""

    name: str
    module: str
    version: str = "0"
    depends: list[str] = field(default_factory=list)
    enabled: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    source: str = "manifest"


@dataclass
class PluginRegistry:
    """The loaded plugins and their hook relay, stored on ``app.extensions``."""

    pm: pluggy.PluginManager
    specs: dict[str, PluginSpec]
    settings: dict[str, dict[str, Any]]
    _objects: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def hook(self) -> Any:
        """The hook relay: ``registry.hook.invoice_issued(session=..., invoice=...)``."""
        return self.pm.hook

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a ``register_*`` hook and flatten the lists every plugin returned."""
        results = getattr(self.pm.hook, hook_name)(**kwargs)
        flat: list[Any] = []
        for result in results:
            if result is None:
                continue
            if isinstance(result, list | tuple):
                flat.extend(result)
            else:
                flat.append(result)
        return flat

    def by_id(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """Call a ``register_*`` hook and index the returned objects by their ``id``."""
        indexed: dict[str, Any] = {}
        for obj in self.collect(hook_name, **kwargs):
            if obj.id in indexed:
                raise PluginError(f"two plugins registered {hook_name} id {obj.id!r}")
            indexed[obj.id] = obj
        return indexed

    def objects(self, hook_name: str) -> dict[str, Any]:
        """Like :meth:`by_id` for argument-less ``register_*`` hooks, computed once per app."""
        if hook_name not in self._objects:
            self._objects[hook_name] = self.by_id(hook_name)
        return self._objects[hook_name]

    def is_loaded(self, name: str) -> bool:
        """True when the named plugin is enabled and registered."""
        return name in self.specs and self.pm.has_plugin(name)


def resolve_setting(value: Any, where: str, environ: dict[str, str] | os._Environ[str]) -> Any:
    """Replace ``{env = "NAME", default = ...}`` tables by the environment's value.

    ``NAME_FILE`` may name a secrets file holding the value instead (Docker/Kubernetes).
    """
    if isinstance(value, dict) and "env" in value and set(value) <= {"env", "default", "required"}:
        name = value["env"]
        try:
            found = env_or_file(name, environ)
        except SecretSourceError as exc:
            raise PluginError(f"{where}: {exc}") from None
        if found is not None:
            return found
        if value.get("required"):
            raise PluginError(f"{where}: environment variable {name} is required but not set")
        return value.get("default")
    if isinstance(value, dict):
        return {k: resolve_setting(v, f"{where}.{k}", environ) for k, v in value.items()}
    return value


def read_manifest(path: Path) -> list[PluginSpec]:
    """Parse plugin_manifest.toml into specs, with a clear error for each mistake."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PluginError(f"plugin manifest {path} not found (set PRAHO_PLUGIN_MANIFEST)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"plugin manifest {path}: {exc}") from None
    specs: list[PluginSpec] = []
    for index, entry in enumerate(data.get("plugin", [])):
        where = f"{path.name}: plugin[{index}]"
        unknown = set(entry) - {"name", "module", "version", "depends", "enabled", "settings"}
        if unknown:
            raise PluginError(f"{where}: unknown keys {sorted(unknown)}")
        for required in ("name", "module"):
            if not entry.get(required):
                raise PluginError(f"{where}: '{required}' is required")
        _refuse_literal_secrets(entry.get("settings", {}), f"{where}.settings")
        specs.append(
            PluginSpec(
                name=entry["name"],
                module=entry["module"],
                version=str(entry.get("version", "0")),
                depends=list(entry.get("depends", [])),
                enabled=bool(entry.get("enabled", True)),
                settings=dict(entry.get("settings", {})),
            )
        )
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PluginError(f"{path.name}: plugin listed twice: {sorted(duplicates)}")
    return specs


def _refuse_literal_secrets(settings: Any, where: str) -> None:
    """A secret-named setting must be an ``{ env = ... }`` reference, never a literal value.

    The reference's ``default`` is refused too when it is a non-empty string: it is used
    whenever the variable is unset, so a password written there is a password in the file.
    """
    if not isinstance(settings, dict):
        return
    for key, value in settings.items():
        if isinstance(value, dict) and "env" not in value:
            _refuse_literal_secrets(value, f"{where}.{key}")
            continue
        if not SECRET_SETTING_NAME.search(str(key)):
            continue
        if isinstance(value, dict):
            literal, place = value.get("default"), f"{where}.{key}.default"
        else:
            literal, place = value, f"{where}.{key}"
        if isinstance(literal, str) and literal:
            raise PluginError(
                f"{place}: a secret must not be written in the manifest; use "
                f'{{ env = "PRAHO_..." }} without a default and set the variable '
                "(or its _FILE twin)"
            )


def _entry_point_specs(known: set[str]) -> list[PluginSpec]:
    specs = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in known:
            continue
        specs.append(PluginSpec(name=ep.name, module=ep.value, source=f"entry point {ep.name}"))
    return specs


def _import(spec: PluginSpec) -> ModuleType | Any:
    module_name, _, attribute = spec.module.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"plugin {spec.name!r}: cannot import {module_name!r}: {exc}") from None
    if attribute:
        try:
            return getattr(module, attribute)
        except AttributeError:
            raise PluginError(f"plugin {spec.name!r}: {module_name} has no {attribute!r}") from None
    return module


def _check_dependencies(specs: Iterable[PluginSpec]) -> None:
    enabled = {s.name for s in specs if s.enabled}
    for spec in specs:
        if not spec.enabled:
            continue
        missing = [d for d in spec.depends if d not in enabled]
        if missing:
            raise PluginError(f"plugin {spec.name!r} depends on {missing}, which are not enabled")


def build_registry(
    manifest_path: Path | None,
    *,
    app: Any,
    environ: dict[str, str] | os._Environ[str] | None = None,
    extra_plugins: Iterable[tuple[str, Any]] = (),
    load_entry_points: bool = True,
) -> PluginRegistry:
    """Load the manifest's enabled plugins and entry-point plugins into a plugin manager."""
    env = os.environ if environ is None else environ
    specs = read_manifest(manifest_path or DEFAULT_MANIFEST)
    if load_entry_points:
        specs += _entry_point_specs({s.name for s in specs})
    _check_dependencies(specs)

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    loaded: dict[str, PluginSpec] = {}
    settings: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if not spec.enabled:
            continue
        plugin = _import(spec)
        settings[spec.name] = resolve_setting(spec.settings, f"plugin {spec.name!r} settings", env)
        pm.register(plugin, name=spec.name)
        loaded[spec.name] = spec
    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
        loaded[name] = PluginSpec(name=name, module=repr(plugin), source="create_app(plugins=...)")
        settings.setdefault(name, {})
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from None

    registry = PluginRegistry(pm=pm, specs=loaded, settings=settings)
    implementations = {impl.plugin_name: impl
                       for impl in pm.hook.plugin_configured.get_hookimpls()}
    for name in loaded:
        impl = implementations.get(name)
        if impl is None:
            continue
        # Each plugin gets its own settings, so the hook cannot go to every plugin at once.
        # Pass only the arguments the implementation declares, as pluggy's own calls do:
        # an implementation may take fewer than the spec (docs/plugins.md).
        offered = {"app": app, "name": name, "settings": settings[name]}
        impl.function(**{arg: offered[arg] for arg in impl.argnames})
    return registry


def get_registry() -> PluginRegistry:
    """The registry of the current Flask application (services call hooks through it)."""
    if not has_app_context():
        raise PluginError("no application context: create the app with create_app() first")
    registry: PluginRegistry = current_app.extensions["praho.plugins"]
    return registry


def hook() -> Any:
    """Shortcut to the current application's hook relay."""
    return get_registry().hook


def plugin_settings(name: str) -> dict[str, Any]:
    """The resolved settings of one plugin in the current application."""
    return get_registry().settings.get(name, {})

"""The provider registry: name -> provider class, loaded lazily.

Built-in providers and third-party ones are found the same way, through the ``ftkit.providers``
entry-point group, and imported only when first used, so ``import ftkit`` stays light. A provider can
also be registered at run time with :func:`register_provider` (tests, notebooks).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ftkit.errors import ConfigError, ProviderUnavailableError, UnknownProviderError

if TYPE_CHECKING:
    from ftkit.provider import Provider

__all__ = ["ProviderInfo", "available_providers", "create_provider", "get_provider", "register_provider"]

ENTRY_POINT_GROUP = "ftkit.providers"

# The built-ins are declared once, as entry points in ftkit's own pyproject.toml, exactly as a plugin
# declares its provider. When one of ftkit's own providers lacks its SDK, the install hint is the extra
# named after it (``pip install 'ftkit[together]'``).
_OWN_DISTRIBUTION = "ftkit"


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    target: str  # "package.module:Class", or the class's qualified name when registered directly
    origin: str  # "built-in", "entry point (dist)", "registered"
    extra: str | None = None


_lock = threading.Lock()
_targets: dict[str, ProviderInfo] = {}
_classes: dict[str, type[Provider]] = {}
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    from importlib.metadata import entry_points

    with _lock:
        if _discovered:
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            name = ep.name.lower()
            dist = getattr(ep.dist, "name", None) or "unknown distribution"
            if dist == _OWN_DISTRIBUTION:
                _targets[name] = ProviderInfo(name, ep.value, "built-in", extra=name)
            else:
                _targets[name] = ProviderInfo(name, ep.value, f"entry point ({dist})")
        _discovered = True


def register_provider(name: str, provider: type[Provider] | str, *, replace: bool = False) -> None:
    """Register a provider class (or a ``"module:Class"`` path) under ``name``."""
    _discover()
    name = name.lower()
    with _lock:
        if name in _targets and not replace:
            raise ConfigError(f"A provider named {name!r} is already registered; pass replace=True to override it.")
        if isinstance(provider, str):
            _targets[name] = ProviderInfo(name, provider, "registered")
            _classes.pop(name, None)
        else:
            _targets[name] = ProviderInfo(name, f"{provider.__module__}:{provider.__qualname__}", "registered")
            _classes[name] = provider


def available_providers() -> MappingProxyType[str, ProviderInfo]:
    """Every known provider name, installed or not, without importing any of them."""
    _discover()
    return MappingProxyType(dict(sorted(_targets.items())))


def get_provider(name: str) -> type[Provider]:
    """The provider class registered under ``name``, imported on first use."""
    from ftkit.provider import Provider

    _discover()
    name = name.lower()
    if name in _classes:
        return _classes[name]
    info = _targets.get(name)
    if info is None:
        raise UnknownProviderError(name, sorted(_targets))
    module_name, _, attr = info.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        missing = (e.name or module_name).split(".")[0]
        if info.extra:
            raise ProviderUnavailableError(name, missing, info.extra) from e
        raise ConfigError(f"Provider {name!r} ({info.target}) could not be imported: {e}") from e
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"{info.target} (provider {name!r}) is not a subclass of ftkit.provider.Provider.")
    with _lock:
        _classes[name] = cls
    return cls


def hosting_of(name: str) -> Any:
    """The declared :class:`~ftkit.provider.Hosting` of provider ``name`` (SERVERLESS when it cannot be
    imported here: a report about a provider whose extra is missing still renders)."""
    from ftkit.provider import Hosting

    try:
        return get_provider(name).hosting
    except ConfigError:
        return Hosting.SERVERLESS


def providers_by_hosting() -> dict[str, list[str]]:
    """Installed provider names grouped by their declared hosting ("self-hosted", "serverless", "deployment").

    Providers whose extra is not installed are left out (they cannot run here anyway)."""
    grouped: dict[str, list[str]] = {}
    for name in available_providers():
        try:
            cls = get_provider(name)
        except ConfigError:
            continue
        grouped.setdefault(cls.hosting.value, []).append(name)
    return grouped


def self_hosted_provider() -> str:
    """The provider a bare path or model name means: the one that trains and serves on your own hardware
    (a built-in one first, when a plugin declares the same)."""
    candidates = providers_by_hosting().get("self-hosted", [])
    builtins = [n for n in candidates if _targets[n].origin == "built-in"]
    if not (builtins or candidates):
        raise ConfigError("No self-hosted provider is installed: pip install 'ftkit[local]' and try again.")
    return (builtins or candidates)[0]


def create_provider(name: str, **config: Any) -> Provider:
    """An instance of provider ``name`` with its connection settings (``api_key=``, ``base_url=``...)."""
    cls = get_provider(name)
    try:
        return cls(**config)
    except TypeError as e:
        raise ConfigError(f"Provider {name!r} does not take these settings: {e}") from None

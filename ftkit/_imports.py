"""Lazy imports of optional dependencies with an install hint when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from ftkit.errors import ProviderUnavailableError


def require(module: str, *, extra: str, provider: str | None = None) -> ModuleType:
    """Import ``module`` or raise an error that says which ftkit extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        missing = (e.name or module).split(".")[0]
        raise ProviderUnavailableError(provider or extra, missing, extra) from e

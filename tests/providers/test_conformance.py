"""The one conformance suite, run against every provider that has a harness here.

Each ``harness_<name>.py`` beside this file defines ``Harness``; a test class per provider is made
from it, so ``pytest -k local`` (or ``-k openai``) runs the whole suite on one provider.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ftkit.testing import ProviderConformance

_HERE = Path(__file__).parent

for _module_info in sorted(pkgutil.iter_modules([str(_HERE)]), key=lambda m: m.name):
    if not _module_info.name.startswith("harness_"):
        continue
    _harness = importlib.import_module(f"tests.providers.{_module_info.name}").Harness
    _class_name = f"Test{_harness.name.title()}Conformance"
    globals()[_class_name] = type(_class_name, (ProviderConformance,), {"harness_class": _harness})

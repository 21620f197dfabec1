"""Every example in a docstring runs: the doctests of every module of ftkit and its built-in providers.

A module is imported only when its source has an example, so this stays fast; a module whose optional
extra (torch, an SDK) is not installed is skipped with the install hint, never failed. Examples that
need a network, a GPU or a real job are marked ``# doctest: +SKIP`` where they are written.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import ftkit.providers
import pytest


def _modules_with_examples() -> list[str]:
    # ftkit.providers is walked by its own __path__: providers/ installs as ftkit.providers
    sources: dict[str, Path] = {}
    for package in (ftkit, ftkit.providers):
        sources[package.__name__] = Path(package.__file__)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            folder = Path(info.module_finder.path)  # type: ignore[union-attr]
            leaf = info.name.rpartition(".")[2]
            sources[info.name] = folder / leaf / "__init__.py" if info.ispkg else folder / f"{leaf}.py"
    # read the source, not the module: importing one without examples (torch...) would only cost time
    return sorted(name for name, path in sources.items()
                  if path.is_file() and ">>>" in path.read_text(encoding="utf-8"))


MODULES = _modules_with_examples()


def test_modules_with_examples_are_found():
    # the walk reaches the providers (installed as ftkit.providers.*) as well as the core
    assert "ftkit.errors" in MODULES and any(m.startswith("ftkit.providers.") for m in MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name, tmp_path, monkeypatch):
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        pytest.skip(f"{name} needs an optional dependency that is not installed: {e}")
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name, module=module) if t.examples]
    failures: list[str] = []
    for test in tests:
        runner.run(test, out=failures.append)
    assert not failures, "".join(failures)

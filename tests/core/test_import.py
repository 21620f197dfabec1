"""`import ftkit` stays light: no torch, transformers, provider SDKs or CLI libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "trl", "openai", "together", "datasets", "typer", "rich", "numpy")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_ftkit_imports_nothing_heavy():
    loaded = _modules_after("import ftkit")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_validators_block_checker_loads_neither_the_job_api_nor_the_report_models():
    # every helper process of `ftkit validate` imports it on start: each of these cost it time (~0.3 s)
    loaded = _modules_after("import ftkit.data._chunk")
    unwanted = {"ftkit.job", "ftkit.data.report", "pydantic", "ftkit.cli", "typer", "rich", "torch"}
    assert not loaded & unwanted, loaded & unwanted


def test_public_names_resolve_on_first_use_to_their_modules_objects():
    import ftkit
    import ftkit.data
    from ftkit.data.report import ValidationReport
    from ftkit.errors import FtkitError
    from ftkit.job import FineTuneJob

    assert ftkit.FineTuneJob is FineTuneJob and ftkit.FtkitError is FtkitError
    assert ftkit.ValidationReport is ValidationReport is ftkit.data.ValidationReport
    assert sorted(dir(ftkit)) == sorted(ftkit.__all__)


def test_provider_classes_load_without_their_sdks():
    loaded = _modules_after("from ftkit.registry import get_provider\nfor n in ('local','openai','together'): get_provider(n)")
    assert not loaded & {"torch", "transformers", "openai", "together"}, loaded & {"torch", "transformers", "openai", "together"}


def test_public_api_is_small_and_exported():
    import ftkit

    assert "FineTuneJob" in ftkit.__all__
    for name in ftkit.__all__:
        assert hasattr(ftkit, name) or name in ("evaluate", "compare")

"""What a user's ``pip install ftkit`` gets: the typing marker and every provider's data files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> set[str]:
    if shutil.which("git") is None:
        pytest.skip("needs git to list the tracked files")
    # Build from a copy of the checkout (tracked files and new ones git does not ignore), so the checkout
    # itself gets no build/ folder.
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(out)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = out.glob("ftkit-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


def test_the_wheel_ships_py_typed(wheel_files):
    # PEP 561: without the marker, mypy and pyright ignore ftkit's annotations
    assert "ftkit/py.typed" in wheel_files


def test_the_wheel_ships_each_providers_catalog(wheel_files):
    catalogs = sorted(p.parent.name for p in (ROOT / "providers").glob("*/catalog.yaml"))
    assert catalogs
    for name in catalogs:
        assert f"ftkit/providers/{name}/catalog.yaml" in wheel_files


def test_the_wheel_ships_no_tests_or_fixtures(wheel_files):
    assert not [n for n in wheel_files if n.startswith("tests/") or n.endswith(".db")]

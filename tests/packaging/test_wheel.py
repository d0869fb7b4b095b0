"""The wheel a user installs: built offline from this checkout, then read back."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import wxa_async

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    if not os.environ.get("CI"):  # the test group installs it; CI must not skip
        pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the backend (hatchling) comes from the test group, not the network.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
         str(ROOT)], capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("*.whl")
    return zipfile.ZipFile(built)


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode("utf-8")


def test_the_metadata_is_complete(wheel: zipfile.ZipFile) -> None:
    meta = email.parser.Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert meta["Name"] == "wxa_async"
    assert meta["Version"] == wxa_async.__version__  # one version, in wxa_async/_version.py
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    classifiers = meta.get_all("Classifier") or []
    for expected in ("Framework :: AsyncIO", "Typing :: Typed",
                     "Programming Language :: Python :: 3.11",
                     "Programming Language :: Python :: 3 :: Only"):
        assert expected in classifiers
    assert "wechat" in (meta["Keywords"] or "")
    # Users get the extras, never the development tools.
    extras = set(meta.get_all("Provides-Extra") or [])
    assert extras == {"aiohttp", "redis", "crypto", "emulator", "cli", "otel", "rollout",
                      "postgresql", "uvloop", "dashboard"}
    requires = " ".join(meta.get_all("Requires-Dist") or [])
    for tool in ("pytest", "nox", "ruff", "mypy", "hypothesis"):
        assert tool not in requires
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (ROOT / "README.md").read_text("utf-8").strip()
    assert "Project-URL" not in meta  # none invented: there is no public repository yet


def test_the_wheel_ships_the_library_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    shipped = {n for n in names if not n.startswith("wxa_async-")}
    source = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "wxa_async").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == source
    assert "wxa_async/py.typed" in shipped
    assert not any(n.startswith(("tests/", "benchmarks/", "docs/")) for n in names)
    assert not any("soak" in n for n in names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "MIT License" in _dist_info(wheel, "licenses/LICENSE")
    entry_points = _dist_info(wheel, "entry_points.txt")
    assert "wxa-async = wxa_async.cli:main" in entry_points

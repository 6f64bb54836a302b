"""Shared test helpers: build repositories on disk, find the SARIF validator."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.model import Report

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SARIF_VALIDATE = ROOT.parent / "shared" / "tools" / "sarif-validate"


@pytest.fixture(autouse=True, scope="session")
def _isolated_rule_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read or write the user's rule cache."""
    old = os.environ.get("TETHER_CACHE_DIR")
    os.environ["TETHER_CACHE_DIR"] = str(tmp_path_factory.mktemp("tether-cache"))
    yield
    if old is None:
        os.environ.pop("TETHER_CACHE_DIR", None)
    else:
        os.environ["TETHER_CACHE_DIR"] = old


def make_report(**fields: Any) -> Report:
    """A Report with every required field empty, overridden by `fields` (report tests)."""
    from scanner.model import Timings

    base: dict[str, Any] = {
        "root": ".",
        "findings": [],
        "diagnostics": [],
        "tallies": {},
        "rules": {},
        "baseline_files": [],
        "timings": Timings(),
    }
    return Report(**{**base, **fields})


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(content) if content.startswith("\n") else content)
    return root


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    counter = iter(range(1000))

    def make(files: Mapping[str, str]) -> Path:
        return write_tree(tmp_path / f"repo{next(counter)}", files)

    return make


def validate_sarif(*paths: Path) -> None:
    """Run ../shared/tools/sarif-validate (Microsoft's SARIF Multitool with GitHub's rules).

    Skipped where the shared tools are absent, unless TETHER_REQUIRE_SARIF_VALIDATE is set
    (CI sets it, so a missing validator fails there instead of passing quietly)."""
    if not SARIF_VALIDATE.exists() or shutil.which("npm") is None:
        if os.environ.get("TETHER_REQUIRE_SARIF_VALIDATE"):
            pytest.fail(f"SARIF validator not available at {SARIF_VALIDATE}")
        pytest.skip("../shared/tools/sarif-validate not available")
    proc = subprocess.run(
        [str(SARIF_VALIDATE), *map(str, paths)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for p in paths:
        assert f"{p}: ok" in proc.stdout, proc.stdout


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of the test's own (not yet created), the cache on."""
    d = tmp_path / "cache"
    monkeypatch.setenv("TETHER_CACHE_DIR", str(d))
    monkeypatch.delenv("TETHER_NO_CACHE", raising=False)
    return d

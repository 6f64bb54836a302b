"""Packaging: a non-editable wheel install carries rules/ and baselines/ and scans an example
from outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and "No module named 'hatchling'" in proc.stderr:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("tether-*.whl")
    return whl


def test_wheel_ships_rules_baselines_and_schemas(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "scanner/_data/rules/terraform/TF001.yml" in names
    assert "scanner/_data/baselines/default.yml" in names
    assert "scanner/schemas/rule.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_wheel_scans_example_from_elsewhere(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # dependencies come from this interpreter's site-packages (a plain path line in a .pth
    # file: .pth files inside it, such as an editable install of tether, are not processed);
    # tether itself is installed from the wheel only
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [str(env_dir / "bin" / "tether"), "scan", str(EXAMPLES / "acme-payments")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert "TF001" in proc.stdout and "<embedded>" not in proc.stderr
    where = subprocess.run(
        [str(py), "-c", "import scanner, sys; print(scanner.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert str(env_dir) in where  # the installed copy, not the checkout

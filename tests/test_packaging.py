"""Packaging: a non-editable wheel install carries rules/ and baselines/ and scans an example
from outside the source tree; the Python floor is stated alike everywhere; the GitHub Action
installs into a virtual environment of its own from a hash-locked requirements file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from ruamel.yaml import YAML

from scanner import __version__

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


# --- the Python floor, and the GitHub Action's hash-locked install ------------------------------

LOCK = ROOT / "requirements" / "action.txt"
INSTALL_SCRIPT = ROOT / "scripts" / "action-install.sh"
# what pip prints when it cannot reach the package index (and nothing else failed)
_UNREACHABLE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Name or service not known|Network is unreachable|No route to host|"
    r"Connection refused|ConnectTimeoutError|ProxyError"
)


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _floor() -> str:
    m = re.fullmatch(r">=(3\.\d+)", _pyproject()["project"]["requires-python"])
    assert m, "requires-python is a plain '>=3.N' floor"
    return m.group(1)


def _action() -> dict[str, Any]:
    doc: dict[str, Any] = YAML(typ="safe").load(ROOT / "action.yml")
    return doc


def _action_step(step_id: str) -> dict[str, Any]:
    (step,) = (s for s in _action()["runs"]["steps"] if s.get("id") == step_id)
    return step


def _lock() -> dict[str, tuple[Requirement, list[str]]]:
    """requirements/action.txt: canonical name -> (the pinned requirement, its sha256 hashes)."""
    pins: dict[str, tuple[Requirement, list[str]]] = {}
    for line in LOCK.read_text().replace("\\\n", " ").splitlines():
        line = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not line:
            continue
        spec, _, options = line.partition(" --hash=")
        req = Requirement(spec)
        pins[canonicalize_name(req.name)] = (
            req,
            re.findall(r"--hash=sha256:([0-9a-f]{64})\b", "--hash=" + options),
        )
    return pins


def _environments(floor: str) -> list[dict[str, str]]:
    """Marker environments of the runners the Action supports, and PyPy, from the floor up."""
    minor = int(floor.split(".")[1])
    envs = []
    for py in (f"3.{m}" for m in range(minor, minor + 4)):
        for impl, impl_name in (("CPython", "cpython"), ("PyPy", "pypy")):
            for sys_platform, system, os_name in (
                ("linux", "Linux", "posix"),
                ("darwin", "Darwin", "posix"),
                ("win32", "Windows", "nt"),
            ):
                envs.append(
                    {
                        "python_version": py,
                        "python_full_version": f"{py}.0",
                        "platform_python_implementation": impl,
                        "implementation_name": impl_name,
                        "sys_platform": sys_platform,
                        "platform_system": system,
                        "os_name": os_name,
                    }
                )
    return envs


def test_python_floor_is_stated_alike_everywhere() -> None:
    floor = _floor()
    pyproject = _pyproject()
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + floor.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == floor
    versions = [
        c.rsplit(" :: ", 1)[1]
        for c in pyproject["project"]["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert min(versions, key=Version) == floor
    readme = (ROOT / "README.md").read_text()
    stated = [
        *re.findall(r"Python (?:≥|>=) ?(3\.\d+)", readme),
        *re.findall(r"\b(3\.\d+) or later", readme),
        *re.findall(r"Python (3\.\d+) to 3\.\d+", readme),
    ]
    assert stated and set(stated) == {floor}, stated
    # the lock is resolved from the floor up, and the Action's default Python is supported
    assert f"--python-version {floor} " in LOCK.read_text()
    assert Version(_action()["inputs"]["python-version"]["default"]) >= Version(floor)


def test_action_lock_pins_every_dependency_with_hashes() -> None:
    pyproject = _pyproject()
    lock = _lock()
    for name, (pinned, hashes) in lock.items():
        assert [s.operator for s in pinned.specifier] == ["=="], pinned
        assert hashes, f"{name} has no --hash=sha256: in {LOCK.name}"
    declared = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    envs = _environments(_floor())
    for line in declared:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} (pyproject.toml) is not in {LOCK.name}"
        pinned, _ = lock[name]
        (pin,) = pinned.specifier
        assert req.specifier.contains(pin.version, prereleases=True), (line, str(pinned))
        for env in envs:
            wanted = req.marker is None or req.marker.evaluate(env)
            locked = pinned.marker is None or pinned.marker.evaluate(env)
            # installed wherever pyproject asks for it; and a marker of pyproject's (such as
            # ruamel.yaml.clib's CPython only) is kept, not widened
            assert locked == wanted if req.marker else locked, (line, str(pinned), env)


def test_action_installs_into_its_own_venv_from_the_lock() -> None:
    """The wiring the install test below relies on: setup-python leaves the job's Python and
    PATH alone, the install step gets only that interpreter and the action's path, and the
    scan runs with the interpreter the install step reports."""
    python = next(s for s in _action()["runs"]["steps"] if s.get("id") == "python")
    assert python["uses"].startswith("actions/setup-python@")
    assert python["with"]["update-environment"] is False
    install = _action_step("install")
    assert install["env"] == {
        "TETHER_ACTION_PATH": "${{ github.action_path }}",
        "TETHER_BASE_PYTHON": "${{ steps.python.outputs.python-path }}",
    }
    assert "scripts/action-install.sh" in install["run"]
    scan = _action_step("scan")
    assert scan["env"]["TETHER_ACTION_PYTHON"] == "${{ steps.install.outputs.python }}"
    # isolated: nothing from the workspace (the pull request's files) is importable
    assert scan["run"].strip() == '"$TETHER_ACTION_PYTHON" -I -m scanner.action'
    script = INSTALL_SCRIPT.read_text()
    assert "--require-hashes --only-binary :all: -r" in script
    assert "--no-deps --no-index --no-build-isolation" in script
    assert '"$base_python" -I -m venv' in script and '"$python" -I -m pip' in script


def _site_dists(python: str) -> set[str]:
    """Distributions installed for `python` that the Action would install."""
    names = {*_lock(), "tether"}
    code = (
        "import importlib.metadata as m, sys; "
        "print('\\n'.join(sorted({d.metadata['Name'] for d in m.distributions()})))"
    )
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True)
    return {n for n in map(canonicalize_name, out.stdout.split()) if n in names}


# Modules a pull request could add at the root of the workspace, where the Action's steps start:
# each would run in place of tether, pip, venv or ensurepip if the current directory were on
# sys.path (`python -m X` puts it first), or at start-up (sitecustomize, usercustomize through
# PYTHONPATH, which a job may point at its workspace). Each leaves a mark in a file and on both
# streams; those standing in for a command exit 0, as an attacker's would, to look like success.
_HOSTILE = {
    "scanner/__init__.py": "",
    "scanner/action.py": "exit",
    "scanner/__main__.py": "exit",
    "pip/__init__.py": "mark",
    "pip/__main__.py": "exit",
    "venv/__init__.py": "mark",
    "venv/__main__.py": "exit",
    "ensurepip/__init__.py": "mark",
    "ensurepip/__main__.py": "exit",
    "hatchling/__init__.py": "mark",
    "sitecustomize.py": "mark",
    "usercustomize.py": "mark",
    "startup.py": "mark",
}
_MARKER = "PWNED-BY-THE-WORKSPACE"


@pytest.fixture(scope="module")
def hostile_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pull request's checkout: an example repository with findings, plus Python modules at
    its root that would take over any interpreter importing from the current directory."""
    ws = tmp_path_factory.mktemp("workspace") / "repo"
    shutil.copytree(EXAMPLES / "acme-payments", ws)
    log = ws.parent / "pwned.log"
    for rel, kind in _HOSTILE.items():
        code = (
            ""
            if not kind
            else "import sys\n"
            f"open({str(log)!r}, 'a').write({rel!r} + '\\n')\n"
            f"print({_MARKER!r}, {rel!r})\n"
            f"print({_MARKER!r}, {rel!r}, file=sys.stderr)\n"
            + ("raise SystemExit(0)\n" if kind == "exit" else "")
        )
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(code)
    return ws


def _hostile_env(ws: Path) -> dict[str, str]:
    """The job's environment as a workflow might set it: PYTHONPATH at the workspace (a common
    job-level setting for a Python project's tests), PYTHONSTARTUP, a user base in it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return env | {
        "PYTHONPATH": str(ws),
        "PYTHONSTARTUP": str(ws / "startup.py"),
        "PYTHONUSERBASE": str(ws),
    }


def _assert_not_taken_over(ws: Path, proc: subprocess.CompletedProcess[str]) -> None:
    log = ws.parent / "pwned.log"
    ran = log.read_text() if log.exists() else ""
    assert not ran and _MARKER not in proc.stdout + proc.stderr, (
        f"code from the workspace ran: {ran or proc.stdout + proc.stderr}"
    )


@pytest.fixture(scope="module")
def action_python(tmp_path_factory: pytest.TempPathFactory, hostile_workspace: Path) -> Path:
    """Runs the Action's install step (its `run` script from action.yml, as the runner runs a
    bash step) with this interpreter as the one setup-python gives, in a hostile workspace (the
    directory steps start in); returns the python it reports. Needs the package index: skipped
    when it is unreachable, failed instead when TETHER_REQUIRE_NETWORK is set (CI sets it)."""
    tmp = tmp_path_factory.mktemp("action-install")
    base = getattr(sys, "_base_executable", sys.executable)
    before = _site_dists(base)
    output = tmp / "github_output"
    output.write_text("")
    script = tmp / "install.sh"
    script.write_text(_action_step("install")["run"])
    env = _hostile_env(hostile_workspace)
    env |= {
        "TETHER_ACTION_PATH": str(ROOT),
        "TETHER_BASE_PYTHON": base,
        "RUNNER_TEMP": str(tmp),
        "GITHUB_OUTPUT": str(output),
        # an unreachable index fails fast instead of retrying for minutes
        "PIP_RETRIES": "1",
        "PIP_DEFAULT_TIMEOUT": "30",
    }
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=hostile_workspace,
        timeout=600,
    )
    _assert_not_taken_over(hostile_workspace, proc)
    if proc.returncode != 0:
        reason = _UNREACHABLE.search(proc.stderr + proc.stdout)
        if reason:
            message = f"package index unreachable ({reason.group(0)}): cannot install the lock"
            if os.environ.get("TETHER_REQUIRE_NETWORK"):
                pytest.fail(message + "; TETHER_REQUIRE_NETWORK is set")
            pytest.skip(message)
        pytest.fail(f"the Action's install step failed:\n{proc.stderr[-4000:]}")
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    python = Path(outputs["python"])
    assert python.is_relative_to(tmp) and python.exists()
    assert _site_dists(base) == before  # the caller's interpreter got nothing
    return python


def test_action_install_gives_a_working_tether(action_python: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(action_python.parent / "tether"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=action_python.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tether, version {__version__}"
    pins = {name: str(req.specifier)[2:] for name, (req, _) in _lock().items()}
    freeze = subprocess.run(
        [str(action_python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    for name, version in (line.split("==") for line in freeze.split()):
        name = canonicalize_name(name)
        if name not in ("pip", "tether"):  # pip: the one venv brought along
            assert pins.get(name) == version, f"{name}=={version} installed, not from the lock"


def _run_step(
    step: dict[str, Any], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run an Action step's `run:` script as the runner does (bash -eo pipefail)."""
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_action_scan_step_runs_from_the_installed_copy(action_python: Path, tmp_path: Path) -> None:
    scan = _action_step("scan")
    output, summary = tmp_path / "github_output", tmp_path / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {
        "TETHER_ACTION_PYTHON": str(action_python),
        "GITHUB_WORKSPACE": str(EXAMPLES / "acme-payments"),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "TETHER_SARIF_FILE": str(tmp_path / "tether.sarif"),
        "TETHER_FAIL_ON": "never",
    }
    proc = _run_step(scan, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert int(outputs["findings"]) > 10 and (tmp_path / "tether.sarif").exists()
    where = subprocess.run(
        [str(action_python), "-c", "import scanner; print(scanner.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert str(action_python.parent.parent) in where  # the installed copy, not the checkout


def test_action_runs_nothing_from_the_workspace(
    action_python: Path, hostile_workspace: Path, tmp_path: Path
) -> None:
    """The install step (in the fixture) and the scan step start in the workspace, the pull
    request's checkout: its `scanner/`, `pip/`, `venv/`, `sitecustomize.py` never run, and the
    scan that runs is tether's, with its findings in the SARIF."""
    scan = _action_step("scan")
    output, summary = tmp_path / "github_output", tmp_path / "summary.md"
    output.write_text("")
    summary.write_text("")
    env = _hostile_env(hostile_workspace) | {
        "TETHER_ACTION_PYTHON": str(action_python),
        "GITHUB_WORKSPACE": str(hostile_workspace),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "TETHER_PATH": ".",
        "TETHER_SARIF_FILE": str(tmp_path / "tether.sarif"),
        "TETHER_FAIL_ON": "never",
    }
    proc = _run_step(scan, env, hostile_workspace)
    _assert_not_taken_over(hostile_workspace, proc)
    assert proc.returncode == 0, proc.stderr
    log = json.loads((tmp_path / "tether.sarif").read_text())
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "tether"
    rule_ids = {r["ruleId"] for r in run["results"]}
    assert {"TF001", "K8S001", "DOCKER001"} <= rule_ids, rule_ids
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert int(outputs["findings"]) == len(run["results"]) > 10

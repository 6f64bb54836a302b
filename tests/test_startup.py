"""Start-up stays cheap (issue 11): `tether --version` and the listing commands import the CLI
alone, a scan imports each file kind's parser only when a file of that kind is met, and the
import time of `scanner.cli` stays within its budget (measured with `python -X importtime`,
the best of three runs, so a slow moment of a shared CI machine does not fail it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# `import scanner.cli` against `import click` alone, both the best of five runs, so that a
# slow or busy machine slows both: measured 37 ms against 15 ms (2.5x) on a 2-CPU machine; with
# the scanner imported eagerly it was 105-120 ms (7x)
IMPORT_RATIO_BUDGET = 4.0

# what `import scanner.cli` must not load: the scan and everything under it
NOT_AT_IMPORT = (
    "scanner.scanning",
    "scanner.policy",
    "ruamel.yaml",
    "tree_sitter",
    "jsonschema",
    "sarif_om",
    "attrs",
    "github",
    "cel",
    "sqlite3",
)

# what a scan of a repository without such files must not load
NOT_FOR_AN_EMPTY_SCAN = (
    "tree_sitter",
    "scanner.parsers.terraform",
    "scanner.parsers.dockerfile",
    "scanner.report.sarif",
    "sarif_om",
    "pickle",
    "github",
    "jsonschema",
    # schemas are read by path (policy/cache.schema_bytes), not through importlib.resources
    "zipfile",
    "importlib.resources",
    # the org scan's lookups, needed only for a named repository
    "scanner.org",
)


def _python(
    code: str, env: dict[str, str] | None = None, *flags: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )


def _import_times(stmt: str = "import scanner.cli") -> dict[str, int]:
    """Cumulative microseconds per module of `stmt`, from -X importtime."""
    err = _python(stmt, None, "-X", "importtime").stderr
    out = {}
    for line in err.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _self, cumulative, name = line[len("import time:") :].split("|")
            out[name.strip()] = int(cumulative)
    return out


def test_importing_the_cli_loads_the_cli_alone() -> None:
    loaded = _import_times()
    assert "scanner.cli" in loaded
    assert [m for m in NOT_AT_IMPORT if m in loaded] == []


def test_the_cli_import_time_budget() -> None:
    cli = min(_import_times()["scanner.cli"] for _ in range(5))
    click = min(_import_times("import click")["click"] for _ in range(5))
    ratio = cli / click
    assert ratio <= IMPORT_RATIO_BUDGET, (
        f"import scanner.cli took {cli / 1000:.1f} ms, {ratio:.1f}x import click "
        f"({click / 1000:.1f} ms; budget {IMPORT_RATIO_BUDGET}x): an import moved to module "
        "level? `python -X importtime -c 'import scanner.cli'` shows which"
    )


def test_version_does_not_import_the_scanner() -> None:
    code = (
        "import sys\nfrom scanner.cli import main\nsys.argv = ['tether', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', sorted(sys.modules))"
    )
    out = _python(code).stdout
    modules = out.split("MODULES", 1)[1]
    assert "tether, version" in out
    assert "scanner.scanning" not in modules and "ruamel" not in modules


def test_an_empty_scan_loads_no_parser(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "README.md").write_text("# x\n")
    code = (
        "import json, sys\nfrom scanner.cli import main\n"
        f"sys.argv = ['tether', 'scan', '--root', {str(tmp_path / 'repo')!r}, '-q']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {"TETHER_CACHE_DIR": str(tmp_path / "cache")}
    _python(code, env)  # the first run checks the rule files in full (jsonschema), once
    modules = json.loads(_python(code, env).stdout.strip().splitlines()[-1])
    assert [m for m in NOT_FOR_AN_EMPTY_SCAN if m in modules] == []

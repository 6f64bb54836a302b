"""JSON and SARIF reports are written as they are made, a finding at a time (issue 11): what
the command line writes is exactly the text of the whole report built at once, and writing
a report of thousands of findings holds a small part of what building it whole does."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import scan
from scanner.cli import main
from scanner.model import Report
from scanner.report import jsonreport, sarif
from scanner.scanning import ScanOptions

from .conftest import validate_sarif
from .test_scan_limits import DEPLOY


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many") / "repo"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "all.yaml").write_text(
        "".join("---\n" + DEPLOY.format(i=n) for n in range(700))
    )
    return root


@pytest.fixture(scope="module")
def report(repo: Path) -> Report:
    rep = scan(repo, ScanOptions(jobs=1, fact_cache=False))
    assert len(rep.findings) > 1000
    return rep


def _peak(write: Callable[[], None]) -> int:
    tracemalloc.start()
    try:
        write()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _into(path: Path, pieces: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for piece in pieces:
            fh.write(piece)


def test_json_is_written_as_made(report: Report, tmp_path: Path) -> None:
    whole, streamed = tmp_path / "whole.json", tmp_path / "streamed.json"
    eager = _peak(lambda: whole.write_text(jsonreport.dumps(jsonreport.build(report))))
    lazy = _peak(lambda: _into(streamed, jsonreport.chunks(report)))
    assert streamed.read_text() == whole.read_text()
    assert lazy < eager / 4, (lazy, eager)


def test_sarif_is_written_as_made(report: Report, tmp_path: Path) -> None:
    whole, streamed = tmp_path / "whole.sarif", tmp_path / "streamed.sarif"
    eager = _peak(lambda: whole.write_text(sarif.dumps(sarif.build(report))))
    lazy = _peak(lambda: _into(streamed, sarif.chunks(sarif.build(report, lazy=True))))
    assert streamed.read_text() == whole.read_text()
    assert lazy < eager / 3, (lazy, eager)


def test_the_command_line_writes_the_whole_reports(
    repo: Path, report: Report, tmp_path: Path
) -> None:
    out = {k: tmp_path / f"r.{k}" for k in ("json", "sarif")}
    r = CliRunner().invoke(
        main,
        [
            "scan",
            str(repo),
            "--no-cache",
            "-q",
            "--json",
            str(out["json"]),
            "--sarif",
            str(out["sarif"]),
        ],
    )
    assert r.exit_code == 1, r.output
    expected = jsonreport.build(report)
    got = json.loads(out["json"].read_text())
    assert got["findings"] == expected["findings"]
    assert out["sarif"].read_text().endswith("}\n")
    validate_sarif(out["sarif"])
    # and to standard output
    r = CliRunner().invoke(main, ["scan", str(repo), "--no-cache", "--format", "json"])
    assert json.loads(r.output)["findings"] == expected["findings"]


def test_a_reader_that_stops_early_does_not_turn_the_scan_into_an_error(repo: Path) -> None:
    """`tether scan ... --format json | head`: the report is written as it is made, so the
    reader going away is met mid-report; the exit status stays the scan's (1: findings)."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner.cli", "scan", str(repo), "--no-cache", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"{")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1, err
    assert "Traceback" not in err and "cannot write" not in err and "Broken pipe" not in err

"""Rule cases as data: tests/rule_cases/<ID>.yml holds passing and failing cases (inline files
and the expected findings with line and column), turned into pytest cases here, so
`pytest -k TF001` runs one rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from scanner import ScanOptions, scan
from scanner.config import RepoConfig

from .conftest import write_tree

CASES_DIR = Path(__file__).parent / "rule_cases"


def _load_cases() -> list[Any]:
    params = []
    for f in sorted(CASES_DIR.glob("*.yml")):
        data = YAML(typ="safe").load(f.read_text())
        for case in data["cases"]:
            params.append(pytest.param(data["rule"], case, id=f"{data['rule']}-{case['name']}"))
    return params


@pytest.mark.parametrize(("rule_id", "case"), _load_cases())
def test_rule_case(rule_id: str, case: dict[str, Any], tmp_path: Path) -> None:
    files = dict(case["files"])
    baselines: list[str] = []
    if "baseline" in case:
        files["_baseline.yml"] = case["baseline"]
        baselines = ["default", str(tmp_path / "_baseline.yml")]
    write_tree(tmp_path, files)
    report = scan(
        tmp_path,
        ScanOptions(
            baselines=baselines,
            excludes=("_baseline.yml",),
            today=dt.date(2026, 11, 25),
            preview=True,
        ),
        config=RepoConfig(),
    )
    assert not [d for d in report.diagnostics if d.code in ("rule-error", "internal-error")]
    got = [
        {"path": f.path, "line": f.span.start_line, "col": f.span.start_col}
        for f in report.findings
        if f.rule_id == rule_id
    ]
    expected = [
        {"path": e.get("path", next(iter(case["files"]))), "line": e["line"], "col": e["col"]}
        for e in case.get("expect", [])
    ]
    assert got == expected
    for f, e in zip(
        [f for f in report.findings if f.rule_id == rule_id], case.get("expect", []), strict=True
    ):
        if "message" in e:
            assert e["message"] in f.message

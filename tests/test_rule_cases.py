"""Rule cases as data: tests/rule_cases/<ID>.yml holds passing and failing cases (inline files
and the expected findings with line and column), turned into pytest cases here, so
`pytest -k TF001` runs one rule. The runner is scanner/verify.py's, the one `tether verify`
runs on a policy repository's cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from scanner.verify import Case, find_case_files, load_cases, run_case

CASES_DIR = Path(__file__).parent / "rule_cases"
TODAY = dt.date(2026, 11, 25)  # the cases' exception dates are written against it


def _load_cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{case.rule}-{case.name}")
        for f in find_case_files([CASES_DIR])
        for case in load_cases(f)
    ]


@pytest.mark.parametrize("case", _load_cases())
def test_rule_case(case: Case, tmp_path: Path) -> None:
    """A case may give a `baseline` layer, an operator `policy` (written outside the
    repository), and `base_files`: then the case runs in PR mode on a git repository whose
    merge base holds `base_files` and whose head holds `files`."""
    result = run_case(case, today=TODAY, workdir=tmp_path)
    assert result.passed, f"{case.where}: {case.name}\n{result.explain()}"

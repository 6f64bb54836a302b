"""The bundled examples: every rule fires on acme-payments at the expected line and column
(tests/example_findings/<pack>.yml), and golden-service yields no finding and no diagnostic."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from scanner import scan
from scanner.config import RepoConfig, discover
from scanner.policy.rules import load_rules
from scanner.scanning import ScanOptions, embedded_rules_dir

from .conftest import EXAMPLES

EXPECTED_DIR = Path(__file__).parent / "example_findings"
TODAY = __import__("datetime").date(2026, 11, 25)


def _expected() -> dict[str, set[tuple[str, int, int]]]:
    out: dict[str, set[tuple[str, int, int]]] = {}
    for f in sorted(EXPECTED_DIR.glob("*.yml")):
        for row in YAML(typ="safe").load(f.read_text()) or []:
            found = out.setdefault(row["rule"], set())
            if "none" not in row:  # {rule: X, none: why}: X cannot fire in this scan
                found.add((row["path"], row["line"], row["col"]))
    return out


EXPECTED = _expected()


@pytest.fixture(scope="module")
def acme() -> dict[str, set[tuple[str, int, int]]]:
    root = EXAMPLES / "acme-payments"
    report = scan(root, ScanOptions(today=TODAY, preview=True), config=discover(root))
    got: dict[str, set[tuple[str, int, int]]] = {}
    for f in report.findings:
        got.setdefault(f.rule_id, set()).add((f.path, f.span.start_line, f.span.start_col))
    return got


@pytest.mark.parametrize("rule_id", sorted(load_rules([embedded_rules_dir()])))
def test_every_rule_fires_on_acme_payments_where_expected(
    rule_id: str, acme: dict[str, set[tuple[str, int, int]]]
) -> None:
    assert rule_id in EXPECTED, f"{rule_id}: add its acme-payments findings to {EXPECTED_DIR}"
    assert acme.get(rule_id, set()) == EXPECTED[rule_id]


def test_golden_service_is_clean() -> None:
    report = scan(
        EXAMPLES / "golden-service", ScanOptions(today=TODAY, preview=True), config=RepoConfig()
    )
    assert [(f.rule_id, f.path, f.span.start_line) for f in report.findings] == []
    assert report.diagnostics == []

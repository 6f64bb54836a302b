"""House rules for rules: every rule has docs in all sections and rule cases that both pass
and fail; every shipped rule and baseline loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from scanner.policy import baseline as baseline_mod
from scanner.policy.rules import load_rules
from scanner.scanning import embedded_rules_dir

CASES = Path(__file__).parent / "rule_cases"
RULES = load_rules([embedded_rules_dir()])


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_has_cases_that_pass_and_fail(rule_id: str) -> None:
    f = CASES / f"{rule_id}.yml"
    assert f.is_file(), f"{rule_id} has no rule cases at {f}"
    cases = YAML(typ="safe").load(f.read_text())["cases"]
    assert any(not c.get("expect") for c in cases), f"{rule_id} has no passing case"
    assert any(c.get("expect") for c in cases), f"{rule_id} has no failing case"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_docs_complete(rule_id: str) -> None:
    rule = RULES[rule_id]
    for section in ("what", "why", "example", "use_instead"):
        assert rule.docs.get(section, "").strip(), f"{rule_id} lacks docs.{section}"
    assert rule.file.replace("\\", "/").split("/")[-2] == rule.pack


def test_rule_case_files_name_existing_rules() -> None:
    for f in CASES.glob("*.yml"):
        assert f.stem in RULES, f"{f.name} has no rule"


def test_embedded_baselines_load() -> None:
    base = baseline_mod.embedded_dir()
    for f in sorted(base.rglob("*.yml")):
        b = baseline_mod.load([str(f)])
        assert b.files


def test_facts_match_the_kind_registry() -> None:
    """Extractors emit only registered kinds and fields, so rules can rely on docs/facts.md."""
    from scanner.facts.kinds import KINDS
    from scanner.model import Timings
    from scanner.scanning import collect

    from .conftest import EXAMPLES

    seen: dict[str, set[str]] = {}
    for example in sorted(EXAMPLES.iterdir()):
        facts, _ = collect(example, [], Timings())
        for f in facts:
            seen.setdefault(f.kind, set()).update(f.data)
    for kind, fields in seen.items():
        assert kind in KINDS, kind
        assert fields <= set(KINDS[kind]), (kind, sorted(fields - set(KINDS[kind])))


def test_generated_docs_are_fresh() -> None:
    """docs/rules.md and docs/facts.md are generated; regenerate with `python -m scanner.docs`."""
    from scanner.docs import outputs

    from .conftest import ROOT

    for path, text in outputs(ROOT / "docs").items():
        assert path.read_text("utf-8") == text, f"{path.name} is stale: python -m scanner.docs"


def test_the_license_the_metadata_names_is_shipped() -> None:
    """Issue 10: pyproject said Apache-2.0 and the repository had no LICENSE file."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (root / "pyproject.toml").read_text(encoding="utf-8")

"""Inline `tether:ignore` comments: several rule ids as written (`A B reason`, `A, B reason`),
and a mid-line ignore in a Dockerfile (an instruction's argument there) refused with the
accepted form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scanner import scan
from scanner.config import RepoConfig
from scanner.inline import parse_inline
from scanner.model import Level
from scanner.parsers.dockerfile import parse
from scanner.scanning import ScanOptions


def _rules(report: Any) -> list[str]:
    return sorted(f.rule_id for f in report.findings if not f.rule_id.startswith("REPO"))


PACKS = frozenset({"kubernetes", "dockerfile"})


@pytest.mark.parametrize(
    ("line", "names", "reason"),
    [
        (
            "# tether:ignore DOCKER001 DOCKER002 vendor image",
            ["DOCKER001", "DOCKER002"],
            "vendor image",
        ),
        (
            "# tether:ignore DOCKER001,DOCKER002 vendor image",
            ["DOCKER001", "DOCKER002"],
            "vendor image",
        ),
        ("# tether:ignore DOCKER001, DOCKER002 vendor", ["DOCKER001", "DOCKER002"], "vendor"),
        (
            "# tether:ignore DOCKER001 DOCKER002, K8S001 why",
            ["DOCKER001", "DOCKER002", "K8S001"],
            "why",
        ),
        # a pack name after a space begins the reason; after a comma it is a name
        ("# tether:ignore K8S001 kubernetes vendored", ["K8S001"], "kubernetes vendored"),
        ("# tether:ignore K8S001, kubernetes vendored", ["K8S001", "kubernetes"], "vendored"),
        # a rule-id-shaped word after a space is a name (an unknown one is then reported)
        ("# tether:ignore K8S001 ABC123 vendor", ["K8S001", "ABC123"], "vendor"),
        # once the reason began, later ids are part of it
        ("# tether:ignore K8S001, vendor K8S002 x", ["K8S001"], "vendor K8S002 x"),
        (
            "# tether:ignore K8S001 mirrored in PLAT-9 (until 2027-01-31)",
            ["K8S001"],
            "mirrored in PLAT-9",
        ),
    ],
)
def test_several_ids_as_written(line: str, names: list[str], reason: str) -> None:
    ign = parse_inline(line, PACKS)
    assert ign is not None
    assert (ign.names, ign.reason) == (names, reason)


def test_whitespace_separated_ids_stay_linear() -> None:
    line = "# tether:ignore " + "K8S001 " * 20_000 + "x"
    ign = parse_inline(line, PACKS)
    assert ign is not None and len(ign.names) == 20_000 and ign.reason == "x"


POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n"
UNTIL = " (until 2027-01-31)"


@pytest.mark.parametrize(
    "pod",
    [
        POD + "      # tether:ignore K8S001 K8S003 vendor image, PLAT-9" + UNTIL + "\n"
        "      image: quay.io/x/a:latest\n",
        POD
        + "      image: quay.io/x/a:latest  # tether:ignore K8S001,K8S003 vendor image, PLAT-9"
        + UNTIL
        + "\n",
    ],
)
def test_every_id_of_an_ignore_applies(make_repo: Any, pod: str) -> None:
    report = scan(
        make_repo({"k8s/pod.yaml": pod}),
        ScanOptions(today=dt.date(2026, 12, 1)),
        config=RepoConfig(),
    )
    assert not {"K8S001", "K8S003"} & set(_rules(report))
    assert not [r for r in _rules(report) if r.startswith("EXC")]
    assert {e.finding.rule_id for e in report.excepted} == {"K8S001", "K8S003"}


def test_a_mid_line_ignore_in_a_dockerfile_is_refused_with_the_accepted_form() -> None:
    doc = parse(
        "Dockerfile",
        "# tether:ignore DOCKER001 vendor image, on its own line: accepted\n"
        "FROM someuser/a:1\n"
        "FROM someuser/b:1 # tether:ignore DOCKER001 vendor image\n"
        "RUN echo '# not an ignore'\n",
    )
    (d,) = doc.diagnostics
    assert (d.level, d.code, d.span.start_line, d.span.start_col) == (
        Level.ERROR,
        "inline-ignore-refused",
        3,
        19,
    )
    assert "put it on its own line above the instruction" in d.message
    assert "# tether:ignore DOCKER001 vendor image" in d.message


def test_a_refused_mid_line_ignore_excepts_nothing(make_repo: Any) -> None:
    repo = make_repo(
        {"Dockerfile": "FROM someuser/runtime:1.2 # tether:ignore DOCKER001 vendor" + UNTIL + "\n"}
    )
    report = scan(repo, ScanOptions(today=dt.date(2026, 12, 1)), config=RepoConfig())
    assert _rules(report) == ["DOCKER001"]
    assert report.excepted == []
    assert [d.code for d in report.diagnostics] == ["inline-ignore-refused"]

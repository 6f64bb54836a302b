"""Team attribution for the adoption report (issue 12): scanner/org/teams.py and
facts/repository.codeowners_root_owner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.facts.repository import codeowners_root_owner
from scanner.org.teams import UNOWNED, attribute, team_name
from scanner.policy.operator import Policy


@pytest.mark.parametrize(
    ("text", "owner"),
    [
        ("* @acme/web\n", "@acme/web"),
        ("* @acme/web\n/docs/ @acme/docs\n/** @acme/platform @alice\n", "@acme/platform"),
        ("* @acme/web  # the web team\n", "@acme/web"),
        ("# * @acme/web\n", None),  # a comment
        ("* @acme/web\n*\n", None),  # a later catch-all with no owner un-assigns
        ("/src/ @acme/web\n", None),  # not the whole repository
        ("/ ops@example.com\n", "ops@example.com"),
    ],
)
def test_the_codeowners_owner_of_the_root(text: str, owner: str | None) -> None:
    assert codeowners_root_owner(text) == owner


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ("@acme/Payments", "payments"),  # a team of the scanned org
        ("@other/payments", "@other/payments"),  # another org's team keeps its org
        ("group:default/payments", "payments"),
        ("group:payments", "payments"),
        ("user:default/alice", "user:default/alice"),
        ("@acme/payments-devs", "payments"),  # an alias
        ("  Search\x1b[31m  ", "search[31m"),  # control characters dropped
    ],
)
def test_owners_are_put_in_one_form(owner: str, expected: str) -> None:
    aliases = {"payments-devs": "payments"}
    assert team_name(owner, "acme", aliases) == expected


def test_sources_in_order_and_unowned(tmp_path: Path) -> None:
    (tmp_path / "catalog-info.yaml").write_text("spec: {owner: group:default/web}\n")
    (tmp_path / "CODEOWNERS").write_text("* @acme/ops\n")
    policy = Policy(ownership=("property:team", "catalog", "codeowners"))
    got = attribute(policy, "acme", {"team": "data"}, tmp_path)
    assert (got.team, got.source) == ("data", "custom property team")
    got = attribute(policy, "acme", {}, tmp_path)
    assert (got.team, got.source) == ("web", "catalog-info.yaml spec.owner")
    got = attribute(Policy(ownership=("codeowners",)), "acme", {}, tmp_path)
    assert (got.team, got.source) == ("ops", "CODEOWNERS (owner of /)")
    assert attribute(Policy(ownership=("codeowners",)), "acme", {}, tmp_path / "x").team == (
        UNOWNED
    )


def test_ownership_files_are_never_read_through_a_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CODEOWNERS").write_text("* @acme/stolen\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside / "CODEOWNERS", tree / "CODEOWNERS")
    os.symlink(outside, tree / ".github")  # a linked directory too
    got = attribute(Policy(ownership=("codeowners",)), "acme", {}, tree)
    assert got.team == UNOWNED


def test_an_org_team_loses_its_org_when_the_scan_is_not_told_the_org() -> None:
    # a single repository's scan (tether fix's $team) knows no org: @x/team is team
    assert team_name("@acme/Payments", None, {}) == "payments"
    assert team_name("@acme/payments", "other", {}) == "@acme/payments"

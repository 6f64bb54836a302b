"""Tests for scanner.policy.functions, directly and through the cel library."""

from __future__ import annotations

import itertools
import random
from types import MappingProxyType
from typing import Any

import cel
import pytest

from scanner.imageref import parse_image
from scanner.policy.functions import (
    FUNCTIONS,
    Version,
    constraint_admits,
    constraint_allows,
    constraint_behind_text,
    constraint_bounded,
    constraint_max,
    constraint_min,
    default,
    find_key,
    glob_match,
    image,
    in_scope,
    join,
    keys,
    lower,
    major_of,
    matches_any,
    missing_paths,
    missing_prefixes,
    missing_resources,
    parse_version,
    pin_policy,
    ref_kind,
    ref_version,
    semver_compare,
    tag_at_least,
    tag_version,
    version_at_least,
    version_fields,
    versions_behind,
    versions_behind_text,
)

SHA = "sha256:" + "a" * 64


def run(expr: str, **variables: Any) -> Any:
    """Evaluate ``expr`` with every policy function registered, as the engine will."""
    return cel.evaluate(expr, cel.Context(variables=variables, functions=dict(FUNCTIONS)))


# ---------------------------------------------------------------------------
# parse_version


@pytest.mark.parametrize(
    ("text", "release", "prerelease"),
    [
        ("1", (1, 0, 0, 0), None),
        ("v4", (4, 0, 0, 0), None),
        ("V4", (4, 0, 0, 0), None),
        ("1.2", (1, 2, 0, 0), None),
        ("1.2.3", (1, 2, 3, 0), None),
        ("v1.2.3", (1, 2, 3, 0), None),
        ("1.2.3.4", (1, 2, 3, 4), None),
        ("0.0.0", (0, 0, 0, 0), None),
        ("01.002.0003", (1, 2, 3, 0), None),
        ("20240101", (20240101, 0, 0, 0), None),
        ("1.2.3-rc.1", (1, 2, 3, 0), "rc.1"),
        ("1.2.3-rc1", (1, 2, 3, 0), "rc1"),
        ("v5.0.0-beta-2", (5, 0, 0, 0), "beta-2"),
        ("1.0.0-alpha.beta.1", (1, 0, 0, 0), "alpha.beta.1"),
        ("1.0.0-0", (1, 0, 0, 0), "0"),
        ("1.2.3+build.5", (1, 2, 3, 0), None),
        ("1.2.3-rc.1+build.5", (1, 2, 3, 0), "rc.1"),
        ("1+meta", (1, 0, 0, 0), None),
        ("  1.2.3  ", (1, 2, 3, 0), None),
    ],
)
def test_parse_version_valid(text: str, release: tuple[int, ...], prerelease: str | None) -> None:
    parsed = parse_version(text)
    assert parsed is not None
    assert parsed.release == release
    assert parsed.prerelease == prerelease
    assert parsed.is_prerelease is (prerelease is not None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "main",
        "master",
        "latest",
        "stable",
        "a1b2c3d",
        "8f4b2e1c9a7d6b5e4f3a2b1c0d9e8f7a6b5c4d3e",
        "v",
        "vv1",
        "1.",
        ".1",
        "1..2",
        "1.2.3.4.5",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-rc..1",
        "1.2.3-rc_1",
        "1.2.3rc1",
        "1.x",
        "*",
        "-1",
        ">=1.0",
        "~> 1.0",
        "1.0 2.0",
        "1" * 300,
        "\u0661.2",  # Arabic-Indic digit one: str.isdigit() is true, but not a version digit
    ],
)
def test_parse_version_rejects(text: str) -> None:
    assert parse_version(text) is None


@pytest.mark.parametrize("value", [None, 1, 1.5, ["1.0"], {"v": "1"}, b"1.0"])
def test_parse_version_non_strings(value: object) -> None:
    assert parse_version(value) is None


def test_version_str_roundtrip() -> None:
    for text, expected in [
        ("v1", "1.0.0"),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.0", "1.2.3"),
        ("1.2.3-rc.1+b", "1.2.3-rc.1"),
        ("1.0.0-alpha.01", "1.0.0-alpha.1"),
    ]:
        assert str(parse_version(text)) == expected


# The precedence chain from the semver 2.0.0 spec (section 11), plus 4-part and tolerant forms.
ORDERED = [
    "0.0.1",
    "0.1",
    "1.0.0-0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.0.1",
    "1.0.1",
    "1.1",
    "1.2.0",
    "1.10.0",
    "2.0.0-rc.1",
    "v2",
    "2.0.0.5",
    "10.0.0",
]


def test_precedence_order() -> None:
    parsed = [parse_version(v) for v in ORDERED]
    assert all(v is not None for v in parsed)
    shuffled = ORDERED[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=lambda v: parse_version(v) or Version(0, 0, 0, 0, ())) == ORDERED


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(ORDERED, 2)))
def test_semver_compare_pairs(a: str, b: str) -> None:
    assert semver_compare(a, b) == -1
    assert semver_compare(b, a) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1", "1.0.0"),
        ("v1.2", "1.2.0.0"),
        ("1.2.3+a", "1.2.3+b"),
        ("1.2.3-rc.1+a", "v1.2.3-rc.1"),
        ("1.0.0-rc.01", "1.0.0-rc.1"),
    ],
)
def test_semver_compare_equal(a: str, b: str) -> None:
    assert semver_compare(a, b) == 0


@pytest.mark.parametrize(("a", "b"), [("main", "1.0"), ("1.0", "main"), ("", "")])
def test_semver_compare_rejects_non_versions(a: str, b: str) -> None:
    with pytest.raises(ValueError, match="is not a version"):
        semver_compare(a, b)


def test_version_fields() -> None:
    assert version_fields("v1.2.3-rc.1+b") == {
        "major": 1,
        "minor": 2,
        "patch": 3,
        "revision": 0,
        "prerelease": "rc.1",
    }
    assert version_fields("4") == {
        "major": 4,
        "minor": 0,
        "patch": 0,
        "revision": 0,
        "prerelease": None,
    }
    assert version_fields("main") is None


# ---------------------------------------------------------------------------
# version_at_least / major_of / versions_behind


@pytest.mark.parametrize(
    ("v", "minimum", "expected"),
    [
        ("v4", "v4.1.0", False),
        ("v4", "v4", True),
        ("v4", "4.0.0", True),
        ("v4.1.0", "v4", True),
        ("5.40.1", "5.40.0", True),
        ("5.39.9", "5.40.0", False),
        ("5.40.0-rc.1", "5.40.0", False),
        ("5.40.0", "5.40.0-rc.1", True),
        ("10.0", "9.99", True),
        ("1.2.3.1", "1.2.3", True),
        ("main", "1.0", False),
        ("", "1.0", False),
        ("a1b2c3d", "0.0.1", False),
    ],
)
def test_version_at_least(v: str, minimum: str, expected: bool) -> None:
    assert version_at_least(v, minimum) is expected


def test_version_at_least_bad_minimum() -> None:
    with pytest.raises(ValueError, match="minimum 'latest' is not a version"):
        version_at_least("1.0", "latest")


@pytest.mark.parametrize(
    ("v", "expected"),
    [("v4", 4), ("4.2.1", 4), ("0.9", 0), ("v12-beta", 12), ("main", -1), ("", -1), ("x1", -1)],
)
def test_major_of(v: str, expected: int) -> None:
    assert major_of(v) == expected


@pytest.mark.parametrize(
    ("v", "golden", "expected"),
    [
        ("1.5.0", "3.1.0", (2, 0, 0)),
        ("v2", "v4", (2, 0, 0)),
        ("3.0.9", "3.1.0", (0, 1, 0)),
        ("3.1.0", "3.4.7", (0, 3, 0)),
        ("3.1.0", "3.1.2", (0, 0, 2)),
        ("3.1.2", "3.1.2", (0, 0, 0)),
        ("4.0.0", "3.9.9", (0, 0, 0)),
        ("3.1.2.1", "3.1.2", (0, 0, 0)),
        ("3.1.2", "3.1.2.1", (0, 0, 0)),  # behind, but only below patch level
        ("3.1.2-rc.1", "3.1.2", (0, 0, 0)),
        ("3.1.2-rc.1", "3.1.3", (0, 0, 1)),
    ],
)
def test_versions_behind(v: str, golden: str, expected: tuple[int, int, int]) -> None:
    assert versions_behind(v, golden) == dict(
        zip(("major", "minor", "patch"), expected, strict=True)
    )


@pytest.mark.parametrize(("v", "golden"), [("main", "1.0"), ("1.0", "latest")])
def test_versions_behind_rejects_non_versions(v: str, golden: str) -> None:
    with pytest.raises(ValueError, match="is not a version"):
        versions_behind(v, golden)


# ---------------------------------------------------------------------------
# constraint_allows

ALLOWS = [
    # Empty / any.
    ("", "0.0.1", True),
    ("", "99.0.0", True),
    ("   ", "1.0.0", True),
    ("", "1.0.0-rc.1", True),  # no constraint at all: prereleases too
    ("*", "3.0", True),
    ("x", "0.0.1", True),
    ("*", "3.0.0-rc.1", False),
    (">= 0", "1.0", True),
    # Exact (bare and '=' / '=='); partial versions are zero-filled (Terraform).
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("= 1.2.3", "v1.2.3", True),
    ("==1.2.3", "1.2.3+build", True),
    ("1.2", "1.2.0", True),
    ("1.2", "1.2.5", False),
    ("= 5", "5.0.0.0", True),
    ("v1.2.3", "1.2.3", True),
    # Not equal.
    ("!= 1.2.3", "1.2.3", False),
    ("!= 1.2.3", "1.2.4", True),
    ("!= 1.2", "1.2.0", False),
    ("!= 1.x", "1.5.0", False),
    ("!= 1.x", "2.0.0", True),
    ("!= *", "1.0.0", False),
    # Comparisons (zero-filled).
    ("> 1.2", "1.2.0", False),
    ("> 1.2", "1.2.0.1", True),
    ("> 1.2", "1.2.1", True),
    (">= 1.2", "1.2.0", True),
    (">= 1.2", "1.1.9", False),
    ("< 2", "1.99.99", True),
    ("< 2", "2.0.0", False),
    ("<= 2", "2.0.0", True),
    ("<= 2", "2.0.1", False),
    (">=1.2.0", "1.3", True),
    ("<1.2.0", "1.1", True),
    # Wildcard comparisons (npm meaning).
    ("> 1.x", "1.9.9", False),
    ("> 1.x", "2.0.0", True),
    (">= 1.x", "1.0.0", True),
    ("< 1.x", "0.9.9", True),
    ("< 1.x", "1.0.0", False),
    ("<= 1.x", "1.99.0", True),
    ("<= 1.x", "2.0.0", False),
    (">= *", "0.0.1", True),
    ("<= *", "9.0.0", True),
    # Terraform pessimistic.
    ("~> 5.0", "5.0.0", True),
    ("~> 5.0", "5.1.0", True),
    ("~> 5.0", "5.99.3", True),
    ("~> 5.0", "6.0.0", False),
    ("~> 5.0", "4.9.9", False),
    ("~> 1.2", "1.2.0", True),
    ("~> 1.2", "1.9.0", True),
    ("~> 1.2", "2.0.0", False),
    ("~> 1.2", "1.1.9", False),
    ("~> 1.2.3", "1.2.3", True),
    ("~> 1.2.3", "1.2.9", True),
    ("~> 1.2.3", "1.3.0", False),
    ("~> 1.2.3", "1.2.2", False),
    ("~> 1", "1.0.0", True),
    ("~> 1", "1.9.9", True),
    ("~> 1", "2.0.0", False),
    ("~> 1.2.3.4", "1.2.3.9", True),
    ("~> 1.2.3.4", "1.2.4", False),
    ("~>5.0", "5.3", True),
    ("~> v5.0", "5.3", True),
    # npm caret.
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.0", True),
    ("^0", "1.0.0", False),
    ("^1.x", "1.5.0", True),
    ("^1.x", "2.0.0", False),
    ("^0.x", "0.5.0", True),
    ("^0.x", "1.0.0", False),
    ("^*", "9.0.0", True),
    # npm tilde.
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2", "1.2.0", True),
    ("~1.2", "1.3.0", False),
    ("~1", "1.9.9", True),
    ("~1", "2.0.0", False),
    ("~0.2", "0.2.5", True),
    ("~*", "4.0.0", True),
    # npm x-ranges.
    ("1.x", "1.0.0", True),
    ("1.x", "1.9.9", True),
    ("1.x", "2.0.0", False),
    ("1.X", "1.4.0", True),
    ("1.*", "1.4.0", True),
    ("1.2.x", "1.2.7", True),
    ("1.2.x", "1.3.0", False),
    ("1.x.x", "1.3.0", True),
    ("v1.x", "1.3.0", True),
    # Conjunctions: Terraform commas, npm spaces, and a mix.
    (">= 1.2, < 2.0", "1.5.0", True),
    (">= 1.2, < 2.0", "2.0.0", False),
    (">= 1.2, < 2.0", "1.1.0", False),
    (">=1.2 <2", "1.9.9", True),
    (">=1.2 <2", "2.0.0", False),
    (">= 1.2 < 2", "1.9.9", True),
    (">= 1.0, != 1.5.0, < 2.0", "1.5.0", False),
    (">= 1.0, != 1.5.0, < 2.0", "1.5.1", True),
    (">= 1.0,< 2.0", "1.5.1", True),
    ("  >= 1.0 ,  < 2.0  ", "1.5.1", True),
    ("1.0 2.0", "1.0.0", False),  # two exact pins can't both hold
    # Disjunctions.
    ("1.0 || 2.0", "2.0.0", True),
    ("1.0 || 2.0", "1.5.0", False),
    ("^1.2 || ^2", "2.5.0", True),
    ("< 1 || >= 3", "2.0.0", False),
    ("< 1 || >= 3", "0.5.0", True),
    (">= 1.0, < 1.5 || ~> 2.1", "2.3.0", True),
    (">= 1.0, < 1.5 || ~> 2.1", "1.7.0", False),
    # Hyphen ranges (npm).
    ("1.2.3 - 2.3.4", "1.2.3", True),
    ("1.2.3 - 2.3.4", "2.3.4", True),
    ("1.2.3 - 2.3.4", "2.3.5", False),
    ("1.2.3 - 2.3", "2.3.9", True),
    ("1.2.3 - 2.3", "2.4.0", False),
    ("1.2 - 2", "2.9.9", True),
    ("1.2 - 2", "1.1.9", False),
    ("1.x - 2.x", "2.5.0", True),
    ("1.0 - *", "9.0.0", True),
    # Prerelease rule: only a clause naming a prerelease of the same release admits one.
    (">= 1.0", "1.1.0-rc.1", False),
    ("~> 1.0", "1.1.0-rc.1", False),
    ("^1.0.0", "1.1.0-rc.1", False),
    ("1.x", "1.1.0-rc.1", False),
    ("< 2.0.0", "2.0.0-rc.1", False),
    ("= 1.1.0-rc.1", "1.1.0-rc.1", True),
    ("1.1.0-rc.1", "1.1.0-rc.2", False),
    (">= 1.1.0-beta", "1.1.0-rc.1", True),
    (">= 1.1.0-beta", "1.1.0-alpha", False),
    (">= 1.1.0-beta", "1.2.0-rc.1", False),  # a different release's prerelease
    (">= 1.1.0-beta", "1.2.0", True),
    (">= 1.1.0-beta, < 2", "1.1.0-rc.1", True),  # npm: the set, not each clause, names it
    ("~> 1.1.0-beta", "1.1.0-rc.1", True),
    ("~> 1.1.0-beta", "1.1.5", True),
    ("^1.1.0-beta", "1.1.0", True),
    ("!= 1.1.0-beta, >= 1.0", "1.1.0-rc", False),  # "!=" never opts prereleases in
    ("1.1.0-alpha - 1.2.0", "1.1.0-beta", True),
    (">= 1.0 || = 1.1.0-rc.1", "1.1.0-rc.1", True),
    # Upper bounds of ranges exclude the next release's prereleases even when opted in.
    ("~> 1.2, >= 2.0.0-alpha", "2.0.0-beta", False),
    # Build metadata is ignored on both sides.
    ("= 1.0.0+a", "1.0.0+b", True),
    # Version side that isn't a version.
    (">= 1.0", "main", False),
    ("", "main", False),
    ("*", "", False),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), ALLOWS)
def test_constraint_allows(constraint: str, version: str, expected: bool) -> None:
    assert constraint_allows(constraint, version) is expected


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        (">=", "without a version"),
        (">= 1.0, <", "without a version"),
        (">= ,1.0", "without a version"),
        (",1.0", "empty clause"),
        (">= 1.0,, < 2", "empty clause"),
        ("1.0,", "trailing"),
        ("=> 1.0", "followed by"),
        (">> 1.0", "followed by"),
        ("~> ^1.0", "followed by"),
        ("1.0 | 2.0", "unexpected"),
        ("1.0 ! 2.0", "unexpected"),
        ("latest", "not a version"),
        ("main", "not a version"),
        (">= 1.0.0.0.0", "not a version"),
        (">= 1..0", "not a version"),
        ("~> 1.x", "without wildcards"),
        ("~> 1.*", "without wildcards"),
        ("~> *", "without wildcards"),
        (">*", "never match"),
        ("< *", "never match"),
        ("1.x.3", "after a wildcard"),
        ("1.x-rc.1", "wildcard and a prerelease"),
        ("1.0 ||", "empty alternative"),
        ("|| 1.0", "empty alternative"),
        ("1.0 |||| 2.0", "empty alternative"),
        ("- 1.0", "misplaced"),
        ("1.0 -", "misplaced"),
        (">= 1.0 - 2.0", "bare versions"),
        ("1.0 - < 2.0", "bare versions"),
    ],
)
def test_constraint_allows_rejects_bad_constraints(constraint: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        constraint_allows(constraint, "1.0.0")


def test_constraint_errors_name_the_constraint() -> None:
    with pytest.raises(ValueError, match=r"constraint '>= 1.0, latest'"):
        constraint_allows(">= 1.0, latest", "1.0")


@pytest.mark.parametrize("value", [None, 1, ["~> 1.0"]])
def test_constraint_must_be_a_string(value: object) -> None:
    with pytest.raises(ValueError, match="is not a string"):
        constraint_allows(value, "1.0")  # type: ignore[arg-type]


def test_bad_constraint_raises_even_for_non_version() -> None:
    # The constraint is a policy-author/config bug and must surface, whatever the version.
    with pytest.raises(ValueError):
        constraint_allows("latest", "main")


# ---------------------------------------------------------------------------
# constraint_admits / constraint_min

ADMITS = [
    ("~> 4.0", "5.40.0", False),
    (">= 4.0", "5.40.0", True),
    ("~> 5.0", "5.40.0", True),
    ("= 5.10.0", "5.40.0", False),
    ("5.10.0", "5.40.0", False),
    (">= 5.0, < 5.30", "5.40.0", False),
    ("", "5.40.0", True),
    ("*", "5.40.0", True),
    ("~> 5.40", "5.40.0", True),
    ("~> 5.40.0", "5.40.0", True),
    ("~> 5.39.0", "5.40.0", False),
    ("~> 5.41.2", "5.40.0", True),  # pins above the minimum count as "or newer"
    ("= 6.0.0", "5.40.0", True),
    ("<= 5.40.0", "5.40.0", True),
    ("< 5.40.0", "5.40.0", False),
    ("< 5.40.1", "5.40.0", True),
    ("!= 5.40.0, <= 5.40.0", "5.40.0", False),
    ("!= 5.40.0, >= 5.0", "5.40.0", True),
    ("!= 5.x, >= 5.0, < 6", "5.40.0", False),
    ("!= 5.x, >= 5.0", "5.40.0", True),
    ("!= 5.40.x, != 5.41.x, >= 5.40.0, < 5.42", "5.40.0", False),
    ("!= *", "5.40.0", False),
    ("~> 4.0 || ~> 5.0", "5.40.0", True),
    ("~> 3.0 || ~> 4.0", "5.40.0", False),
    ("^5.2.0", "5.40.0", True),
    ("^4", "5.40.0", False),
    ("5.x", "5.40.0", True),
    ("4.x", "5.40.0", False),
    ("> 5.40.0, < 5.40.1", "5.40.0", True),  # 5.40.0.1 fits
    ("> 5.40.0, <= 5.40.0", "5.40.0", False),
    ("= 5.40.0-rc.1", "5.40.0", False),
    (">= 1.0", "v5", True),
]


@pytest.mark.parametrize(("constraint", "minimum", "expected"), ADMITS)
def test_constraint_admits(constraint: str, minimum: str, expected: bool) -> None:
    assert constraint_admits(constraint, minimum) is expected


def test_constraint_admits_errors() -> None:
    with pytest.raises(ValueError, match="minimum 'latest' is not a version"):
        constraint_admits("~> 1.0", "latest")
    with pytest.raises(ValueError, match="not a version"):
        constraint_admits("~> latest", "1.0")


MINS = [
    ("", "0.0.0"),
    ("*", "0.0.0"),
    ("< 2.0", "0.0.0"),
    ("<= 0.0.0", "0.0.0"),
    ("~> 5.2", "5.2.0"),
    ("~> 5.2.3", "5.2.3"),
    (">= 4.0, < 5", "4.0.0"),
    ("= 5.10.0", "5.10.0"),
    ("5.10", "5.10.0"),
    ("v1.2.3.4", "1.2.3.4"),
    ("> 1.2.3", "1.2.4"),
    ("> 1.2.3.4", "1.2.4"),
    ("> 1.2.3, < 1.2.4", "1.2.3.1"),
    ("> 1.x", "2.0.0"),
    ("^1.2 || ~0.9", "0.9.0"),
    ("~0.9 || ^1.2", "0.9.0"),
    (">= 1.0.0-beta", "1.0.0-beta"),
    ("> 1.0.0-beta", "1.0.0"),
    ("!= 0.0.0", "0.0.1"),
    (">= 1.0, != 1.0.0", "1.0.1"),
    (">= 1.0, != 1.0.x", "1.1.0"),
    ("= 1.0, = 2.0", None),
    ("> 2, < 1", None),
    ("!= *", None),
    ("1.2.3 - 2.0", "1.2.3"),
]


@pytest.mark.parametrize(("constraint", "expected"), MINS)
def test_constraint_min(constraint: str, expected: str | None) -> None:
    assert constraint_min(constraint) == expected


def test_constraint_min_rejects_bad_constraints() -> None:
    with pytest.raises(ValueError):
        constraint_min(">= nope")


# Cross-check admits/min against allows on a grid of release versions. The grid has
# revisions 0/1 so that slivers such as "> 1.2.2, < 1.2.3" (which hold 1.2.2.1) are seen.
_GRID_PARSED = (
    parse_version(f"{a}.{b}.{c}.{d}")
    for a, b, c, d in itertools.product(range(6), range(5), range(5), range(2))
)
GRID = [v for v in _GRID_PARSED if v is not None]
OPS = ["", "= ", "!= ", "> ", ">= ", "< ", "<= ", "~> ", "^", "~"]


def _random_clause(rng: random.Random, ops: list[str]) -> str:
    op = rng.choice(ops)
    parts = [str(rng.randrange(5)), str(rng.randrange(4)), str(rng.randrange(4))]
    written = parts[: rng.randrange(1, 4)]
    if op not in ("~> ",) and rng.random() < 0.2:
        written.append("x")
    return op + ".".join(written)


def _random_constraints(ops: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        clauses = [_random_clause(rng, ops) for _ in range(rng.randrange(1, 3))]
        out.append(", ".join(clauses))
    return out


@pytest.mark.parametrize("constraint", _random_constraints(OPS, 150, seed=20240601))
def test_admits_agrees_with_allows_on_grid(constraint: str) -> None:
    allowed = [v for v in GRID if constraint_allows(constraint, str(v))]
    for minimum in ("0.0.0", "1.2.0", "2.3.1", "4.0.0", "5.4.4.1"):
        floor = parse_version(minimum)
        assert floor is not None
        expected = any(v >= floor for v in allowed)
        assert constraint_admits(constraint, minimum) is expected, (constraint, minimum)


def test_grid_constraints_are_varied() -> None:
    # Guard the oracle tests against a generator that only yields trivial cases.
    constraints = _random_constraints(OPS, 150, seed=20240601)
    outcomes = {constraint_admits(c, "2.3.1") for c in constraints}
    assert outcomes == {True, False}
    assert sum(constraint_min(c) is None for c in constraints) >= 5
    assert sum("x" in c for c in constraints) >= 10


# The minimum above an exclusive bound is deliberately the next *patch* (">1.2.3" ->
# 1.2.4, not 1.2.3.1), so this oracle uses a release grid without revisions, and leaves
# out '>' whose slivers ("> 1.2.2, < 1.2.3") only a revision fills.
RELEASE_GRID = [v for v in GRID if v.revision == 0]


@pytest.mark.parametrize(
    "constraint", _random_constraints([op for op in OPS if op != "> "], 150, seed=99)
)
def test_min_agrees_with_allows_on_grid(constraint: str) -> None:
    allowed = [v for v in RELEASE_GRID if constraint_allows(constraint, str(v))]
    expected = str(min(allowed)) if allowed else None
    assert constraint_min(constraint) == expected


# ---------------------------------------------------------------------------
# The top of a constraint (constraint_max, constraint_bounded, constraint_behind_text)

MAXES = [
    ("~> 4.67", "4.x"),
    ("~> 4", "4.x"),
    ("~> 1.3.0", "1.3.x"),
    ("< 5.30", "5.29.x"),
    ("< 5.30.2", "5.30.1"),
    ("< 5.0.1", "5.0.0"),
    ("< 1.2.3.4", "1.2.3.3"),
    ("<= 5.2.3", "5.2.3"),
    ("<= 5.2", "5.2.0"),
    ("<= 5.2.x", "5.2.x"),
    ("5.10.0", "5.10.0"),
    ("= 5.10", "5.10.0"),
    (">= 5.0, < 5.30", "5.29.x"),
    ("> 5.29.2, < 5.30", "5.29.x"),
    (">= 1, != 1.x, < 2.0.1", "2.0.0"),
    ("<= 2.0.0, != 2.0.0", "1.x"),
    ("^1.2 || ~0.9", "1.x"),
    ("^0.3.1", "0.3.x"),
    ("1.2.3 - 2.4", "2.4.x"),
    ("< 0.0.1", "0.0.0"),
    ("= 2.0.0-rc.1", "2.0.0-rc.1"),  # only a prerelease is admitted: name it
    (">= 2.0.0-rc.1, < 2.0.0", "2.0.0-rc.1"),
    (">= 1.0, < 2.0.0-beta", "1.x"),
    (">= 4.0", None),  # no upper bound
    ("", None),
    ("*", None),
    ("< 1.0 || >= 3.0", None),
    ("= 1.0, = 2.0", None),  # admits nothing
    ("< 0.0.0", None),
]


@pytest.mark.parametrize(("constraint", "expected"), MAXES)
def test_constraint_max(constraint: str, expected: str | None) -> None:
    assert constraint_max(constraint) == expected


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("5.8.1", True),
        ("~> 5.8", True),
        ("~> 5", True),
        (">= 5.0, < 6.0", True),
        ("^1.2 || ~0.9", True),
        ("= 2.0.0-rc.1", True),
        ("= 1.0, = 2.0", True),  # admits nothing, so nothing above a bound either
        (">= 5.0", False),
        ("> 5.0, != 6.0.0", False),
        ("", False),
        ("*", False),
        ("~> 5.8 || >= 7.0", False),  # every alternative must be bounded
    ],
)
def test_constraint_bounded(constraint: str, expected: bool) -> None:
    assert constraint_bounded(constraint) is expected


@pytest.mark.parametrize(
    ("constraint", "golden", "expected"),
    [
        ("~> 4.67", "5.40.0", "1 major version"),
        ("~> 3.15", "5.40.0", "2 major versions"),
        ("< 5.30", "5.40.0", "11 minor versions"),
        ("5.10.0", "5.40.0", "30 minor versions"),
        ("~> 5.40.0", "5.40.2", ""),  # admits 5.40.2
        ("= 5.40.0", "5.40.2", "2 patch versions"),
        ("~> 1.3.0", "1.5.0", "2 minor versions"),
        ("~> 5.40", "5.40.0", ""),
        (">= 4.0", "5.40.0", ""),  # unbounded
        ("= 1.0, = 2.0", "5.40.0", ""),  # admits nothing: constraint_max says so
        ("= 5.40.0-rc.1", "5.40.0", ""),  # behind only by a prerelease
    ],
)
def test_constraint_behind_text(constraint: str, golden: str, expected: str) -> None:
    assert constraint_behind_text(constraint, golden) == expected


def test_constraint_top_errors() -> None:
    with pytest.raises(ValueError, match="not a version"):
        constraint_behind_text("~> 1.0", "latest")
    for fn in (constraint_max, constraint_bounded):
        with pytest.raises(ValueError, match="constraint"):
            fn(">= nope")


def _top_matches(text: str, v: Version) -> bool:
    """Whether a constraint_max text names the grid version v ("4.x" covers 4.*.*)."""
    nums = [int(n) for n in text.split(".") if n != "x"]
    if text.endswith(".x"):
        return list(v.release[: len(nums)]) == nums
    return tuple((nums + [0, 0, 0, 0])[:3]) == v.release[:3]


@pytest.mark.parametrize("constraint", _random_constraints(OPS, 200, seed=20251125))
def test_constraint_top_agrees_with_allows_on_grid(constraint: str) -> None:
    allowed = [v for v in GRID if constraint_allows(constraint, str(v))]
    bounded = not constraint_allows(constraint, "9.9.9")  # the generator writes numbers < 5
    assert constraint_bounded(constraint) is bounded
    top = constraint_max(constraint)
    if not bounded or not allowed:
        assert top is None
        return
    assert top is not None and _top_matches(top, max(allowed)), (constraint, top)
    for golden in ("1.2.0", "2.3.1", "4.0.0"):
        text = constraint_behind_text(constraint, golden)
        if constraint_admits(constraint, golden):
            assert text == "", (constraint, golden)
            continue
        g = parse_version(golden)
        assert g is not None
        mine = [int(n) for n in top.split(".") if n != "x"]
        level, n = next(
            (lvl, theirs - m)
            for lvl, m, theirs in zip(("major", "minor", "patch"), mine, g.release, strict=False)
            if m != theirs
        )
        assert text == f"{n} {level} version{'s' if n != 1 else ''}", (constraint, golden)


# ---------------------------------------------------------------------------
# Git refs


@pytest.mark.parametrize(
    ("ref", "kind", "version"),
    [
        ("v1.2.0", "tag", "1.2.0"),
        ("1.2.0", "tag", "1.2.0"),
        ("v5", "tag", "5.0.0"),
        ("v2.0.0-rc.1", "tag", "2.0.0-rc.1"),
        ("refs/tags/v1.4.2", "tag", "1.4.2"),
        ("tags/0.4.0", "tag", "0.4.0"),  # git resolves tags/X to refs/tags/X
        ("tags/modules/vpc/v1.2.0", "tag", "1.2.0"),
        ("tags/stable", "other", None),  # a tag, but not a version
        ("tags/8f4b7f8", "other", None),  # a tag named like hex is not a commit
        ("refs/tags/refs/tags/1.0", "other", None),  # one qualifier only
        ("heads/v1.2.0", "branch", None),  # qualified as a branch, whatever its name
        ("refs/heads/v1.2.0", "branch", None),
        ("remotes/origin/v1.2.0", "branch", None),
        ("refs/remotes/origin/main", "branch", None),
        ("vpc-v1.2.0", "tag", "1.2.0"),
        ("modules/vpc/v1.2.0", "tag", "1.2.0"),
        ("mesh_v0.3.1", "tag", "0.3.1"),
        ("8f4b7f84864484a7bf31766abe9204da3cbe65b3", "sha", None),
        ("8F4B7F84864484A7BF31766ABE9204DA3CBE65B3", "sha", None),
        ("a" * 64, "sha", None),
        ("8f4b7f8", "short-sha", None),
        ("main", "branch", None),
        ("master", "branch", None),
        ("develop", "branch", None),
        ("HEAD", "branch", None),
        ("trunk", "branch", None),
        ("refs/heads/release-1.2", "branch", None),
        ("stable", "other", None),
        ("release/1.2", "other", None),  # git-flow release branches are branches
        ("release-1.2", "other", None),
        ("prod-2024-01", "other", None),
        ("", "none", None),
        (None, "none", None),
    ],
)
def test_ref_kind_and_version(ref: str | None, kind: str, version: str | None) -> None:
    assert ref_kind(ref) == kind
    assert ref_version(ref) == version


# ---------------------------------------------------------------------------
# Globs

GLOBS = [
    ("main.tf", "*.tf", True),
    ("modules/vpc/main.tf", "*.tf", False),
    ("modules/vpc/main.tf", "**/*.tf", True),
    ("main.tf", "**/*.tf", True),  # "**/" may match zero directories
    ("modules/vpc/main.tf", "modules/*/main.tf", True),
    ("modules/a/b/main.tf", "modules/*/main.tf", False),
    ("modules/a/b/main.tf", "modules/**/main.tf", True),
    ("modules/main.tf", "modules/**/main.tf", True),
    ("modules/main.tf", "modules/**", True),
    ("modules", "modules/**", False),
    ("anything/at/all", "**", True),
    ("", "**", True),
    ("", "*", True),
    ("", "", True),
    ("a", "", False),
    ("actions/checkout", "actions/*", True),
    ("actions/cache/save", "actions/*", False),
    ("actions/cache/save", "actions/**", True),
    ("ghcr.io/acme/api", "ghcr.io/acme/*", True),
    ("ghcr.io/acmex/api", "ghcr.io/acme/*", False),
    ("ghcr.io/acme/team/api", "ghcr.io/acme/**", True),
    ("docker.io/library/nginx", "*/library/*", True),
    ("abc", "a?c", True),
    ("a/c", "a?c", False),
    ("ac", "a?c", False),
    ("abc", "???", True),
    ("abcd", "???", False),
    ("file.txt", "file.???", True),
    ("ABC", "abc", False),  # case-sensitive
    ("abc", "ABC", False),
    ("a.b", "a.b", True),
    ("axb", "a.b", False),  # '.' is literal
    ("a+b", "a+b", True),
    ("a(b)", "a(b)", True),
    ("[ab]", "[ab]", True),  # no character classes: '[' is literal
    ("a", "[ab]", False),
    ("a^b$", "a^b$", True),
    ("a\\b", "a\\b", True),
    ("x/y/z", "x/**/z", True),
    ("x/z", "x/**/z", True),
    ("xz", "x**z", True),
    ("x/y/z", "x**z", True),
    ("x/y/z", "x***z", True),
    ("prefix-abc-suffix", "prefix-*-suffix", True),
    ("prefix-a/b-suffix", "prefix-*-suffix", False),
    ("line1\nline2", "line1*", True),  # '*' spans newlines (only '/' is special)
    ("abc", "ab", False),  # whole-string
    ("abc", "bc", False),
    ("a/b/c.yaml", "**/c.yaml", True),
    ("a/b/c.yaml", "a/**/*.yaml", True),
    (".github/workflows/ci.yml", ".github/workflows/*.yml", True),
    (".github/workflows/ci.yaml", ".github/workflows/*.yml", False),
]


@pytest.mark.parametrize(("value", "pattern", "expected"), GLOBS)
def test_glob_match(value: str, pattern: str, expected: bool) -> None:
    assert glob_match(value, pattern) is expected


def test_compiled_glob_is_cached() -> None:
    from scanner.policy.functions import _compile_glob

    _compile_glob.cache_clear()
    for _ in range(3):
        glob_match("a/b", "a/*")
    info = _compile_glob.cache_info()
    assert (info.misses, info.hits) == (1, 2)


@pytest.mark.parametrize(
    ("value", "patterns", "expected"),
    [
        ("actions/checkout", ["actions/*", "github/*"], True),
        ("github/codeql-action/init", ["actions/*", "github/**"], True),
        ("evil/checkout", ["actions/*", "github/*"], False),
        ("anything", [], False),
        ("actions/checkout", "actions/*", True),  # a lone string is one pattern
        ("a", "abc", False),  # ...not a list of one-char patterns
    ],
)
def test_matches_any(value: str, patterns: list[str], expected: bool) -> None:
    assert matches_any(value, patterns) is expected


DEFAULT_PINS = {"actions/*": "tag", "github/*": "tag", "*": "sha"}


@pytest.mark.parametrize(
    ("action", "pins", "expected"),
    [
        ("actions/checkout", DEFAULT_PINS, "tag"),
        ("github/codeql-action", DEFAULT_PINS, "tag"),
        ("docker/build-push-action", DEFAULT_PINS, "sha"),  # "*" is every owner
        ("actions/checkout", {}, "any"),
        ("docker/login-action", {"actions/*": "tag"}, "any"),
        ("actions/checkout", {"actions/*": "tag", "actions/checkout": "sha"}, "sha"),
        ("actions/checkout", {"actions/checkout": "sha", "actions/*": "tag"}, "sha"),
        ("actions/cache", {"actions": "any", "*": "sha"}, "any"),  # owner pattern
        ("actions/cache", {"actions/c*": "any", "actions/*": "tag"}, "any"),
        ("actions/cache", {"*/cache": "tag", "*": "sha"}, "tag"),
        ("acme/x", {"**": "any", "acme/*": "sha"}, "sha"),
        # GitHub ignores case in owner and repository names, and so does the policy
        ("Actions/Checkout", DEFAULT_PINS, "tag"),
        ("azure/login", {"Azure": "tag", "*": "sha"}, "tag"),
        ("Azure/Login", {"azure/login": "any", "azure/*": "tag"}, "any"),
        # docker:// step images are named docker://<registry>/<repository>
        ("docker://docker.io/library/alpine", DEFAULT_PINS, "sha"),
        ("docker://ghcr.io/acme/tool", {"docker://ghcr.io/acme/**": "tag", "*": "sha"}, "tag"),
    ],
)
def test_pin_policy(action: str, pins: dict[str, str], expected: str) -> None:
    assert pin_policy(action, pins) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Azure/Login", "azure/login"),
        ("", ""),
        (["Deploy*", "release*"], ["deploy*", "release*"]),
        ([], []),
        (None, None),
    ],
)
def test_lower(value: Any, expected: Any) -> None:
    assert lower(value) == expected


@pytest.mark.parametrize(
    ("m", "candidates", "expected"),
    [
        (
            {"acme/ci": "v2", "acme/ci/.github/workflows/x.yml": "v3"},
            ["acme/ci/.github/workflows/x.yml", "acme/ci"],
            "acme/ci/.github/workflows/x.yml",
        ),
        ({"acme/ci": "v2"}, ["acme/ci/.github/workflows/x.yml", "acme/ci"], "acme/ci"),
        ({"Acme/CI": "v2"}, ["acme/ci"], "Acme/CI"),  # case is ignored
        ({"acme/ci": "v1", "ACME/CI": "v2"}, ["ACME/CI"], "ACME/CI"),  # exact case wins
        ({"acme/ci": "v2"}, "acme/ci", "acme/ci"),  # a lone candidate
        ({"acme/ci": "v2"}, [None, "acme/ci"], "acme/ci"),  # nulls are skipped
        ({"acme/ci": "v2"}, ["other/ci"], None),
        ({}, ["acme/ci"], None),
    ],
)
def test_find_key(m: dict[str, str], candidates: Any, expected: str | None) -> None:
    assert find_key(m, candidates) == expected


# ---------------------------------------------------------------------------
# image / join / keys / default


def test_image_valid() -> None:
    result = image(f"host:5000/a/b:tag@{SHA}")
    assert result == {**parse_image(f"host:5000/a/b:tag@{SHA}").to_dict(), "valid": True}
    assert result["registry"] == "host:5000"
    assert result["repository"] == "a/b"
    assert result["name"] == "host:5000/a/b"


@pytest.mark.parametrize("ref", ["", "${IMAGE}", "NGINX", "a b", "nginx@sha256:zz"])
def test_image_invalid(ref: str) -> None:
    result = image(ref)
    assert result["valid"] is False
    assert set(result) == set(image("nginx"))
    assert all(value is None for key, value in result.items() if key != "valid")


def test_image_non_string() -> None:
    assert image(None)["valid"] is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("items", "sep", "expected"),
    [
        (["a", "b", "c"], ", ", "a, b, c"),
        ([], ",", ""),
        (["solo"], ",", "solo"),
        (["a", 1, True, False, None, 2.5], "|", "a|1|true|false|null|2.5"),
        (("x", "y"), "", "xy"),
    ],
)
def test_join(items: list[object], sep: str, expected: str) -> None:
    assert join(items, sep) == expected


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        ({"b": 1, "a": 2, "c": 3}, ["a", "b", "c"]),
        ({}, []),
        ({2: "x", 1: "y"}, [1, 2]),
        ({"b": 1, 2: 2, "a": 3, 1: 4}, [1, 2, "a", "b"]),  # grouped by type, then sorted
    ],
)
def test_keys(m: dict[object, object], expected: list[object]) -> None:
    assert keys(m) == expected


@pytest.mark.parametrize(
    ("value", "fallback", "expected"),
    [
        (None, "fb", "fb"),
        ("v", "fb", "v"),
        ("", "fb", ""),  # only null falls back, not falsy values
        (0, 5, 0),
        (False, True, False),
        ([], ["x"], []),
        (None, None, None),
    ],
)
def test_default(value: object, fallback: object, expected: object) -> None:
    assert default(value, fallback) == expected


# ---------------------------------------------------------------------------
# Registry

EXPECTED_NAMES = {
    "with_tag",
    "release_at_least",
    "mirrored",
    "known_missing",
    "golden_image",
    "parse_version",
    "semver_compare",
    "version_at_least",
    "major_of",
    "versions_behind",
    "constraint_allows",
    "constraint_min",
    "constraint_admits",
    "constraint_max",
    "constraint_bounded",
    "constraint_behind_text",
    "ref_kind",
    "ref_version",
    "glob_match",
    "matches_any",
    "pin_policy",
    "lower",
    "find_key",
    "image",
    "join",
    "keys",
    "default",
    "in_scope",
    "missing_resources",
    "missing_paths",
    "missing_prefixes",
    "tag_version",
    "tag_at_least",
    "versions_behind_text",
}


def test_registry_names_and_immutability() -> None:
    assert set(FUNCTIONS) == EXPECTED_NAMES
    assert isinstance(FUNCTIONS, MappingProxyType)
    with pytest.raises(TypeError):
        FUNCTIONS["evil"] = print  # type: ignore[index]
    assert FUNCTIONS["constraint_allows"] is constraint_allows
    # CEL sees the readable map form of parse_version, not the sort-key tuple.
    assert FUNCTIONS["parse_version"] is version_fields


# ---------------------------------------------------------------------------
# Through CEL: argument and return conversion as the policy engine will see it.


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        ("constraint_allows(c, '5.1.0')", {"c": "~> 5.0"}, True),
        ("constraint_allows(c, '6.0.0')", {"c": "~> 5.0"}, False),
        ("constraint_admits(c, '5.40.0')", {"c": "~> 4.0"}, False),
        ("constraint_admits('', '5.40.0')", {}, True),
        ("constraint_min(c)", {"c": "~> 5.2"}, "5.2.0"),
        ("constraint_min('= 1.0, = 2.0') == null", {}, True),
        ("parse_version('v1.2.3-rc.1').minor", {}, 2),
        ("parse_version('v1.2.3-rc.1').prerelease", {}, "rc.1"),
        ("parse_version('main') == null", {}, True),
        ("parse_version(v) != null && parse_version(v).major >= 4", {"v": "v4"}, True),
        ("semver_compare('1.2', '1.10')", {}, -1),
        ("semver_compare(a, b) == 0", {"a": "v1", "b": "1.0.0"}, True),
        ("version_at_least('v4', 'v4.1.0')", {}, False),
        ("version_at_least(ref, '3.0.0')", {"ref": "v4"}, True),
        ("major_of('v4') == 4", {}, True),
        ("major_of('main') < 0", {}, True),
        ("versions_behind('1.5.0', '3.1.0')", {}, {"major": 2, "minor": 0, "patch": 0}),
        ("versions_behind(v, g).minor == 3", {"v": "3.1.0", "g": "3.4.0"}, True),
        ("glob_match(path, '**/*.tf')", {"path": "modules/vpc/main.tf"}, True),
        ("matches_any(a, allowed)", {"a": "actions/checkout", "allowed": ["actions/*"]}, True),
        ("matches_any('x/y', ['a/*', 'x/*'])", {}, True),
        ("image(ref).repository", {"ref": "nginx:1.25"}, "library/nginx"),
        ("image(ref).valid && image(ref).tag_or_default == 'latest'", {"ref": "nginx"}, True),
        ("image('${IMAGE}').valid", {}, False),
        ("image('NGINX').registry == null", {}, True),
        ("'ghcr.io/o/r:1'.image().registry", {}, "ghcr.io"),  # receiver-call sugar works too
        ("join(keys(labels), ',')", {"labels": {"team": "x", "app": "y"}}, "app,team"),
        ("['a', 'b'].join('-')", {}, "a-b"),
        ("join([1, true, 'x'], '/')", {}, "1/true/x"),
        ("keys({'b': 1, 'a': 2})", {}, ["a", "b"]),
        ("default(m.owner, 'none')", {"m": {"owner": None}}, "none"),
        ("default(null, 3) + 1", {}, 4),
        (
            "pin_policy('docker/login-action', pins)",
            {"pins": {"actions/*": "tag", "*": "sha"}},
            "sha",
        ),
        ("pin_policy('actions/checkout', {})", {}, "any"),
        (
            "matches_any(lower(a), lower(allowed))",
            {"a": "Azure/login", "allowed": ["AZURE/*"]},
            True,
        ),
        (
            "m[find_key(m, [a + '/' + p, a])]",
            {"m": {"acme/ci": "v2"}, "a": "acme/ci", "p": "x"},
            "v2",
        ),
        ("find_key(m, ['x']) == null", {"m": {"acme/ci": "v2"}}, True),
        ("has(m.owner) ? m.owner : default(null, 'none')", {"m": {}}, "none"),
    ],
)
def test_through_cel(expr: str, variables: dict[str, Any], expected: object) -> None:
    assert run(expr, **variables) == expected


def test_cel_returns_dicts_and_lists_as_python_types() -> None:
    behind = run("versions_behind('1.0', '3.0')")
    assert isinstance(behind, dict)
    assert behind == {"major": 2, "minor": 0, "patch": 0}
    parsed = run("image('ghcr.io/o/r@' + d)", d=SHA)
    assert isinstance(parsed, dict)
    assert parsed == image(f"ghcr.io/o/r@{SHA}")
    assert run("keys(m)", m={"z": 1, "y": 2}) == ["y", "z"]


def test_cel_passes_lists_and_maps_as_python_types() -> None:
    seen: list[tuple[type, type]] = []

    def probe(items: object, mapping: object) -> bool:
        seen.append((type(items), type(mapping)))
        return True

    context = cel.Context(variables={"m": {"k": [1]}}, functions={**FUNCTIONS, "probe": probe})
    assert cel.evaluate("probe(['a', 'b'], m)", context) is True
    assert seen == [(list, dict)]


def test_cel_uint_arrives_as_int() -> None:
    # CEL uint has no Python counterpart; it reaches functions as a plain int.
    assert run("default(null, 3u)") == 3
    assert run("major_of(3u)") == -1  # not a string, so not a version


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("semver_compare('main', '1.0')", "ValueError: semver_compare: first argument 'main'"),
        ("constraint_allows('=> 1', '1.0')", "ValueError: constraint '=> 1'"),
        ("constraint_admits('~> 1.0', 'latest')", "ValueError: constraint_admits: minimum"),
        ("versions_behind('main', '1.0')", "ValueError: versions_behind: version 'main'"),
        ("version_at_least('1.0', 'x')", "ValueError: version_at_least: minimum 'x'"),
        ("join(['a'])", "TypeError"),
    ],
)
def test_cel_surfaces_python_errors_as_runtime_error(expr: str, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        run(expr)


def test_cel_logical_or_absorbs_function_errors() -> None:
    # CEL's commutative || / && swallow an error when the other side decides the result.
    assert run("semver_compare('main', '1.0') == 0 || true") is True
    assert run("false && semver_compare('main', '1.0') == 0") is False


# ---------------------------------------------------------------------------
# Kubernetes and container images


@pytest.mark.parametrize(
    ("value", "scope", "expected"),
    [
        ("ghcr.io/acme/api", True, True),
        ("ghcr.io/acme/api", False, False),
        ("ghcr.io/acme/api", None, False),
        ("ghcr.io/acme/api", ["ghcr.io/acme/**"], True),
        ("ghcr.io/other/api", ["ghcr.io/acme/**"], False),
        ("ghcr.io/acme/api", "ghcr.io/*/api", True),
        ("ghcr.io/acme/api", [], False),
    ],
)
def test_in_scope(value: str, scope: object, expected: bool) -> None:
    assert in_scope(value, scope) is expected


@pytest.mark.parametrize("scope", [3, {"a": True}, ["ok", 1]])
def test_in_scope_rejects_other_scopes(scope: object) -> None:
    with pytest.raises(ValueError, match="in_scope: scope"):
        in_scope("x", scope)


REQUIRED = ["requests.cpu", "requests.memory", "limits.memory"]


@pytest.mark.parametrize(
    ("resources", "required", "expected"),
    [
        ({"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}, REQUIRED, []),
        (None, REQUIRED, REQUIRED),
        ({}, REQUIRED, REQUIRED),
        ("not a map", REQUIRED, REQUIRED),
        ({"requests": {"cpu": "100m", "memory": "1Gi"}}, REQUIRED, ["limits.memory"]),
        # a limit stands in for the request Kubernetes defaults from it
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, REQUIRED, []),
        ({"limits": {"memory": "1Gi"}}, REQUIRED, ["requests.cpu"]),
        # but a request never stands in for a limit
        ({"requests": {"memory": "1Gi"}}, ["limits.memory"], ["limits.memory"]),
        # null and empty values are unset; a zero quantity is set
        ({"requests": {"cpu": None, "memory": ""}}, REQUIRED[:2], REQUIRED[:2]),
        ({"requests": {"cpu": 0}}, ["requests.cpu"], []),
        ({"requests": None}, ["requests.cpu"], ["requests.cpu"]),
        # only the first dot separates: extended resources have dots of their own
        ({"limits": {"nvidia.com/gpu": 1}}, ["limits.nvidia.com/gpu"], []),
        (None, ["limits.x.io/gpu", "requests.cpu"], ["limits.x.io/gpu", "requests.cpu"]),
        ({}, [], []),
    ],
)
def test_missing_resources(resources: object, required: list[str], expected: list[str]) -> None:
    assert missing_resources(resources, required) == expected


@pytest.mark.parametrize("entry", ["cpu", "requests", "requests.", "limit.memory", "spec.cpu"])
def test_missing_resources_rejects_bad_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="requests.<resource> or limits.<resource>"):
        missing_resources({}, [entry])


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("3.11-slim", {"version": "3.11", "suffix": "-slim"}),
        ("3.11.4-slim-bookworm", {"version": "3.11.4", "suffix": "-slim-bookworm"}),
        ("20", {"version": "20", "suffix": ""}),
        ("20-alpine3.20", {"version": "20", "suffix": "-alpine3.20"}),
        ("v1.2.0-rc1", {"version": "v1.2.0", "suffix": "-rc1"}),
        ("3.13.0rc1", {"version": "3.13.0", "suffix": "rc1"}),
        ("22.04", {"version": "22.04", "suffix": ""}),
        ("1.2.3.4.5", {"version": "1.2.3.4", "suffix": ".5"}),
        ("latest", None),
        ("stable", None),
        ("bookworm", None),
        ("alpine3.20", None),
        ("vendor-1.2", None),
        ("", None),
        (None, None),
    ],
)
def test_tag_version(tag: object, expected: object) -> None:
    assert tag_version(tag) == expected


@pytest.mark.parametrize(
    ("version", "minimum", "expected"),
    [
        ("3.12", "3.12", True),
        ("3.13", "3.12", True),
        ("4", "3.12", True),
        # a tag floats over what it does not write: 3.12 follows 3.12.x, 3 follows 3.x
        ("3.12", "3.12.4", True),
        ("3", "3.12", True),
        ("22", "22.11.0", True),
        ("3.11", "3.12", False),
        ("3.11", "3.12.4", False),
        ("3.12.1", "3.12.4", False),
        ("3.12.4", "3.12.4", True),
        ("2", "3.12", False),
        ("3.9", "3.12", False),  # numeric, not lexical
        ("v3.12", "3.12", True),
        ("3.12-rc1", "3.12", False),  # a prerelease is short of the release
        ("3.12.0-rc1", "3.11", True),
        ("main", "3.12", False),
        ("", "3.12", False),
    ],
)
def test_tag_at_least(version: str, minimum: str, expected: bool) -> None:
    assert tag_at_least(version, minimum) is expected


def test_tag_at_least_bad_minimum() -> None:
    with pytest.raises(ValueError, match="tag_at_least: minimum 'latest'"):
        tag_at_least("3.12", "latest")


@pytest.mark.parametrize(
    ("v", "golden", "expected"),
    [
        ("1.25", "1.31", "6 minor versions"),
        ("1.31", "1.32", "1 minor version"),
        ("20", "22", "2 major versions"),
        ("2", "3.12", "1 major version"),
        ("3.12.2", "3.12.4", "2 patch versions"),
        ("3.12.4", "3.12.4", ""),
        ("3.13", "3.12", ""),
        ("1.2.3.1", "1.2.3.4", ""),  # below patch: not counted
    ],
)
def test_versions_behind_text(v: str, golden: str, expected: str) -> None:
    assert versions_behind_text(v, golden) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("tag_version('3.11-slim').version", "3.11"),
        ("tag_version('latest') == null", True),
        ("tag_at_least(tag_version('3.12-slim').version, '3.12.4')", True),
        ("missing_resources(null, ['requests.cpu', 'limits.memory'])", REQUIRED[::2]),
        ("in_scope('ghcr.io/acme/x', ['ghcr.io/acme/**'])", True),
        ("versions_behind_text('1.16', '1.31')", "15 minor versions"),
    ],
)
def test_kubernetes_functions_through_cel(expr: str, expected: object) -> None:
    assert run(expr) == expected


# ---------------------------------------------------------------------------
# Repository files and workflow steps (repository pack)

_FILES = ["README.md", "SECURITY.md", ".github/dependabot.yml", "LICENSE.txt", "src/a.py"]


@pytest.mark.parametrize(
    ("required", "expected"),
    [
        ([], []),
        (["SECURITY.md"], []),
        (["CONTRIBUTING.md"], ["CONTRIBUTING.md"]),
        ([["renovate.json", ".github/dependabot.yml"]], []),
        ([["renovate.json", ".renovaterc"]], ["renovate.json (or .renovaterc)"]),
        (["LICENSE*"], []),  # globs
        (["src/**/*.py"], []),
        (["docs/*.md", "security.md"], ["docs/*.md", "security.md"]),  # case matters
        ([["only-one"]], ["only-one"]),
    ],
)
def test_missing_paths(required: list[object], expected: list[str]) -> None:
    assert missing_paths(required, _FILES) == expected  # type: ignore[arg-type]


def test_missing_paths_rejects_an_empty_group() -> None:
    with pytest.raises(ValueError, match="empty list"):
        missing_paths([[]], _FILES)


@pytest.mark.parametrize(
    ("required", "values", "expected"),
    [
        (["acme/scan"], ["acme/scan"], []),
        (["acme/scan"], ["acme/scan/sarif"], []),
        (["acme/scan"], ["acme/scanner"], ["acme/scan"]),
        (["Acme/Scan"], ["acme/scan"], []),  # GitHub ignores case
        (["acme/scan/"], ["acme/scan"], []),
        (["a/b", "c/d"], ["c/d/e"], ["a/b"]),
        ([], ["a/b"], []),
    ],
)
def test_missing_prefixes(required: list[str], values: list[str], expected: list[str]) -> None:
    assert missing_prefixes(required, values) == expected


def test_missing_paths_and_prefixes_through_cel() -> None:
    assert run(
        "missing_paths(req, files)",
        req=[["renovate.json", "x"], "README.md"],
        files=["README.md"],
    ) == ["renovate.json (or x)"]
    assert run("size(missing_prefixes(['a/b'], ['a/b/c'])) == 0") is True


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("constraint_max('~> 4.67')", "4.x"),
        ("constraint_max('>= 4.0') == null", True),
        ("constraint_bounded('~> 5.8') && !constraint_bounded('>= 5.0')", True),
        ("constraint_behind_text('~> 4.67', '5.40.0')", "1 major version"),
        ("ref_kind('main')", "branch"),
        ("ref_kind(null)", "none"),
        ("ref_version('vpc-v1.2.0')", "1.2.0"),
        ("ref_version('main') == null", True),
    ],
)
def test_terraform_functions_through_cel(expr: str, expected: object) -> None:
    assert run(expr) == expected


@pytest.mark.parametrize(
    ("versions", "floor", "expected"),
    [
        (["v3.4.0", "v3.10.0", "v4.1.0"], "v3", "v3.10.0"),  # newest in the floor's major
        (["v3.4.0", "v4.1.0", "v5.0.0"], "v3.5", "v5.0.0"),  # none there: newest above
        (["v4.0.2"], "v4.1.0", None),  # never below the floor (no downgrade)
        (["v3.4.0"], "main", None),  # a branch is not moved to a release
        ({"v4.0.2": "e3dd6a4", "v4.2.2": "11bd719"}, "v4", "v4.2.2"),  # a map: its keys
        (["not-a-version", "v1.0.0"], "v1", "v1.0.0"),
        ([], "v1", None),
    ],
)
def test_release_at_least(versions: object, floor: str, expected: str | None) -> None:
    from scanner.policy.functions import release_at_least

    assert release_at_least(versions, floor) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("nginx:1.27", "registry.acme.dev/mirror/nginx:1.27"),  # docker.io/library/ normalised
        ("docker.io/library/nginx", "registry.acme.dev/mirror/nginx"),
        ("quay.io/prometheus/node-exporter:v1", "registry.acme.dev/prom/node-exporter:v1"),
        ("quay.io/acme/x@sha256:" + "0" * 64, "registry.acme.dev/quay/acme/x@sha256:" + "0" * 64),
        ("quay.iox/acme/x", None),  # a prefix is whole path segments
        ("ghcr.io/acme/api:1", None),
        ("not a ref", None),
    ],
)
def test_mirrored(ref: str, expected: str | None) -> None:
    from scanner.policy.functions import mirrored

    mirrors = {
        "docker.io/library/": "registry.acme.dev/mirror/",
        "quay.io/": "registry.acme.dev/quay/",
        "quay.io/prometheus/": "registry.acme.dev/prom/",  # the longest prefix wins
    }
    assert mirrored(ref, mirrors) == expected


def test_known_missing() -> None:
    from scanner.policy.functions import known_missing

    known = {"team": "web", "cost-center": "cc-1"}
    assert known_missing(["team", "cost-center"], {"team": ""}, known) == known
    assert known_missing(["team", "cost-center"], {"team": "x"}, known) == {"cost-center": "cc-1"}
    assert known_missing(["team"], {"team": "x"}, known) is None  # nothing missing
    assert known_missing(["team", "owner"], {}, known) is None  # owner has no value: no half fix
    assert known_missing(["team"], None, known) == {"team": "web"}


def test_golden_image() -> None:
    from scanner.policy.functions import golden_image

    tags = {"docker.io/library/python": "3.12", "docker.io/library/node": "22"}
    mirrors = {"docker.io/library/": "registry.acme.dev/mirror/"}
    approved = ["registry.acme.dev/**"]

    def g(ref: str, behind: bool = True, ok: list[str] = approved) -> object:
        return golden_image(ref, tags, ["latest"], mirrors, ok, behind)

    assert g("python:3.9-slim") == {
        "image": "registry.acme.dev/mirror/python:3.12-slim",
        "unsafe": False,
    }
    assert g("node:18-alpine") == {
        "image": "registry.acme.dev/mirror/node:22-alpine",
        "unsafe": True,
    }
    assert g("python:latest") == {"image": "registry.acme.dev/mirror/python:3.12", "unsafe": True}
    assert g("python:3.9-alpine3.13") == {
        "image": "registry.acme.dev/mirror/python:3.9-alpine3.13",  # variant: only the mirror
        "unsafe": False,
    }
    assert g("python:3.9", behind=False) == {
        "image": "registry.acme.dev/mirror/python:3.9",
        "unsafe": False,
    }
    # an approved name is not moved; nothing to change gives null
    assert g("python:3.12", ok=["docker.io/library/*"]) is None
    assert g("python@sha256:" + "0" * 64, ok=["docker.io/library/*"]) is None


def test_golden_image_keeps_the_tags_spelling_and_counts_0x_minors_as_majors() -> None:
    from scanner.policy.functions import golden_image

    prom = {"quay.io/prometheus/prometheus": "2.50"}
    assert golden_image(
        "quay.io/prometheus/prometheus:v2.45.0", prom, ["latest"], {}, [], True
    ) == {
        "image": "quay.io/prometheus/prometheus:v2.50",  # prometheus publishes v-tags
        "unsafe": False,
    }
    node = {"docker.io/library/node": "0.12"}
    assert golden_image("node:0.10", node, ["latest"], {}, [], True) == {
        "image": "node:0.12",
        "unsafe": True,  # below 1.0 a minor may break
    }

"""Issue 7, item 15: matching that a repository's text cannot make slow.

Globs (exclude lists, exception scopes, allowed owners...) and inline `tether:ignore` comments
are matched in time proportional to their input; a pathological glob or comment line
finishes in milliseconds and agrees with the old regular-expression semantics.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from scanner.errors import ConfigError
from scanner.inline import parse_inline
from scanner.policy.functions import (
    MAX_PATTERN_LEN,
    MAX_PATTERNS,
    check_patterns,
    glob_match,
    matches_any,
)

T = TypeVar("T")


def _old_glob_regex(pattern: str) -> re.Pattern[str]:
    """The regex translation glob_match used before item 15: the semantics oracle."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                out.append("[^/]*")
            elif (i == 0 or pattern[i - 1] == "/") and j < n and pattern[j] == "/":
                out.append("(?:.*/)?")
                j += 1
            else:
                out.append(".*")
            i = j
            continue
        out.append("[^/]" if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _elapsed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


# ---------------------------------------------------------------------------
# Globs


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("a" * 5000, "*a*a*a*a*a*a*a*a*a*a*b"),  # the classic: exponential as a regex
        ("a" * 20000, "*a" * 200 + "*b"),
        ("a" * 5000, "**a**a**a**a**a**a**a**a**a**a**b"),
        ("a/" * 2500, "**/a/**/a/**/a/**/a/**/a/**/b"),
        ("a/" * 2500 + "x", "**/" + "*/" * 300 + "b"),
        ("ab/" * 1700, "**/" + "a?/" * 300 + "b/**"),
        ("a" * 5000, "?*" * 500 + "b"),
    ],
)
def test_pathological_globs_finish_quickly(value: str, pattern: str) -> None:
    result, seconds = _elapsed(glob_match, value, pattern)
    assert result is False
    assert seconds < 1.0, f"{seconds:.2f}s for a {len(value)}-character value"


def test_redos_glob_matches_when_it_should() -> None:
    assert glob_match("a" * 5000 + "b", "*a*a*a*a*a*a*a*a*a*a*b")
    assert glob_match("x/" * 2000 + "b", "**/x/**/b")


def test_many_distinct_globs_do_not_depend_on_the_cache() -> None:
    # more distinct patterns than the compile cache holds: each is still parsed in linear time
    patterns = [f"team-{i}/*a*a*a*a*a*a*b" for i in range(5000)]
    result, seconds = _elapsed(matches_any, "team-4999/" + "a" * 2000, patterns)
    assert result is False
    assert seconds < 2.0


def test_glob_agrees_with_the_regex_semantics_on_random_inputs() -> None:
    rng = random.Random(20261201)
    # the alphabet covers every construct: literal and '/' and regex-special characters,
    # single and double stars, '**/' at segment starts and inside segments, '?', newlines
    pattern_parts = ["a", "b", "/", ".", "[", "\n", "*", "**", "***", "?", "**/", "/**/", "/**"]
    value_parts = ["a", "b", "/", ".", "[", "\n", "ab", "//"]
    for _ in range(20000):
        pattern = "".join(rng.choice(pattern_parts) for _ in range(rng.randint(0, 8)))
        value = "".join(rng.choice(value_parts) for _ in range(rng.randint(0, 10)))
        expected = _old_glob_regex(pattern).fullmatch(value) is not None
        assert glob_match(value, pattern) is expected, (value, pattern)


def test_check_patterns_limits() -> None:
    check_patterns(["a/*"] * MAX_PATTERNS, "baseline.yml", 3)
    check_patterns("x" * MAX_PATTERN_LEN, "baseline.yml")
    with pytest.raises(ConfigError) as too_many:
        check_patterns(["a/*"] * (MAX_PATTERNS + 1), "baseline.yml", 3, "exclude")
    assert too_many.value.file == "baseline.yml" and too_many.value.line == 3
    assert "exclude" in too_many.value.message and str(MAX_PATTERNS) in too_many.value.message
    with pytest.raises(ConfigError) as too_long:
        check_patterns(["ok", "*" * (MAX_PATTERN_LEN + 1)], ".tether.yaml")
    assert str(MAX_PATTERN_LEN) in too_long.value.message
    assert len(str(too_long.value)) < 400  # the pattern is quoted, not copied whole


# ---------------------------------------------------------------------------
# Inline tether:ignore comments

# the expression scanner/exceptions.py used before item 15: the semantics oracle
# the reference grammar (issue 10: several ids as written, `A B reason` as well as `A, B`):
# names joined by commas, or by spaces when the name is a rule id following the first name,
# a rule id or a pack
_OLD_INLINE = re.compile(
    r"(?:#|//|/\*)\s*tether:ignore\s+"
    r"(?P<rules>[A-Za-z][A-Za-z0-9-]*"
    r"(?:\s*,\s*[A-Za-z][A-Za-z0-9-]*|\s+[A-Za-z][A-Za-z0-9]*[0-9]{3}(?![A-Za-z0-9-]))*)"
    r"(?P<reason>.*?)"
    r"(?:\(\s*until\s+(?P<until>\d{4}-\d{2}-\d{2})\s*\))?\s*(?:\*/)?\s*$"
)
_JOINED = re.compile(r"(\s*,\s*|\s+)?([A-Za-z][A-Za-z0-9-]*)")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*\d{3}")
PACKS = frozenset({"github-actions", "kubernetes"})
Parsed = tuple[int, list[str], str, "str | None", bool]


def _old_inline(line: str) -> Parsed | None:
    """What inline_records derived from the old expression's match."""
    m = _OLD_INLINE.search(line)
    if m is None:
        return None
    # a space-joined id counts only after an id or a pack; otherwise it starts the reason
    tokens: list[str] = []
    taken = 0
    for j in _JOINED.finditer(m.group("rules")):
        sep, tok = j.group(1), j.group(2)
        spaced = len(tokens) > 1 and sep is not None and "," not in sep
        if spaced and not (_ID.fullmatch(tokens[-1]) or tokens[-1] in PACKS):
            break
        tokens.append(tok)
        taken = j.end()
    leftover = m.group("rules")[taken:]
    names: list[str] = []
    rest = ""
    for i, tok in enumerate(tokens):
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*\d{3}", tok) or tok in PACKS:
            names.append(tok)
        else:
            rest = ", ".join(tokens[i:])
            break
    reason = " ".join(f"{rest} {leftover} {m.group('reason')}".split()).strip(" :-—,")
    own = line.lstrip().startswith(("#", "//", "/*"))
    return (m.start() + 1, names, reason, m.group("until"), own)


def _new_inline(line: str) -> Parsed | None:
    r = parse_inline(line, PACKS)
    return None if r is None else (r.col, r.names, r.reason, r.until, r.own_line)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "# tether:ignore K8S001 vendor image (until 2027-01-31)",
            (1, ["K8S001"], "vendor image", "2027-01-31", True),
        ),
        (
            "image: quay.io/x:1  # tether:ignore k8s001, GHA002: mirror pending in PLAT-412",
            (21, ["k8s001", "GHA002"], "mirror pending in PLAT-412", None, False),
        ),
        (
            "// tether:ignore github-actions reason here",
            (1, ["github-actions"], "reason here", None, True),
        ),
        (
            "x = 1 /* tether:ignore TF001 pinned by vendor ( until 2027-01-31 ) */",
            (7, ["TF001"], "pinned by vendor", "2027-01-31", False),
        ),
        (
            "/* tether:ignore TF001 no date (until 2027-1-31) */",
            (1, ["TF001"], "no date (until 2027-1-31)", None, True),
        ),
        (
            "# tether:ignore TF001, vendor image, more text",  # the reason begins early
            (1, ["TF001"], "vendor image, more text", None, True),
        ),
        ("# tether:ignore TF001,", (1, ["TF001"], "", None, True)),  # trailing comma
        ("# tether:ignore TF001 , GHA001 ,  ", (1, ["TF001", "GHA001"], "", None, True)),
        ("# tether:ignore because reasons", (1, [], "because reasons", None, True)),
        ('s = "#x"  # tether:ignore DOCKER001 ok\r', (11, ["DOCKER001"], "ok", None, False)),
        ("# tether:ignore", None),
        ("# tether:ignoreK8S001 x", None),
        ("tether:ignore K8S001 x", None),
        ("#: tether:ignore K8S001 x", None),
        ("# tether:ignore 123 x", None),
    ],
)
def test_parse_inline_cases(line: str, expected: Parsed | None) -> None:
    assert _new_inline(line) == expected
    assert _old_inline(line) == expected  # the cases document the old behaviour too


@pytest.mark.parametrize(
    "line",
    [
        "# tether:ignore REPO001" + " " * 3000 + "x",  # >60 s with the old expression
        "# tether:ignore REPO001" + " " * 3000,
        "# tether:ignore REPO001 (until" + " " * 3000,
        "# tether:ignore REPO001 " + "reason " * 15000,  # a 100 KB line
        "# tether:ignore REPO001" + " ," * 50000,
        "# tether:ignore REPO001" + ", REPO001" * 12000 + " " * 3000 + "!",
        " # tether:ignore" * 8000,
        "#" + " " * 100000 + "tether:ignore",
    ],
)
def test_parse_inline_is_linear(line: str) -> None:
    _, seconds = _elapsed(parse_inline, line, PACKS)
    assert seconds < 0.1, f"{seconds:.3f}s on a {len(line)}-character line"


def test_parse_inline_agrees_with_the_old_expression() -> None:
    rng = random.Random(7)
    markers = ["#", "//", "/*", "/", "*", "# ", "a #", '"#"', ""]
    parts = [
        " ",
        "  ",
        "\t",
        "\xa0",
        ",",
        " , ",
        "K8S001",
        "k8s001",
        "TF001",
        "github-actions",
        "kubernetes",
        "bad-name",
        "X1",
        "reason",
        "words",
        "-",
        ":",
        "—",
        "(",
        ")",
        "until",
        "(until 2027-01-31)",
        "( until  2027-01-31 )",
        "(until 2027-1-31)",
        " 2027-01-31",
        "(until ٢٠٢٧-٠١-٣١)",
        "*/",
        "*",
        "/",
        "tether:ignore",
        "#",
        "\r",
    ]
    for _ in range(40000):
        line = "".join(
            [
                "".join(rng.choice(parts) for _ in range(rng.randint(0, 2))),
                rng.choice(markers),
                rng.choice(["", " ", "  "]),
                rng.choice(["tether:ignore", "tether:ignore ", "tether:ignore  ", "tether:"]),
                "".join(rng.choice(parts) for _ in range(rng.randint(0, 10))),
            ]
        )
        assert _new_inline(line) == _old_inline(line), repr(line)

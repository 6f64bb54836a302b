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

"""Pure functions exposed to policy expressions as CEL custom functions.

Every function here takes and returns plain Python values (str, int, bool, list,
dict, None) because that is what the ``cel`` library passes across the boundary:
CEL lists/maps arrive as ``list``/``dict``, ``uint`` arrives as ``int``, and a
returned ``dict``/``list``/``tuple`` becomes a CEL map/list. An exception raised
here surfaces from ``cel.evaluate`` as ``RuntimeError`` whose message embeds the
original ``ValueError: ...`` text, so messages are written for policy authors.

Versions
--------
``parse_version`` is deliberately tolerant (``v1``, ``1.2``, ``1.2.3.4``,
``1.2.3-rc.1+build``) because refs in the wild (action tags, provider pins,
image tags) rarely follow strict semver. Missing components are zero, so
``v4`` == ``4.0.0``; prerelease ordering follows semver precedence; build
metadata is ignored. In CEL, ``parse_version`` is :func:`version_fields` (a map
with major/minor/patch/revision/prerelease, or null), not the Python tuple.

Constraints
-----------
``constraint_allows`` accepts Terraform syntax (``>= 1.2, < 2.0``, ``~> 1.2``)
and common npm syntax (``^1.2.3``, ``~1.2``, ``1.x``, ``*``, ``>=1.2 <2``,
``1.2 - 1.4``, ``a || b``). Where the two disagree, Terraform wins because
Terraform pins are the main input:

* A bare partial version is an exact match with zeros filled in (``1.2`` means
  ``= 1.2.0``), not npm's ``1.2.x``; write ``1.2.x`` or ``~1.2`` for a range.
* ``>``/``<``/``>=``/``<=`` compare against the zero-filled version (``> 1.2``
  means ``> 1.2.0``); only an explicit wildcard (``> 1.x``) widens to npm's meaning.

Prerelease versions: a prerelease such as ``1.3.0-rc.1`` satisfies a set of
clauses only if it satisfies every clause *and* some (non ``!=``) clause in the
same set names a prerelease of the same release (``1.3.0-beta``). This is
npm's rule; it contains Terraform's rule (a prerelease is selected only by a
constraint that spells it out) and keeps ``>= 1.0`` from silently admitting
release candidates. An empty constraint is "no constraint" and admits
everything, prereleases included; ``*`` is an ordinary clause and does not.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final, NamedTuple, TypeVar

from scanner.errors import ConfigError
from scanner.imageref import parse_image

__all__ = [
    "FUNCTIONS",
    "MAX_PATTERNS",
    "MAX_PATTERN_LEN",
    "Version",
    "check_patterns",
    "constraint_admits",
    "constraint_allows",
    "constraint_behind_text",
    "constraint_bounded",
    "constraint_max",
    "constraint_min",
    "default",
    "find_key",
    "glob_match",
    "image",
    "in_scope",
    "join",
    "keys",
    "lower",
    "major_of",
    "matches_any",
    "missing_paths",
    "missing_prefixes",
    "missing_resources",
    "parse_version",
    "pin_policy",
    "ref_kind",
    "ref_version",
    "semver_compare",
    "tag_at_least",
    "tag_version",
    "version_at_least",
    "with_tag",
    "release_at_least",
    "mirrored",
    "known_missing",
    "golden_image",
    "version_fields",
    "versions_behind",
    "versions_behind_text",
]

T = TypeVar("T")
U = TypeVar("U")

# One prerelease identifier as a sort key: numeric ids (0, n) sort before
# alphanumeric ids (1, s), as semver precedence requires.
PreId = tuple[int, int | str]
PreKey = tuple[PreId, ...]

# A release sorts after every prerelease of the same numbers: (2, "") beats any (0|1, ...).
_RELEASE: Final[PreKey] = ((2, ""),)
# The empty key sorts before every prerelease: "2.0.0" with it is npm's "2.0.0-0",
# the bound that keeps 2.0.0's prereleases out of "< 2.0.0"-style upper limits.
_LOWEST_PRE: Final[PreKey] = ()

_MAX_VERSION_LEN: Final = 256  # Bounds int() work on hostile input; real versions are short.
_IDENT: Final = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_RE: Final = re.compile(
    rf"[vV]?(?P<nums>\d+(?:\.\d+){{0,3}})(?:-(?P<pre>{_IDENT}))?(?:\+{_IDENT})?",
    re.ASCII,
)
_PARTIAL_RE: Final = re.compile(
    rf"[vV]?(?P<nums>(?:\d+|[xX*])(?:\.(?:\d+|[xX*])){{0,3}})(?:-(?P<pre>{_IDENT}))?(?:\+{_IDENT})?",
    re.ASCII,
)
_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<op>~>|>=|<=|!=|==|=|>|<|\^|~)|(?P<comma>,)|(?P<word>[^\s,<>=!~^|]+))",
    re.ASCII,
)
_WILDCARDS: Final = frozenset({"x", "X", "*"})


class Version(NamedTuple):
    """A parsed version; tuple order is version precedence, so ``<``/``==`` just work."""

    major: int
    minor: int
    patch: int
    revision: int
    prerelease_key: PreKey

    @property
    def release(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.patch, self.revision)

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease_key != _RELEASE

    @property
    def prerelease(self) -> str | None:
        if not self.is_prerelease:
            return None
        return ".".join(str(value) for _, value in self.prerelease_key)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.revision:
            text += f".{self.revision}"
        pre = self.prerelease
        return f"{text}-{pre}" if pre else text


# ---------------------------------------------------------------------------
# Versions


def parse_version(s: object) -> Version | None:
    """Tolerantly parse ``s`` as a version, or return ``None`` (``main``, a git SHA, ...)."""
    if not isinstance(s, str) or len(s) > _MAX_VERSION_LEN:
        return None
    match = _VERSION_RE.fullmatch(s.strip())
    if match is None:
        return None
    nums = [int(part) for part in match["nums"].split(".")]
    nums += [0] * (4 - len(nums))
    return Version(nums[0], nums[1], nums[2], nums[3], _prerelease_key(match["pre"]))


def version_fields(s: object) -> dict[str, int | str | None] | None:
    """CEL face of :func:`parse_version`: a map policy authors can read, or null.

    Registered under the CEL name ``parse_version`` because the tuple form reaches
    CEL as nested lists of sort-key pairs, which no expression should depend on.
    """
    version = parse_version(s)
    if version is None:
        return None
    return {
        "major": version.major,
        "minor": version.minor,
        "patch": version.patch,
        "revision": version.revision,
        "prerelease": version.prerelease,
    }


def _prerelease_key(pre: str | None) -> PreKey:
    if pre is None:
        return _RELEASE
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split("."))


def _require_version(s: object, what: str) -> Version:
    version = parse_version(s)
    if version is None:
        raise ValueError(f"{what} {s!r} is not a version")
    return version


def semver_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to or after ``b``; ValueError on non-versions."""
    va = _require_version(a, "semver_compare: first argument")
    vb = _require_version(b, "semver_compare: second argument")
    return (va > vb) - (va < vb)


def version_at_least(v: str, minimum: str) -> bool:
    """``v >= minimum`` numerically (``v4`` is 4.0.0, so it is *not* at least 4.1.0).

    False when ``v`` is not a version (a branch or SHA ref can't be shown to be new
    enough); ValueError when ``minimum`` isn't, since that is a policy bug.
    """
    floor = _require_version(minimum, "version_at_least: minimum")
    version = parse_version(v)
    return version is not None and version >= floor


def major_of(v: str) -> int:
    """Major component, or -1 when ``v`` is not a version (for floating ``v4`` action tags)."""
    version = parse_version(v)
    return -1 if version is None else version.major


def versions_behind(v: str, golden: str) -> dict[str, int]:
    """How far ``v`` trails ``golden`` at the first differing level.

    Only one key is non-zero: 1.5.0 vs 3.1.0 is ``{major: 2, minor: 0, patch: 0}``
    (the minor distance across majors is meaningless). All zero when ``v >= golden``,
    and when they differ only below patch (revision or prerelease).
    """
    version = _require_version(v, "versions_behind: version")
    target = _require_version(golden, "versions_behind: golden")
    behind = {"major": 0, "minor": 0, "patch": 0}
    if version >= target:
        return behind
    for key, mine, theirs in zip(
        ("major", "minor", "patch"), version.release, target.release, strict=False
    ):
        if mine != theirs:
            behind[key] = theirs - mine
            break
    return behind


# ---------------------------------------------------------------------------
# Constraints


@dataclass(frozen=True, slots=True)
class _Bound:
    version: Version
    inclusive: bool


@dataclass(frozen=True, slots=True)
class _Interval:
    """A version interval; ``None`` bounds are unbounded."""

    low: _Bound | None
    high: _Bound | None

    def contains(self, v: Version) -> bool:
        if self.low is not None and not (
            v > self.low.version or (self.low.inclusive and v == self.low.version)
        ):
            return False
        return (
            self.high is None
            or v < self.high.version
            or (self.high.inclusive and v == self.high.version)
        )

    def is_empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        if self.low.version != self.high.version:
            return self.low.version > self.high.version
        return not (self.low.inclusive and self.high.inclusive)

    def intersect(self, other: _Interval) -> _Interval:
        return _Interval(_max_low(self.low, other.low), _min_high(self.high, other.high))

    def minus(self, other: _Interval) -> list[_Interval]:
        """``self`` without ``other``: at most the pieces left and right of ``other``."""
        pieces: list[_Interval] = []
        if other.low is not None:
            flipped = _Bound(other.low.version, not other.low.inclusive)
            pieces.append(self.intersect(_Interval(None, flipped)))
        if other.high is not None:
            flipped = _Bound(other.high.version, not other.high.inclusive)
            pieces.append(self.intersect(_Interval(flipped, None)))
        return [piece for piece in pieces if not piece.is_empty()]


_EVERYTHING: Final = _Interval(None, None)
_ZERO: Final = Version(0, 0, 0, 0, _RELEASE)


def _max_low(a: _Bound | None, b: _Bound | None) -> _Bound | None:
    if a is None or b is None:
        return b if a is None else a
    if a.version != b.version:
        return a if a.version > b.version else b
    return a if not a.inclusive else b


def _min_high(a: _Bound | None, b: _Bound | None) -> _Bound | None:
    if a is None or b is None:
        return b if a is None else a
    if a.version != b.version:
        return a if a.version < b.version else b
    return a if not a.inclusive else b


@dataclass(frozen=True, slots=True)
class _Clause:
    interval: _Interval
    negated: bool
    # Releases whose prereleases this clause names, e.g. (1, 3, 0, 0) for ">= 1.3.0-beta".
    prerelease_bases: tuple[tuple[int, int, int, int], ...]

    def allows(self, v: Version) -> bool:
        return self.interval.contains(v) != self.negated


# An alternative is a conjunction of clauses; a constraint is a disjunction of alternatives.
_Alternative = tuple[_Clause, ...]


class _Partial(NamedTuple):
    """A constraint operand: the numbers written before any wildcard, plus prerelease."""

    nums: tuple[int, ...]
    wildcard: bool
    prerelease_key: PreKey

    @property
    def floor(self) -> Version:
        padded = self.nums + (0,) * (4 - len(self.nums))
        return Version(padded[0], padded[1], padded[2], padded[3], self.prerelease_key)

    def bump(self, index: int, pre: PreKey) -> Version:
        """Increment component ``index`` and zero the rest (the top of a ``~>``/``^`` range)."""
        head = (*self.nums[:index], self.nums[index] + 1)
        padded = head + (0,) * (4 - len(head))
        return Version(padded[0], padded[1], padded[2], padded[3], pre)


def _parse_partial(word: str, constraint: str) -> _Partial:
    match = _PARTIAL_RE.fullmatch(word)
    if match is None:
        raise ValueError(f"constraint {constraint!r}: {word!r} is not a version")
    parts = match["nums"].split(".")
    nums: list[int] = []
    for part in parts:
        if part in _WILDCARDS:
            break
        nums.append(int(part))
    wildcard = len(nums) < len(parts)
    if wildcard and not all(part in _WILDCARDS for part in parts[len(nums) :]):
        raise ValueError(f"constraint {constraint!r}: {word!r} has numbers after a wildcard")
    if wildcard and match["pre"]:
        raise ValueError(f"constraint {constraint!r}: {word!r} mixes a wildcard and a prerelease")
    return _Partial(tuple(nums), wildcard, _prerelease_key(match["pre"]))


def _upper_of(p: _Partial) -> _Bound | None:
    """Exclusive top of a wildcard/partial operand (``1.2.x`` -> ``< 1.3.0-0``)."""
    if not p.nums:
        return None
    return _Bound(p.bump(len(p.nums) - 1, _LOWEST_PRE), False)


def _clause(op: str | None, p: _Partial, constraint: str) -> _Clause:
    n = len(p.nums)
    floor = _Bound(p.floor, True)
    interval: _Interval
    if op == "~>" and p.wildcard:
        raise ValueError(f"constraint {constraint!r}: '~>' needs a version without wildcards")
    if p.wildcard and not n:  # "*" on its own
        if op in (">", "<"):
            raise ValueError(f"constraint {constraint!r}: '{op}*' can never match")
        interval = _EVERYTHING
    elif op in (None, "=", "==", "!="):
        interval = _Interval(floor, _upper_of(p)) if p.wildcard else _Interval(floor, floor)
    elif op == ">=":
        interval = _Interval(floor, None)
    elif op == ">":
        # "> 1.x" is npm's "above the whole 1.x range", i.e. >= 2.0.0.
        low = _Bound(p.bump(n - 1, _RELEASE), True) if p.wildcard else _Bound(p.floor, False)
        interval = _Interval(low, None)
    elif op == "<":
        # "< 1.x" is "below all of 1.x", so 1.0.0's prereleases are out too.
        top = p.floor._replace(prerelease_key=_LOWEST_PRE) if p.wildcard else p.floor
        interval = _Interval(None, _Bound(top, False))
    elif op == "<=":
        interval = _Interval(None, _upper_of(p) if p.wildcard else floor)
    elif op == "~>":
        # Pessimistic: only the last written component may grow ("~> 1" behaves like "~> 1.0").
        interval = _Interval(floor, _Bound(p.bump(max(n - 2, 0), _LOWEST_PRE), False))
    elif op == "~":
        interval = _Interval(floor, _Bound(p.bump(1 if n >= 2 else 0, _LOWEST_PRE), False))
    else:  # "^": may not change the left-most non-zero component that was written.
        index = next((i for i, num in enumerate(p.nums) if num), n - 1)
        interval = _Interval(floor, _Bound(p.bump(index, _LOWEST_PRE), False))
    bases = (p.floor.release,) if p.prerelease_key != _RELEASE and op != "!=" else ()
    return _Clause(interval, op == "!=", bases)


def _hyphen_clause(lo: _Partial, hi: _Partial) -> _Clause:
    # npm: a partial upper end covers everything it names ("1 - 2.3" is < 2.4.0-0).
    high = _upper_of(hi) if hi.wildcard or len(hi.nums) < 3 else _Bound(hi.floor, True)
    bases = tuple(p.floor.release for p in (lo, hi) if p.prerelease_key != _RELEASE)
    return _Clause(_Interval(_Bound(lo.floor, True), high), False, bases)


def _tokenize(text: str, constraint: str) -> list[tuple[str | None, str]]:
    """Split one alternative into (operator, operand) pairs; commas are optional separators."""
    items: list[tuple[str | None, str]] = []
    op: str | None = None
    pos = 0
    expect_operand = True  # at the start or right after a comma, a clause must follow
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ValueError(f"constraint {constraint!r}: unexpected {text[pos:].strip()!r}")
        pos = match.end()
        if match["op"]:
            if op is not None:
                raise ValueError(f"constraint {constraint!r}: {op!r} followed by {match['op']!r}")
            op = match["op"]
        elif match["comma"]:
            if op is not None:
                raise ValueError(f"constraint {constraint!r}: {op!r} without a version")
            if expect_operand:
                raise ValueError(f"constraint {constraint!r}: empty clause before ','")
            expect_operand = True
        else:
            items.append((op, match["word"]))
            op, expect_operand = None, False
    if op is not None:
        raise ValueError(f"constraint {constraint!r}: {op!r} without a version")
    if expect_operand and items:
        raise ValueError(f"constraint {constraint!r}: trailing ','")
    return items


def _parse_alternative(text: str, constraint: str) -> _Alternative:
    items = _tokenize(text, constraint)
    clauses: list[_Clause] = []
    i = 0
    while i < len(items):
        op, word = items[i]
        if i + 2 < len(items) and items[i + 1] == (None, "-"):
            if op is not None or items[i + 2][0] is not None:
                raise ValueError(f"constraint {constraint!r}: a hyphen range takes bare versions")
            lo = _parse_partial(word, constraint)
            clauses.append(_hyphen_clause(lo, _parse_partial(items[i + 2][1], constraint)))
            i += 3
            continue
        if word == "-":
            raise ValueError(f"constraint {constraint!r}: misplaced '-'")
        clauses.append(_clause(op, _parse_partial(word, constraint), constraint))
        i += 1
    return tuple(clauses)


@lru_cache(maxsize=512)
def _parse_constraint(constraint: str) -> tuple[_Alternative, ...]:
    """Parse once per distinct string: the same pin is evaluated against many resources."""
    if not constraint.strip():
        return ()
    alternatives = []
    for text in constraint.split("||"):
        if not text.strip():
            raise ValueError(f"constraint {constraint!r}: empty alternative around '||'")
        alternatives.append(_parse_alternative(text, constraint))
    return tuple(alternatives)


def _constraint(constraint: object) -> tuple[_Alternative, ...]:
    if not isinstance(constraint, str):
        raise ValueError(f"constraint {constraint!r} is not a string")
    return _parse_constraint(constraint)


def _alternative_allows(clauses: _Alternative, v: Version) -> bool:
    if not all(clause.allows(v) for clause in clauses):
        return False
    return not v.is_prerelease or any(v.release in c.prerelease_bases for c in clauses)


def constraint_allows(constraint: str, version: str) -> bool:
    """Whether ``version`` satisfies ``constraint``; False if ``version`` isn't a version.

    ValueError if the constraint can't be parsed. See the module docstring for syntax.
    """
    alternatives = _constraint(constraint)
    v = parse_version(version)
    if v is None:
        return False
    if not alternatives:
        return True
    return any(_alternative_allows(clauses, v) for clauses in alternatives)


def _feasible(clauses: _Alternative, start: _Interval) -> list[_Interval]:
    """The part of ``start`` every clause allows, as disjoint intervals (prereleases ignored)."""
    pieces = [start]
    for clause in clauses:
        if clause.negated:
            pieces = [rest for piece in pieces for rest in piece.minus(clause.interval)]
        else:
            pieces = [piece.intersect(clause.interval) for piece in pieces]
            pieces = [piece for piece in pieces if not piece.is_empty()]
    return pieces


def _lowest_allowed(clauses: _Alternative, piece: _Interval) -> Version | None:
    """The smallest version in ``piece`` that ``clauses`` really allow, or None.

    Interval arithmetic alone is not enough: a piece such as [6.0.0-0, 6.0.0) holds
    only prereleases, which the prerelease rule may refuse. Versions have at most
    four numeric parts, so the smallest release above a release ``r`` is ``r`` with
    revision + 1; the next patch is tried first because that is what people publish.
    """
    low = piece.low
    candidates: list[Version] = []
    if low is None:
        candidates.append(_ZERO)
    else:
        v = low.version
        if low.inclusive and v.prerelease_key != _LOWEST_PRE:
            candidates.append(v)  # a prerelease here is allowed only if a clause names it
        if v.is_prerelease:
            candidates.append(v._replace(prerelease_key=_RELEASE))
        elif not low.inclusive:
            candidates.append(Version(v.major, v.minor, v.patch + 1, 0, _RELEASE))
            candidates.append(v._replace(revision=v.revision + 1))
    return next(
        (c for c in candidates if piece.contains(c) and _alternative_allows(clauses, c)), None
    )


def constraint_admits(constraint: str, minimum: str) -> bool:
    """Whether some allowed version is ``>= minimum``.

    This answers "can this pin pick up the golden minimum (or newer)?": ``~> 4.0``
    cannot reach 5.40.0, ``~> 5.0`` and ``>= 4.0`` can, ``= 5.10.0`` and
    ``>= 5.0, < 5.30`` cannot. An empty constraint admits. Exact interval arithmetic
    over all clauses, so ``!=`` exclusions count too, and the prerelease rule holds.
    """
    alternatives = _constraint(constraint)
    floor = _require_version(minimum, "constraint_admits: minimum")
    if not alternatives:
        return True
    start = _Interval(_Bound(floor, True), None)
    return any(
        _lowest_allowed(clauses, piece) is not None
        for clauses in alternatives
        for piece in _feasible(clauses, start)
    )


def constraint_min(constraint: str) -> str | None:
    """The lowest version the constraint allows, e.g. ``~> 5.2`` -> ``"5.2.0"``.

    ``"0.0.0"`` when it has no lower bound (``""``, ``*``, ``< 2.0``), so an
    unconstrained pin reads as "could be anything"; ``None`` when nothing satisfies
    it (``= 1.0, = 2.0``). An exclusive bound gives the next patch (``> 1.2.3`` ->
    ``"1.2.4"``), or the next revision if only that fits (``> 1.2.3, < 1.2.4``).
    """
    alternatives = _constraint(constraint) or ((),)
    start = _Interval(_Bound(_ZERO, True), None)
    found = [
        lowest
        for clauses in alternatives
        for piece in _feasible(clauses, start)
        if (lowest := _lowest_allowed(clauses, piece)) is not None
    ]
    return str(min(found)) if found else None


_INF: Final = float("inf")
# Sort key of a constraint's top: release numbers (inf where open-ended), then 0 for a
# release or -1 for a prerelease.
_TopKey = tuple[float, float, float, float, int]


def _lowest_release(piece: _Interval) -> Version:
    """The smallest release at or above the piece's lower bound (it may lie outside)."""
    if piece.low is None:
        return _ZERO
    v = piece.low.version
    if v.is_prerelease:
        return v._replace(prerelease_key=_RELEASE)
    return v if piece.low.inclusive else v._replace(revision=v.revision + 1)


def _release_below(r: Version) -> tuple[_TopKey, str] | None:
    """The highest release below release ``r``, written with a wildcard where it is
    open-ended: below 5.0.0 is "4.x", below 5.30.0 is "5.29.x", below 5.30.2 is "5.30.1"."""
    major, minor, patch, rev = r.release
    if rev:
        return (major, minor, patch, rev - 1, 0), str(r._replace(revision=rev - 1))
    if patch:
        return (major, minor, patch - 1, _INF, 0), f"{major}.{minor}.{patch - 1}"
    if minor:
        return (major, minor - 1, _INF, _INF, 0), f"{major}.{minor - 1}.x"
    if major:
        return (major - 1, _INF, _INF, _INF, 0), f"{major - 1}.x"
    return None


def _top(clauses: _Alternative, piece: _Interval) -> tuple[_TopKey, str] | None:
    """The highest version a bounded piece really admits, or None if it admits nothing."""
    assert piece.high is not None
    high = piece.high.version
    if piece.contains(_lowest_release(piece)):  # the piece holds releases: name the highest
        if piece.high.inclusive and not high.is_prerelease:
            return (*high.release, 0), str(high)
        return _release_below(high._replace(prerelease_key=_RELEASE))
    lowest = _lowest_allowed(clauses, piece)  # only prereleases, allowed if a clause names them
    if lowest is None:
        return None
    return (*lowest.release, -1), str(lowest)


def _bounded_pieces(constraint: str) -> Iterator[tuple[_Alternative, _Interval]]:
    for clauses in _constraint(constraint) or ((),):
        for piece in _feasible(clauses, _Interval(_Bound(_ZERO, True), None)):
            yield clauses, piece


def _constraint_top(constraint: str) -> tuple[_TopKey, str] | None:
    best: tuple[_TopKey, str] | None = None
    for clauses, piece in _bounded_pieces(constraint):
        if piece.high is None:
            if _lowest_allowed(clauses, piece) is not None:
                return None
            continue
        top = _top(clauses, piece)
        if top is not None and (best is None or top[0] > best[0]):
            best = top
    return best


def constraint_bounded(constraint: str) -> bool:
    """Whether the constraint has an upper bound: ``~> 5.8``, ``5.8.1`` and
    ``>= 5.0, < 6.0`` have one; ``>= 5.0``, ``*`` and ``""`` do not. Every ``||``
    alternative must be bounded. A constraint that admits nothing is bounded."""
    return all(piece.high is not None for _, piece in _bounded_pieces(constraint))


def constraint_max(constraint: str) -> str | None:
    """The highest version the constraint admits, for messages about drift.

    Exclusive bounds are written with a wildcard where the top is open-ended: ``~> 4.67``
    (``< 5.0.0``) -> ``"4.x"``, ``< 5.30`` -> ``"5.29.x"``, ``< 5.30.2`` -> ``"5.30.1"``;
    inclusive ones as they are (``5.10.0``, ``<= 5.2.3`` -> ``"5.2.3"``). A prerelease only
    when nothing else is admitted (``= 2.0.0-rc.1``). ``None`` when there is no upper bound
    (``>= 4.0``; see :func:`constraint_bounded`) or nothing is admitted. Pass the result to
    :func:`constraint_behind_text` gives its distance to a golden version.
    """
    top = _constraint_top(constraint)
    return None if top is None else top[1]


def constraint_behind_text(constraint: str, golden: str) -> str:
    """How far the highest version a constraint admits trails ``golden``, in words, at the
    first level that differs (as :func:`versions_behind_text`): ``~> 4.67`` is
    ``"1 major version"`` behind 5.40.0, ``< 5.30`` is ``"11 minor versions"`` behind it.
    Empty when the constraint admits ``golden`` or newer, has no upper bound, or admits
    nothing (say that with :func:`constraint_max`). ValueError on a bad constraint or golden.
    """
    target = _require_version(golden, "constraint_behind_text: golden")
    top = _constraint_top(constraint)
    if top is None:
        return ""
    for level, mine, theirs in zip(
        ("major", "minor", "patch"), top[0][:3], target.release, strict=False
    ):
        if mine != theirs:
            n = theirs - mine
            if n <= 0:
                return ""
            return f"{int(n)} {level} version{'s' if n != 1 else ''}"
    return ""


# ---------------------------------------------------------------------------
# Git refs

_FULL_SHA_RE: Final = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHORT_SHA_RE: Final = re.compile(r"[0-9a-fA-F]{7,39}")
_PREFIXED_TAG_RE: Final = re.compile(rf".+[-_/][vV](?P<version>\d+(?:\.\d+){{0,3}}(?:-{_IDENT})?)")
# Names that are branches by convention; any other ref that is neither a SHA nor a version
# tag is "other" (a tag such as `stable` or a branch: tether cannot tell without the repo).
_BRANCH_NAMES: Final = frozenset(
    {"main", "master", "develop", "development", "dev", "trunk", "head", "default", "next"}
)


# Qualified ref names git resolves by its rules (`git rev-parse`: <name>, refs/<name>,
# refs/tags/<name>, refs/heads/<name>, refs/remotes/<name>...): `tags/X` is the tag X,
# `heads/X` the branch X, `remotes/origin/X` a remote-tracking branch.
_TAG_REF_PREFIXES: Final = ("refs/tags/", "tags/")
_BRANCH_REF_PREFIXES: Final = ("refs/heads/", "heads/", "refs/remotes/", "remotes/")


def _tag_name(ref: str) -> str:
    """``ref`` without a ``refs/tags/`` or ``tags/`` qualifier (one of them, once)."""
    for prefix in _TAG_REF_PREFIXES:
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def ref_version(ref: str | None) -> str | None:
    """The version a version-like Git tag names, normalised (``v5.8.1`` -> ``"5.8.1"``), or null.

    Plain versions (``v5``, ``5.8.1``, ``1.0.0-rc.1``), the same written as a tag ref
    (``refs/tags/v1.4.2``, ``tags/0.4.0``: git resolves ``tags/X`` to ``refs/tags/X``) and
    monorepo tags that end in ``-v``/``_v``/``/v`` and a version (``vpc-v1.2.0``,
    ``modules/vpc/v1.2.0``) count; branches (``refs/heads/v1.2``, ``heads/v1.2``,
    ``refs/remotes/origin/v1.2``) and other names do not.
    """
    if not isinstance(ref, str) or len(ref) > _MAX_VERSION_LEN:
        return None
    r = ref.strip()
    if r.startswith(_BRANCH_REF_PREFIXES):
        return None
    r = _tag_name(r)
    if _FULL_SHA_RE.fullmatch(r):
        return None
    version = parse_version(r)
    if version is None:
        match = _PREFIXED_TAG_RE.fullmatch(r)
        version = parse_version(match["version"]) if match else None
    return None if version is None else str(version)


def ref_kind(ref: str | None) -> str:
    """What a Git ref pins: ``"sha"`` (a full 40- or 64-hex commit id), ``"tag"`` (a
    version tag, see :func:`ref_version`; also written ``refs/tags/v1.2.0`` or
    ``tags/v1.2.0``, which git resolves to the same tag), ``"short-sha"`` (7-39 hex
    digits), ``"branch"`` (``main``, ``master``, ``develop``, ``HEAD``, and any name
    qualified as a branch: ``refs/heads/...``, ``heads/...``, ``refs/remotes/...``,
    ``remotes/...``, whatever it looks like), ``"other"`` (any other name: a branch or a
    non-version tag) or ``"none"`` (null or empty).
    """
    if not isinstance(ref, str) or not ref.strip():
        return "none"
    r = ref.strip()
    if r.startswith(_BRANCH_REF_PREFIXES) or r.lower() in _BRANCH_NAMES:
        return "branch"
    if _FULL_SHA_RE.fullmatch(r):
        return "sha"
    if ref_version(r) is not None:
        return "tag"
    if _SHORT_SHA_RE.fullmatch(r):
        return "short-sha"
    return "other"


# ---------------------------------------------------------------------------
# Globs
#
# Globs are matched without regular-expression backtracking: a glob turned into a regex
# (``[^/]*`` per ``*``) takes exponential time on ``*a*a*a…b`` against a long name. Instead a
# glob is split into *chunks* separated by ``**`` (``.*``) or ``**/`` (empty or ``.*/``); a
# chunk into '/'-separated *segments*; a segment into fixed-length *pieces* (literals and
# ``?``) separated by ``*``. A ``*`` never crosses '/', so a segment matches exactly one
# path component, where the classic greedy wildcard algorithm (leftmost placement of each
# piece) is exact. Across chunks the earliest possible end of each chunk is also exact (a
# ``**`` lets the next chunk start anywhere later; a ``**/`` at any later component start,
# and a chunk before ``**/`` always ends with '/'). Work is O(len(value) * len(glob)) at
# worst, with no blow-up; the compile cache only saves re-parsing.

MAX_PATTERNS: Final = 1000  # globs in one list (exclude, allowed owners, registries...)
MAX_PATTERN_LEN: Final = 1024  # characters in one glob


class _Piece:
    """A fixed-length run of literal characters and ``?`` (one non-'/' character)."""

    __slots__ = ("length", "regex", "text")

    def __init__(self, chars: Sequence[str | None]) -> None:
        # None stands for '?'; a piece without one is searched with str methods
        self.length = len(chars)
        self.text = "".join(c for c in chars if c is not None)
        self.regex: re.Pattern[str] | None = None
        if None in chars:
            # no quantifier anywhere, so search is O(len(value) * len(piece)) at worst
            self.regex = re.compile("".join("[^/]" if c is None else re.escape(c) for c in chars))

    def at(self, value: str, pos: int, end: int) -> bool:
        if self.regex is None:
            return value.startswith(self.text, pos, end)
        return self.regex.match(value, pos, end) is not None

    def find(self, value: str, lo: int, end: int) -> int:
        if self.regex is None:
            return value.find(self.text, lo, end)
        m = self.regex.search(value, lo, end)
        return -1 if m is None else m.start()


_EMPTY_PIECE: Final = _Piece(())
_Seg = tuple[_Piece, ...]  # pieces separated by '*'; one piece when there is no '*'


def _seg_full(seg: _Seg, value: str, a: int, b: int) -> bool:
    """Whether ``value[a:b]`` (no '/' inside) matches the segment as a whole."""
    first = seg[0]
    if len(seg) == 1:
        return b - a == first.length and first.at(value, a, b)
    if not first.at(value, a, b):
        return False
    pos = a + first.length
    for piece in seg[1:-1]:
        i = piece.find(value, pos, b)
        if i < 0:
            return False
        pos = i + piece.length
    last = seg[-1]
    start = b - last.length
    return start >= pos and last.at(value, start, b)


def _seg_prefix(seg: _Seg, value: str, a: int, b: int) -> int:
    """The least ``e <= b`` such that ``value[a:e]`` matches the segment, or -1."""
    first = seg[0]
    if not first.at(value, a, b):
        return -1
    pos = a + first.length
    for piece in seg[1:]:
        i = piece.find(value, pos, b)
        if i < 0:
            return -1
        pos = i + piece.length
    return pos


@dataclass(frozen=True)
class _Segment:
    tight: _Seg  # the segment as written
    loose: _Seg  # with a leading '*': matches any suffix (full) or substring (prefix)


_ANCHOR, _ANY, _BOUNDARY = 0, 1, 2  # where a chunk may start, relative to the previous end


def _comp_start(slashes: Sequence[int], c: int) -> int:
    return 0 if c == 0 else slashes[c - 1] + 1


def _comp_end(slashes: Sequence[int], c: int, n: int) -> int:
    return slashes[c] if c < len(slashes) else n


def _chunk_end(
    chunk: Sequence[_Segment], value: str, slashes: Sequence[int], p: int, mode: int, to_end: bool
) -> int:
    """The earliest end of a match of ``chunk`` starting where ``mode`` allows after ``p``
    (exactly at ``p``; anywhere from ``p``; at ``p`` or just after a later '/'), ending at
    ``len(value)`` when ``to_end``; -1 when there is none."""
    n, last, j = len(value), len(slashes), len(chunk)
    c0 = bisect_left(slashes, p)  # the component holding position p
    if to_end:
        candidates: Sequence[int] = [last - j + 1] if last - j + 1 >= c0 else []
        if mode == _ANCHOR and last - j + 1 != c0:
            return -1
    elif mode == _ANCHOR:
        candidates = [c0] if c0 + j - 1 <= last else []
    else:
        candidates = range(c0, last - j + 2)
    head = chunk[0]
    for c in candidates:
        cs, ce = _comp_start(slashes, c), _comp_end(slashes, c, n)
        exact = mode != _ANY  # the chunk starts exactly at s
        s = p if c == c0 else cs
        if mode == _ANCHOR and c != c0:
            continue
        if j == 1:
            seg = head.tight if exact else head.loose
            if to_end:
                return n if _seg_full(seg, value, s, n) else -1
            e = _seg_prefix(seg, value, s, ce)
            if e >= 0:
                return e
            continue
        if not _seg_full(head.tight if exact else head.loose, value, s, ce):
            continue
        k = 1
        while k < j - 1 and _seg_full(
            chunk[k].tight,
            value,
            _comp_start(slashes, c + k),
            _comp_end(slashes, c + k, n),
        ):
            k += 1
        if k < j - 1:
            continue
        tail, ts = chunk[-1].tight, _comp_start(slashes, c + j - 1)
        if to_end:
            return n if _seg_full(tail, value, ts, n) else -1
        e = _seg_prefix(tail, value, ts, _comp_end(slashes, c + j - 1, n))
        if e >= 0:
            return e
    return -1


@dataclass(frozen=True)
class _Glob:
    chunks: tuple[tuple[_Segment, ...], ...]
    modes: tuple[int, ...]  # how each chunk after the first may start (_ANY or _BOUNDARY)

    def match(self, value: str) -> bool:
        if len(self.chunks) == 1 and len(self.chunks[0]) == 1:
            # the common case: one component, no '**'
            return "/" not in value and _seg_full(self.chunks[0][0].tight, value, 0, len(value))
        slashes = [i for i, ch in enumerate(value) if ch == "/"] if "/" in value else []
        last = len(self.chunks) - 1
        p = _chunk_end(self.chunks[0], value, slashes, 0, _ANCHOR, last == 0)
        for i in range(1, last + 1):
            if p < 0:
                return False
            p = _chunk_end(self.chunks[i], value, slashes, p, self.modes[i - 1], i == last)
        return p >= 0


_STAR, _DSTAR, _DSLASH = "*", "**", "**/"  # tokens; single characters are literals, None '?'


def _segment(tokens: Sequence[str | None]) -> _Segment:
    pieces: list[_Piece] = []
    run: list[str | None] = []
    for tok in tokens:
        if tok == _STAR:
            pieces.append(_Piece(run))
            run = []
        else:
            run.append(tok)
    pieces.append(_Piece(run))
    tight = tuple(pieces)
    return _Segment(tight, (_EMPTY_PIECE, *tight))


def _chunk(tokens: Sequence[str | None]) -> tuple[_Segment, ...]:
    segments: list[_Segment] = []
    start = 0
    for i, tok in enumerate(tokens):
        if tok == "/":
            segments.append(_segment(tokens[start:i]))
            start = i + 1
    segments.append(_segment(tokens[start:]))
    return tuple(segments)


@lru_cache(maxsize=4096)
def _compile_glob(pattern: str) -> _Glob:
    """Parse a glob once (linear in its length); policies test the same few patterns
    against every resource. The tokenising mirrors the documented syntax exactly: a run of
    two or more '*' at the start of a segment and followed by '/' is ``**/``."""
    chunks: list[list[str | None]] = [[]]
    modes: list[int] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                chunks[-1].append(_STAR)
            else:
                slash = (i == 0 or pattern[i - 1] == "/") and j < n and pattern[j] == "/"
                mode = _BOUNDARY if slash else _ANY
                j += 1 if slash else 0
                if not chunks[-1] and len(chunks) > 1:
                    # two separators in a row: `**/**/` is `**/`, any `**` makes it `**`
                    modes[-1] = _ANY if _ANY in (mode, modes[-1]) else _BOUNDARY
                else:
                    modes.append(mode)
                    chunks.append([])
            i = j
            continue
        chunks[-1].append(None if char == "?" else char)
        i += 1
    return _Glob(tuple(_chunk(c) for c in chunks), tuple(modes))


def glob_match(value: str, pattern: str) -> bool:
    """Whole-string, case-sensitive glob: ``*`` within a path segment, ``**`` across
    segments (``**/`` may match zero segments), ``?`` one non-``/`` character.
    Other characters, ``[`` included, are literal. Time is at worst proportional to
    ``len(value) * len(pattern)``, whatever the pattern.
    """
    return _compile_glob(pattern).match(value)


def matches_any(value: str, patterns: Sequence[str]) -> bool:
    """Whether ``value`` matches at least one glob; a lone string counts as one pattern."""
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(glob_match(value, pattern) for pattern in patterns)


def check_patterns(
    patterns: str | Sequence[object], where: str, line: int | None = None, key: str = "globs"
) -> None:
    """Raise :class:`ConfigError` (at ``where``:``line``) when a glob list is beyond the
    limits: more than :data:`MAX_PATTERNS` patterns, or one longer than
    :data:`MAX_PATTERN_LEN` characters. Loaders call it on every glob list they read, so
    that no configuration can make each match slow (a list is matched per resource).
    A lone string counts as one pattern."""
    items: Sequence[object] = [patterns] if isinstance(patterns, str) else patterns
    if len(items) > MAX_PATTERNS:
        raise ConfigError(
            where, line, f"{key}: {len(items)} patterns; a list holds at most {MAX_PATTERNS}"
        )
    for item in items:
        if isinstance(item, str) and len(item) > MAX_PATTERN_LEN:
            raise ConfigError(
                where,
                line,
                f"{key}: a pattern of {len(item)} characters ({item[:40]!r}…); "
                f"a pattern has at most {MAX_PATTERN_LEN}",
            )


def _specificity(pattern: str) -> tuple[bool, int, int, str]:
    # Exact names beat globs; then more literal characters; the rest only breaks ties
    # deterministically so that map order in the baseline never changes a verdict.
    literal = sum(char not in "*?" for char in pattern)
    return ("*" not in pattern and "?" not in pattern, literal, len(pattern), pattern)


def pin_policy(action: str, pins: Mapping[str, str]) -> str:
    """The pin requirement (``sha``/``tag``/``any``) for an ``owner/repo`` action.

    ``pins`` maps globs to requirements; the most specific matching pattern wins. A
    pattern without ``/`` names owners (``"*"`` is every owner, ``"actions"`` one),
    because a bare ``*`` glob would never cross the ``/``. ``any`` when nothing matches,
    so an empty map imposes nothing. Case is ignored, as GitHub ignores it in owner and
    repository names (``Azure/login`` is ``azure/login``).
    """
    name = action.lower()
    matching = [
        pattern
        for pattern in pins
        if glob_match(name, (pattern if "/" in pattern else pattern + "/**").lower())
    ]
    if not matching:
        return "any"
    return str(pins[max(matching, key=_specificity)])


# ---------------------------------------------------------------------------
# Case-insensitive names (GitHub owners and repositories, job names)


def lower(value: str | Sequence[str] | None) -> str | list[str] | None:
    """``value`` lower-cased, or each string of a list lower-cased; null stays null.

    For names their source compares without case: ``matches_any(lower(fact.action),
    lower(baseline.actions.allowed))`` matches ``Azure/login`` against ``azure/*``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.lower()
    return [_text(item).lower() for item in value]


def find_key(m: Mapping[str, object], candidates: str | Sequence[object]) -> str | None:
    """The key of ``m`` that names the first of ``candidates`` it has, ignoring case
    (an exact-case key wins over one that differs only in case); null when none does.

    Candidates go most specific first, so a baseline can key one entry by
    ``owner/repo/path`` and fall back to ``owner/repo``:
    ``find_key(baseline.actions.minimum, [fact.action + "/" + fact.path, fact.action])``.
    Candidates that are not strings (null) are skipped.
    """
    if isinstance(candidates, str):
        candidates = [candidates]
    folded: dict[str, str] = {}
    for key in m:
        folded.setdefault(str(key).lower(), str(key))
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        if candidate in m:
            return candidate
        hit = folded.get(candidate.lower())
        if hit is not None:
            return hit
    return None


# ---------------------------------------------------------------------------
# Images and small helpers

_IMAGE_KEYS: Final = ("raw", "registry", "repository", "tag", "digest", "name", "tag_or_default")


def image(ref: str) -> dict[str, str | bool | None]:
    """Parsed image reference as a map with ``valid``; all other keys null when invalid.

    Never raises, so ``image(x).valid`` can guard the rest of an expression.
    """
    try:
        parsed = parse_image(ref)
    except ValueError:
        return {**dict.fromkeys(_IMAGE_KEYS), "valid": False}
    return {**parsed.to_dict(), "valid": True}


def _text(item: object) -> str:
    # Render like CEL's string() so joined output matches what policy authors expect.
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return "null"
    return item if isinstance(item, str) else str(item)


def join(items: Sequence[object], sep: str) -> str:
    """``sep``-joined items; non-strings are stringified the way CEL's ``string()`` would."""
    return sep.join(_text(item) for item in items)


def keys(m: Mapping[object, object]) -> list[object]:
    """Sorted map keys (deterministic messages); mixed key types are grouped by type."""
    return sorted(m, key=lambda key: (type(key).__name__, key))


def default(value: T | None, fallback: U) -> T | U:
    """``fallback`` when ``value`` is null, else ``value``. (A *missing* map key still
    errors before this runs: guard with ``has(m.k)`` in the expression.)"""
    return fallback if value is None else value


# ---------------------------------------------------------------------------
# Kubernetes and container images

# A tag's leading version: 3.11 of 3.11-slim, 20 of 20-alpine, v1.2.0 of v1.2.0-rc1.
_TAG_VERSION_RE: Final = re.compile(r"[vV]?\d+(?:\.\d+){0,3}", re.ASCII)
_RESOURCE_SECTIONS: Final = ("requests", "limits")


def in_scope(value: str, scope: object) -> bool:
    """Whether a baseline scope covers ``value``: ``true`` covers everything, ``false`` or
    null nothing, a glob or list of globs what :func:`matches_any` matches. Lets one
    baseline key say "all", "none" or "these" (``require_digest: true`` or
    ``require_digest: ["ghcr.io/acme/**"]``)."""
    if scope is None or isinstance(scope, bool):
        return bool(scope)
    if isinstance(scope, str) or (
        isinstance(scope, list | tuple) and all(isinstance(p, str) for p in scope)
    ):
        return matches_any(value, scope)
    raise ValueError(f"in_scope: scope {scope!r} must be a bool, a glob or a list of globs")


def _resource_set(resources: object, section: str, name: str) -> bool:
    if not isinstance(resources, Mapping):
        return False
    values = resources.get(section)
    return isinstance(values, Mapping) and values.get(name) not in (None, "")


def missing_resources(resources: object, required: Sequence[str]) -> list[str]:
    """The entries of ``required`` that a ``resources`` map does not set, in order.

    Entries are ``requests.<name>`` or ``limits.<name>``; only the first dot separates, so
    ``limits.nvidia.com/gpu`` works. A null or empty value is unset. A request counts as
    set when the limit for the same resource is, because Kubernetes defaults a missing
    request to the limit (``limits: {cpu: 1}`` alone gives a 1 CPU request). ``resources``
    that is not a map (null) sets nothing.
    """
    missing: list[str] = []
    for entry in required:
        section, dot, name = str(entry).partition(".")
        if not dot or not name or section not in _RESOURCE_SECTIONS:
            raise ValueError(
                f"missing_resources: {entry!r} is not requests.<resource> or limits.<resource>"
            )
        if _resource_set(resources, section, name):
            continue
        if section == "requests" and _resource_set(resources, "limits", name):
            continue
        missing.append(str(entry))
    return missing


def tag_version(tag: object) -> dict[str, str] | None:
    """The version an image tag starts with, and the rest: ``3.11-slim`` is
    ``{version: "3.11", suffix: "-slim"}``, ``20`` is ``{version: "20", suffix: ""}``.
    Null for tags that do not start with a version (``latest``, ``stable``, ``bookworm``,
    ``alpine3.20``) and for a null tag."""
    if not isinstance(tag, str):
        return None
    match = _TAG_VERSION_RE.match(tag)
    if match is None:
        return None
    return {"version": match.group(0), "suffix": tag[match.end() :]}


def release_at_least(versions: object, floor: object) -> str | None:
    """The release a remedy pins to: of ``versions`` (a list, or a map's keys, such as
    ``actions.commits[a]``), the newest at or above ``floor`` within ``floor``'s major when
    one is there, else the newest above it; null when none is, or ``floor`` is not a
    version (a branch is not moved to a release: that needs judgement)."""
    low = parse_version(floor) if isinstance(floor, str) else None
    if low is None or not isinstance(versions, Mapping | list | tuple):
        return None
    found = [
        (v, str(s))
        for s in versions
        if isinstance(s, str) and (v := parse_version(s)) is not None and v >= low
    ]
    same = [x for x in found if x[0].major == low.major]
    pool = same or found
    return max(pool, key=lambda x: x[0])[1] if pool else None


def known_missing(required: object, have: object, known: object) -> dict[str, str] | None:
    """The required labels (or tags) ``have`` lacks or leaves empty, each with the value
    ``known`` gives it: what a remedy adds. Null when nothing is missing, or when one
    missing label has no known value (half a fix leaves the finding: none is made)."""
    if not isinstance(required, list | tuple) or not isinstance(known, Mapping):
        return None
    labels = have if isinstance(have, Mapping) else {}
    out: dict[str, str] = {}
    for name in required:
        if not isinstance(name, str) or labels.get(name) not in (None, ""):
            continue
        value = known.get(name)
        if not isinstance(value, str) or not value:
            return None
        out[name] = value
    return out or None


def golden_image(
    ref: object,
    minimum_tags: object,
    floating: object,
    mirrors: object,
    approved: object,
    bump_behind: object,
) -> dict[str, object] | None:
    """The one remedy of an image reference, whichever rules fail it (so that their edits
    are the same edit, not two that overlap): the tag moved to the golden one
    (``minimum_tags``, by normalised name) when it is missing or floating (globs
    ``floating``), or, with ``bump_behind``, when its version is behind (keeping a variant
    like ``-slim``; not one that names a version of its own, like ``-alpine3.13``); then the
    name moved to its registry mirror (see `mirrored`) when the mirror is ``approved``
    (globs). A digest keeps its tag. ``{image, unsafe}``: ``unsafe`` when the new tag may
    be older than a floating one gives today, or is a new major version. Null when nothing
    changes."""
    if not isinstance(ref, str):
        return None
    try:
        parsed = parse_image(ref)
    except ValueError:
        return None
    out, unsafe = ref, False
    golden = minimum_tags.get(parsed.name) if isinstance(minimum_tags, Mapping) else None
    if isinstance(golden, str) and parsed.digest is None and parse_version(golden) is not None:
        tag = parsed.tag
        if tag is None or (isinstance(floating, list | tuple) and matches_any(tag, floating)):
            new, unsafe = with_tag(ref, golden), True
        else:
            tv = tag_version(tag)
            behind = (
                bump_behind is True
                and tv is not None
                and not re.search(r"[0-9]", tv["suffix"])
                and not tag_at_least(tv["version"], golden)
            )
            # the tag's own spelling of a version is kept (prometheus publishes v2.53, not 2.53)
            prefix = tv["version"][:1] if tv is not None and tv["version"][:1] in "vV" else ""
            new = (
                with_tag(ref, prefix + golden.lstrip("vV") + tv["suffix"])
                if behind and tv is not None
                else None
            )
            if new is not None and tv is not None:
                was, now = parse_version(tv["version"]), parse_version(golden)
                unsafe = (
                    was is None
                    or now is None
                    or was.major != now.major
                    or (was.major == 0 and was.minor != now.minor)  # 0.x: a minor may break
                )
        out = new or out
    moved = mirrored(out, mirrors)
    if (
        moved is not None
        and isinstance(approved, list | tuple)
        and not matches_any(parsed.name, approved)
        and matches_any(parse_image(moved).name, approved)
    ):
        out = moved
    return None if out == ref else {"image": out, "unsafe": unsafe}


def mirrored(ref: object, mirrors: object) -> str | None:
    """The image reference moved to the registry mirror the baseline maps its name to:
    ``mirrors`` maps a name prefix ending in ``/`` (``docker.io/library/``) to the prefix
    that replaces it (``registry.acme.dev/mirror/``); the longest matching prefix wins, and
    the tag and digest are kept (``nginx:1.27`` -> ``registry.acme.dev/mirror/nginx:1.27``).
    Null when the reference is not valid or no prefix matches."""
    if not isinstance(ref, str) or not isinstance(mirrors, Mapping):
        return None
    try:
        parsed = parse_image(ref)
    except ValueError:
        return None
    name = parsed.name
    keys = [k for k in mirrors if isinstance(k, str) and k.endswith("/") and name.startswith(k)]
    if not keys:
        return None
    key = max(keys, key=len)
    target = mirrors[key]
    if not isinstance(target, str) or not target.endswith("/"):
        return None
    out = target + name[len(key) :]
    if parsed.tag is not None:
        out += ":" + parsed.tag
    if parsed.digest is not None:
        out += "@" + parsed.digest
    return out


def with_tag(image: object, tag: object) -> str | None:
    """The image reference as written with its tag replaced (or added): registry, port and
    path kept, for a remedy that moves a base image to the golden tag
    (``python:3.9-slim``, ``3.12-slim`` -> ``python:3.12-slim``). Null for a reference pinned by
    digest (a tag beside a digest means nothing), or that is not a plain reference."""
    if not isinstance(image, str) or not isinstance(tag, str):
        return None
    if "@" in image or not _TAG_RE.fullmatch(tag) or not image or any(c.isspace() for c in image):
        return None
    slash = image.rfind("/")
    colon = image.rfind(":")
    name = image[:colon] if colon > slash else image
    return f"{name}:{tag}" if name else None


_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def tag_at_least(version: str, minimum: str) -> bool:
    """Whether a version tag reaches ``minimum`` at the precision it is written.

    Image tags float: ``python:3.12`` follows the newest 3.12.x and ``node:22`` the
    newest 22.x.y, so ``3.12`` reaches 3.12.4 and ``22`` reaches 22.11; ``3.11`` and
    ``3.12.1`` do not reach 3.12.4. False when ``version`` is not a version; ValueError
    when ``minimum`` is not (a policy bug).
    """
    floor = _require_version(minimum, "tag_at_least: minimum")
    v = parse_version(version)
    if v is None:
        return False
    match = _VERSION_RE.fullmatch(str(version).strip())
    written = match["nums"].count(".") + 1 if match else 4
    mine, theirs = v.release[:written], floor.release[:written]
    if mine != theirs:
        return mine > theirs
    # equal as far as the tag is written: it floats over the rest, unless it is a prerelease
    return not v.is_prerelease or v >= floor


def versions_behind_text(v: str, golden: str) -> str:
    """:func:`versions_behind` in words, for messages: ``"2 major versions"``,
    ``"1 minor version"``, ``"3 patch versions"``; empty when ``v`` is not behind at
    the patch level or above."""
    for level, n in versions_behind(v, golden).items():
        if n:
            return f"{n} {level} version{'s' if n != 1 else ''}"
    return ""


# ---------------------------------------------------------------------------
# Repository files and workflow steps


def missing_paths(required: Sequence[str | Sequence[str]], paths: Sequence[str]) -> list[str]:
    """The entries of ``required`` that no path in ``paths`` satisfies, in order, written for
    messages. An entry is a path or a glob (:func:`glob_match`), or a list of alternatives of
    which one must match; a missing list is written as its first alternative with the others
    in parentheses: ``"SECURITY.md (or .github/SECURITY.md, docs/SECURITY.md)"``."""
    present = set(paths)

    def found(pattern: str) -> bool:
        if "*" in pattern or "?" in pattern:
            return any(glob_match(p, pattern) for p in paths)
        return pattern in present

    missing: list[str] = []
    for entry in required:
        alternatives = [entry] if isinstance(entry, str) else [str(a) for a in entry]
        if not alternatives:
            raise ValueError("missing_paths: an entry is an empty list of alternatives")
        if any(found(a) for a in alternatives):
            continue
        first, rest = alternatives[0], alternatives[1:]
        missing.append(f"{first} (or {', '.join(rest)})" if rest else first)
    return missing


def missing_prefixes(required: Sequence[str], values: Sequence[str]) -> list[str]:
    """The entries of ``required`` that no value in ``values`` equals or extends by a path
    (``acme/scan`` is present in ``acme/scan`` and ``acme/scan/sarif``, not in
    ``acme/scanner``), in order. Case is ignored, as GitHub ignores it in owner and
    repository names."""
    have = [v.lower() for v in values if isinstance(v, str)]
    missing: list[str] = []
    for entry in required:
        r = str(entry).lower().rstrip("/")
        if not any(v == r or v.startswith(r + "/") for v in have):
            missing.append(str(entry))
    return missing


# CEL-visible name -> implementation. Read-only so no caller can re-point a policy
# function for everyone; pass ``dict(FUNCTIONS)`` to ``cel.Context``.
FUNCTIONS: Final[Mapping[str, Callable[..., object]]] = MappingProxyType(
    {
        "parse_version": version_fields,
        "semver_compare": semver_compare,
        "version_at_least": version_at_least,
        "major_of": major_of,
        "versions_behind": versions_behind,
        "constraint_allows": constraint_allows,
        "constraint_min": constraint_min,
        "constraint_admits": constraint_admits,
        "constraint_max": constraint_max,
        "constraint_bounded": constraint_bounded,
        "constraint_behind_text": constraint_behind_text,
        "ref_kind": ref_kind,
        "ref_version": ref_version,
        "glob_match": glob_match,
        "matches_any": matches_any,
        "pin_policy": pin_policy,
        "lower": lower,
        "find_key": find_key,
        "image": image,
        "join": join,
        "keys": keys,
        "default": default,
        "in_scope": in_scope,
        "missing_resources": missing_resources,
        "missing_paths": missing_paths,
        "missing_prefixes": missing_prefixes,
        "tag_version": tag_version,
        "tag_at_least": tag_at_least,
        "with_tag": with_tag,
        "release_at_least": release_at_least,
        "mirrored": mirrored,
        "known_missing": known_missing,
        "golden_image": golden_image,
        "versions_behind_text": versions_behind_text,
    }
)

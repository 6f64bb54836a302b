"""Inline `tether:ignore` comments, parsed in linear time.

Syntax (one line; the comment may follow code)::

    # tether:ignore RULE-ID[, RULE-ID or pack...] reason words (until 2027-01-31)
    // tether:ignore ...          /* tether:ignore ... */

The comment marker is ``#``, ``//`` or ``/*``; ``tether:ignore`` follows it after optional
whitespace, then whitespace and a list of names separated by commas or, for rule ids, by
whitespace (``A, B reason`` and ``A B reason`` name both). Names are rule ids (``K8S001``:
letters and digits ending in three digits) or pack names; the first name that is neither,
and everything after it, is the reason. A pack name after a space begins the reason (write
``A, kubernetes``); a rule-id-shaped word after a space is a name, so a rule that does not
exist is reported, never read as the reason. An optional ``(until YYYY-MM-DD)`` and
``*/`` may close the line.

This accepts what the regular expression it replaced accepted (see the tests), and ids
separated by whitespace, with ``str.find`` and single forward scans: that expression's lazy
reason followed by optional groups and ``\\s*$`` took minutes on a comment followed by a
few thousand spaces, and a repository chooses its own lines.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

__all__ = ["InlineIgnore", "parse_inline"]

_KEYWORD: Final = "tether:ignore"
KEYWORD_BYTES: Final = _KEYWORD.encode("ascii")  # a file without it holds no inline ignore
# Each is matched at one position only (re.match), never searched: no backtracking across
# the line. \s is Unicode whitespace, as str.isspace() and the old expression's \s.
_SPACES: Final = re.compile(r"\s*")
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_COMMA: Final = re.compile(r"\s*,\s*")
_RULE_ID: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*[0-9]{3}")
_OWN_LINE_MARKERS: Final = ("#", "//", "/*")


@dataclass(frozen=True)
class InlineIgnore:
    """One parsed ``tether:ignore`` comment.

    ``names`` are the rule ids and pack names as written (upper-case rule ids yourself);
    it is empty when the first word after ``tether:ignore`` is neither, so a caller can
    tell "a comment that names nothing" from "no comment". ``reason`` is normalised:
    whitespace collapsed, leading and trailing ``" :-—,"`` stripped. ``until`` is the
    ``YYYY-MM-DD`` text of ``(until ...)``, not yet checked as a date. ``own_line`` is
    true when the line is only a comment, so the ignore applies to the next line."""

    col: int  # 1-based column of the comment marker
    names: list[str]
    reason: str
    until: str | None
    own_line: bool


def parse_inline(line: str, packs: Collection[str] = frozenset()) -> InlineIgnore | None:
    """The ``tether:ignore`` comment on ``line`` (one line, without its newline), or None.

    ``packs`` holds the pack names that count as names besides rule ids. Time is linear
    in ``len(line)``."""
    n = len(line)
    k = line.find(_KEYWORD)
    while k >= 0:
        marker = _marker_before(line, k)
        after = k + len(_KEYWORD)
        first = _skip_spaces(line, after)
        if marker >= 0 and first > after and first < n and _NAME.match(line, first):
            return _parse_names(line, marker, first, packs)
        k = line.find(_KEYWORD, after)
    return None


def _skip_spaces(line: str, pos: int) -> int:
    m = _SPACES.match(line, pos)
    return pos if m is None else m.end()


def _marker_before(line: str, k: int) -> int:
    """Index of the comment marker that only whitespace separates from index ``k``, or -1.
    The whitespace runs scanned for successive keywords are disjoint, so all the scans
    together stay linear."""
    j = k - 1
    while j >= 0 and line[j].isspace():
        j -= 1
    if j < 0:
        return -1
    if line[j] == "#":
        return j
    if j >= 1 and line[j - 1] == "/" and line[j] in "/*":
        return j - 1
    return -1


def _parse_names(line: str, marker: int, first: int, packs: Collection[str]) -> InlineIgnore:
    name = _NAME.match(line, first)
    assert name is not None  # checked by the caller
    tokens, pos = [name.group()], name.end()
    while True:
        if (comma := _COMMA.match(line, pos)) and (name := _NAME.match(line, comma.end())):
            tokens.append(name.group())
            pos = name.end()
        elif (
            (space := _SPACES.match(line, pos))
            and space.end() > pos
            and (name := _NAME.match(line, space.end()))
            and _RULE_ID.fullmatch(name.group())
            and (len(tokens) == 1 or _RULE_ID.fullmatch(tokens[-1]) or tokens[-1] in packs)
        ):
            # `A B reason`: a further rule id after a space is a name, not the reason's first
            # word (a pack name there is not: "kubernetes" may begin a reason)
            tokens.append(name.group())
            pos = name.end()
        else:
            break
    names: list[str] = []
    rest = ""
    for i, tok in enumerate(tokens):
        if _RULE_ID.fullmatch(tok) or tok in packs:
            names.append(tok)
        else:  # `ID, vendor image...`: the reason began early
            rest = ", ".join(tokens[i:])
            break
    text, until = _reason_and_until(line[pos:])
    reason = " ".join(f"{rest} {text}".split()).strip(" :-—,")
    return InlineIgnore(
        col=marker + 1,
        names=names,
        reason=reason,
        until=until,
        own_line=line.lstrip().startswith(_OWN_LINE_MARKERS),
    )


def _reason_and_until(tail: str) -> tuple[str, str | None]:
    """Split what follows the names into the reason and an ``(until DATE)`` closing it.
    The line may end with whitespace, ``*/`` and whitespace; the date group must be
    last before that, else it is part of the reason."""
    body = tail.rstrip()
    if body.endswith("*/"):
        body = body[:-2].rstrip()
    if body.endswith(")"):
        open_at = body.rfind("(")
        until = _until(body[open_at + 1 : -1]) if open_at >= 0 else None
        if until is not None:
            return body[:open_at], until
    return body, None


def _until(inner: str) -> str | None:
    """``DATE`` from ``  until  DATE  `` (the text between the parentheses), else None."""
    text = inner.lstrip()
    if not text.startswith("until") or not text[5:6].isspace():
        return None
    text = text[5:].lstrip()
    date, trailing = text[:10], text[10:]
    if trailing.strip() or len(date) != 10 or date[4] != "-" or date[7] != "-":
        return None
    digits = date[:4] + date[5:7] + date[8:]
    # isdecimal() is \d: any Unicode decimal digit, as the expression accepted
    return date if digits.isdecimal() else None

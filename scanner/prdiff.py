"""PR mode's classification: which findings a change introduces, fixes or leaves alone, which
it merely moves under an exception, and which files became unreadable.

A finding's identity is (rule, path, logical target, subject): the subject is the judged value
(facts/subjects.py), so replacing existing debt with another action, image or module at the
same place is new, not "unchanged". Renames are followed; repository-level findings have no
path. An occurrence count separates identical findings in one file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import Diagnostic, Finding

Identity = tuple[str, str, str, str]


def identity(f: Finding, rename: Mapping[str, str] | None = None) -> Identity:
    # repository-level findings sit on an anchor file (the README, else the first root file)
    # that a change may add or rename: their identity is the repository itself
    path = "" if f.fact_kind == "repo.summary" else (rename or {}).get(f.path, f.path)
    return (f.rule_id, path, f.target, f.subject)


def _keys(
    findings: Sequence[Finding], rename: Mapping[str, str]
) -> list[tuple[str, str, str, str, int]]:
    seen: dict[Identity, int] = defaultdict(int)
    out = []
    for f in findings:
        k = identity(f, rename)
        seen[k] += 1
        out.append((*k, seen[k]))
    return out


def _diag_keys(
    diags: Sequence[Diagnostic], rename: Mapping[str, str]
) -> list[tuple[str, str, int]]:
    seen: dict[tuple[str, str], int] = defaultdict(int)
    out = []
    for d in diags:
        k = (d.code, rename.get(d.path, d.path))
        seen[k] += 1
        out.append((*k, seen[k]))
    return out


@dataclass(frozen=True)
class Diff:
    base_ref: str
    base_commit: str
    new: list[Finding]
    fixed: list[Finding]  # as they were in the base
    unchanged: list[Finding]
    excepted_now: list[Finding] = field(default_factory=list)  # base debt the change excepts
    new_diagnostics: list[Diagnostic] = field(default_factory=list)
    unchanged_diagnostics: list[Diagnostic] = field(default_factory=list)


def classify(
    head: Sequence[Finding],
    base: Sequence[Finding],
    rename: Mapping[str, str],
    base_ref: str,
    base_commit: str,
    *,
    head_excepted: Sequence[Finding] = (),
    head_diagnostics: Sequence[Diagnostic] = (),
    base_diagnostics: Sequence[Diagnostic] = (),
    changed_paths: Collection[str] = (),
) -> Diff:
    """`changed_paths`: files the change rewrote; their diagnostics count as new even when
    the same file was unreadable before (the old debt is not the new content)."""
    head_keys = _keys(head, {})
    base_keys = _keys(base, rename)
    base_set, head_set = set(base_keys), set(head_keys)
    excepted_set = set(_keys(head_excepted, {}))
    new = [f for f, k in zip(head, head_keys, strict=True) if k not in base_set]
    unchanged = [f for f, k in zip(head, head_keys, strict=True) if k in base_set]
    gone = [(f, k) for f, k in zip(base, base_keys, strict=True) if k not in head_set]
    # excepted is never "fixed": debt the change moved under an exception is its own list
    fixed = [f for f, k in gone if k not in excepted_set]
    excepted_now = [f for f, k in gone if k in excepted_set]
    bd = set(_diag_keys(base_diagnostics, rename))
    hd = _diag_keys(head_diagnostics, {})
    changed = set(changed_paths)
    # a scan that stopped at its limit may leave the change itself unjudged: always new
    new_diags = [
        d
        for d, k in zip(head_diagnostics, hd, strict=True)
        if k not in bd or d.path in changed or d.code == "scan-limit"
    ]
    old_diags = [
        d
        for d, k in zip(head_diagnostics, hd, strict=True)
        if k in bd and d.path not in changed and d.code != "scan-limit"
    ]
    return Diff(base_ref, base_commit, new, fixed, unchanged, excepted_now, new_diags, old_diags)


def summary(diff: Any) -> dict[str, int]:
    return {
        "new": len(diff.new),
        "fixed": len(diff.fixed),
        "unchanged": len(diff.unchanged),
        "excepted_now": len(diff.excepted_now),
        "new_diagnostics": len(diff.new_diagnostics),
    }

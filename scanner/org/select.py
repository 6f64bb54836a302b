"""Which repositories of an organization one org scan (or one shard of it) judges, and why
each other one is left out.

Order of decisions, so that every repository lands in exactly one shard's summary with one
reason: the shard first (a stable hash of the lower-cased full name, so adding or removing a
repository never moves the others), then what GitHub says about the repository (archived,
disabled, fork, empty), then the operator's filters (--include, --exclude, --topic,
--property). A repository left out by a filter is listed as skipped with the filter that
left it out; none is dropped without a word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..github.client import RepoInfo
from ..policy.functions import check_patterns, glob_match

PropertyValues = Mapping[str, "str | list[str]"]


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int = 1
    count: int = 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, full_name: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.sha256(full_name.lower().encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N <= 1000 (a ValueError names what is wrong)."""
    m = re.fullmatch(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*", text)
    if not m:
        raise ValueError("K/N, e.g. 2/4 (shard 2 of 4)")
    index, count = int(m.group(1)), int(m.group(2))
    if not 1 <= count <= 1000 or not 1 <= index <= count:
        raise ValueError(f"K/N with 1 <= K <= N <= 1000, not {index}/{count}")
    return Shard(index, count)


def parse_property(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError("NAME=VALUE, e.g. team=payments")
    return name.strip(), value.strip()


@dataclass(frozen=True)
class Filters:
    include: tuple[str, ...] = ()  # name globs over owner/name or name; any may match
    exclude: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # the repository must carry at least one
    properties: tuple[tuple[str, str], ...] = ()  # every one must hold
    include_archived: bool = False
    include_forks: bool = False
    shard: Shard = field(default_factory=Shard)

    def check(self) -> None:
        check_patterns(list(self.include), "--include", key="--include")
        check_patterns(list(self.exclude), "--exclude", key="--exclude")

    @property
    def needs_properties(self) -> bool:
        return bool(self.properties)


@dataclass(frozen=True)
class Skipped:
    repo: RepoInfo
    reason: str


@dataclass(frozen=True)
class Selection:
    selected: list[RepoInfo]
    skipped: list[Skipped]
    other_shards: int  # repositories another shard owns (listed in its summary, not here)


def _named(repo: RepoInfo, pattern: str) -> bool:
    full = repo.full_name.lower()
    pat = pattern.lower()
    if "/" in pat:
        return glob_match(full, pat)
    return glob_match(full.split("/", 1)[1], pat)


def why_skipped(repo: RepoInfo, filters: Filters, properties: PropertyValues | None) -> str | None:
    """The reason ``repo`` is left out (None: it is scanned)."""
    if not valid_name(repo.full_name):
        return "not a valid repository name; left alone"
    if repo.disabled:
        return "disabled"
    if repo.archived and not filters.include_archived:
        return "archived (--include-archived to scan it)"
    if repo.fork and not filters.include_forks:
        return "fork (--include-forks to scan it)"
    if repo.empty or not repo.default_branch:
        return "empty: no commits on a default branch"
    if filters.include and not any(_named(repo, p) for p in filters.include):
        return "not matched by --include " + ", ".join(filters.include)
    for pattern in filters.exclude:
        if _named(repo, pattern):
            return f"excluded by --exclude {pattern}"
    if filters.topics and not set(filters.topics) & set(repo.topics):
        return "has none of the topics " + ", ".join(filters.topics)
    for name, want in filters.properties:
        have = (properties or {}).get(name)
        values = have if isinstance(have, list) else [have]
        if want not in values:
            shown = "unset" if have is None else repr(have)
            return f"custom property {name}={want} does not hold ({name} is {shown})"
    return None


def select(
    repos: Sequence[RepoInfo],
    filters: Filters,
    properties: Mapping[str, PropertyValues] | None = None,
) -> Selection:
    """Split an org listing into what this shard scans and what it skips, by name order."""
    selected: list[RepoInfo] = []
    skipped: list[Skipped] = []
    others = 0
    for repo in sorted(repos, key=lambda r: r.full_name.lower()):
        if not filters.shard.owns(repo.full_name):
            others += 1
            continue
        reason = why_skipped(repo, filters, (properties or {}).get(repo.full_name))
        if reason is None:
            selected.append(repo)
        else:
            skipped.append(Skipped(repo, reason))
    return Selection(selected, skipped, others)


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def valid_name(full_name: str) -> bool:
    """Whether ``owner/name`` is safe to use as a relative output path (GitHub's own character
    set; ``.`` and ``..`` refused). A listing that names anything else is hostile or broken."""
    return bool(_NAME.fullmatch(full_name)) and full_name.split("/", 1)[1] not in (".", "..")

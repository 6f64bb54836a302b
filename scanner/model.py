"""The data shapes that flow through a scan: spans, documents' diagnostics, facts, findings.

Everything here is a plain immutable value. Parsers produce spans and diagnostics, fact
extractors produce :class:`Fact`, the policy engine produces :class:`Finding`, reports render
a :class:`Report`. No layer reaches back into an earlier one.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``3 files``, ``12,000 files`` (``plural`` when adding an s will not do):
    the wording of counts in messages, from the scan's diagnostics to the reports."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


class Span(NamedTuple):
    """A region of a text file. Lines and columns are 1-based; ``end_col`` is exclusive
    (the column just past the last character), as SARIF's ``endColumn``. A NamedTuple: spans
    are made by the ten thousand, and tuple construction is several times cheaper than a
    frozen dataclass's."""

    start_line: int
    start_col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int = 1) -> Span:
        return Span(line, col, line, col + 1)


WHOLE_FILE = Span(1, 1, 1, 1)


class Level(str, enum.Enum):
    """Severity of a finding or diagnostic, ordered; the names are SARIF levels."""

    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.NOTE: 1, Level.WARNING: 2, Level.ERROR: 3}


class Category(str, enum.Enum):
    BOUNDED_AUTONOMY = "bounded-autonomy"
    DRIFT = "drift"
    OWNERSHIP = "ownership"
    COMPLIANCE = "compliance"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something tether could not (fully) read: a located message, never a crash.

    ``code`` is stable and machine-readable (``parse-error``, ``not-scanned-template``,
    ``unreadable``, ``rule-error`` ...)."""

    path: str
    span: Span
    code: str
    message: str
    level: Level = Level.WARNING


@dataclass(frozen=True, slots=True)
class Fact:
    """A typed observation with no opinion.

    ``kind`` names the fact type (``tf.module_call``); ``data`` holds its fields as plain JSON
    values (what rules see as ``fact.<field>``); ``target`` is a logical name that survives
    line moves (``module.vpc``, ``deploy/steps[2]``, ``Deployment/web/app``); ``spans`` maps a
    field name to the exact span of the attribute or key it came from; ``span`` is the span of
    the whole observed element.
    """

    kind: str
    path: str
    span: Span
    target: str
    data: Mapping[str, Any]
    spans: Mapping[str, Span] = field(default_factory=dict)

    def span_of(self, name: str | None) -> Span:
        if name and name in self.spans:
            return self.spans[name]
        return self.span


@dataclass(frozen=True, slots=True)
class BaselineRef:
    """Where a baseline value a finding was judged against was set, and that value.

    ``file`` and ``layer`` name the layer as ``Baseline.files`` and the CLI do (layers are
    named by their file: ``<embedded>/default.yml``, else the path relative to the working
    directory when under it, else absolute), so today they are equal; ``value`` is the
    effective value at ``key`` as ``tether baseline show`` prints it (JSON), redacted and
    clipped to one short line."""

    key: str
    file: str
    line: int
    value: str = ""
    layer: str = ""


@dataclass(frozen=True, slots=True)
class Distance:
    """How far a drift finding trails the golden path: the version it is at, the golden one,
    the versions behind at the first level that differs (1.5.0 against 3.1.0: 2 major), and
    the days between the two releases where the baseline records both (`release_dates`)."""

    current: str
    golden: str
    level: str  # "major", "minor" or "patch"
    versions: int
    days: int | None = None


@dataclass(frozen=True, slots=True)
class FixEdit:
    """A finding's mechanical remedy (issue 13, a rule's `fix:`; scanner/fix.py applies it).
    Two kinds of edit:

    * replace (``entries`` None): the text of `span` becomes `text` (quoting kept); with
      `comment`, the trailing comment on the span's last line becomes ``# <comment>``;
    * add (``entries`` set): new mapping entries, ``json.loads(entries)`` (a map of strings,
      or of maps and lists of strings), written just above the key at `span`, in the block
      style and indentation of that mapping (`text` is empty).

    A rule's `fix: unsafe:` marks the remedies that may change behaviour (`safe` False)."""

    span: Span
    text: str
    comment: str | None = None
    entries: str | None = None  # add: the new entries, a JSON object
    # False: the remedy may change behaviour (a new major version, a version that may be
    # older than what a floating tag gives today, narrower token permissions for jobs that
    # may write): written only when asked (--unsafe-fixes), as ruff does
    safe: bool = True

    @property
    def adds(self) -> bool:
        return self.entries is not None


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    category: Category
    level: Level
    path: str
    span: Span
    message: str
    target: str
    fingerprint: str
    fact_kind: str
    baseline_refs: tuple[BaselineRef, ...] = ()
    enforced: bool = True  # False while a staged rule is not yet enforced
    subject: str = ""  # the judged value (action, image, source...): see facts/subjects.py
    external: bool = False  # located outside the scanned repository (a central policy file)
    distance: Distance | None = None  # for rules that declare `distance:`
    fix: FixEdit | None = None  # for rules that declare `fix:`, where a remedy applies


@dataclass(slots=True)
class RuleTally:
    """Three-valued outcome counts of one rule over a scan (adoption figures use these)."""

    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    counted: bool = True  # False while a baseline stages the rule with enable_later


@dataclass(slots=True)
class Timings:
    load: float = 0.0  # rules, baselines, configuration
    discover: float = 0.0
    parse: float = 0.0
    facts: float = 0.0
    policy: float = 0.0
    total: float = 0.0
    files: int = 0
    bytes: int = 0
    cached: int = 0  # files whose facts came from the fact cache (see factcache.py)
    workers: int = 1  # processes that parsed (see parallel.py)
    reused: bool = False  # judged results from the result cache (see resultcache.py)


@dataclass(slots=True)
class Report:
    root: str
    findings: list[Finding]
    diagnostics: list[Diagnostic]
    tallies: dict[str, RuleTally]
    rules: Mapping[str, Any]  # rule id -> scanner.policy.rules.Rule
    baseline_files: list[str]
    timings: Timings
    facts_count: int = 0
    levels: dict[str, Level] = field(default_factory=dict)  # rule id -> level after staging
    excepted: list[Any] = field(default_factory=list)  # scanner.exceptions.Excepted
    diff: Any = None  # scanner.prdiff.Diff in PR mode
    requested: list[Any] = field(default_factory=list)  # scanner.exceptions.Requested
    fail_on: str = "error"  # the operator's fail level, made stricter by the repository's
    policy_file: str | None = None
    approvers: tuple[str, ...] = ()  # the policy's, for the requested-exceptions summary
    layers_matched: str | None = None  # which policy `repos:` entry chose layers, and why
    layers: tuple[str, ...] = ()  # the baseline layers applied, in order
    help_uris: dict[str, str] = field(default_factory=dict)  # rule id -> documentation
    valid_until: dt.date | None = None  # see scan._valid_until
    # directories of the root kustomizations (none in the scan builds them): in PR mode the
    # merge base's stay roots in the head's scan (see kubernetes.drop_patch_facts)
    kustomize_roots: tuple[str, ...] = ()
    kustomize_dirs: tuple[str, ...] = ()  # every kustomization's directory
    # what was scanned, repository-relative (files and directories); empty: the whole
    # repository (the only scan that runs repository-level rules)
    paths: tuple[str, ...] = ()
    # the cache directory the scan read facts from (None: none, as in PR mode): reports may
    # keep what they derive from file contents there too (SARIF line hashes)
    cache_dir: str | None = None

"""SARIF 2.1.0 for GitHub code scanning, built with sarif-om and serialised by tether.

sarif-om's usual serializer drops every field equal to its attrs default, so a result's
`level: warning` (the default) would vanish and a rule's severity with it. `to_dict` below
writes every field that was set, keeps `level` always, and is tested on the JSON it writes.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import sarif_om as om

from .. import __version__
from ..model import BaselineRef, Diagnostic, Finding, Level, Report, Span
from ..policy.rules import Rule
from ..redact import clip, redact
from ..source import read_regular
from . import jsonfmt, write_pieces
from .fingerprint import decode_source, line_hashes

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/tether-scanner/tether"
SRCROOT = "SRCROOT"
_ALWAYS = {"level"}  # fields written even when equal to their default
_PROBLEM_SEVERITY = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "recommendation"}
_MAX_DESC = 1024


def to_dict(obj: Any) -> Any:
    """Serialise sarif-om objects (attrs classes) by their SARIF property names."""
    plan = _PLANS.get(type(obj))
    if plan is None and attrs.has(type(obj)):
        plan = _PLANS[type(obj)] = _plan(type(obj))
    if plan is not None:
        out: dict[str, Any] = {}
        for name, prop, default in plan:
            v = getattr(obj, name)
            if v is None or (default is not _KEEP and v == default):
                continue
            out[prop] = to_dict(v)
        return out
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj


_KEEP: Any = object()  # a field written whatever its value (no default, or always)
_PLANS: dict[type, tuple[tuple[str, str, Any], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, str, Any], ...]:
    """Each field's attribute name, SARIF property name and the default that leaves it out:
    read off attrs once per class, not for every object (293,000 objects for 10,000 results)."""
    return tuple(
        (
            f.name,
            f.metadata.get("schema_property_name", f.name),
            _KEEP if f.name in _ALWAYS or f.default is attrs.NOTHING else f.default,
        )
        for f in attrs.fields(cls)
    )


def _clip(s: str) -> str:
    return clip(s, _MAX_DESC)


_LINK_CHARS = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]"})


def _plain(text: str) -> str:
    """Text for a plain text SARIF message with ``\\``, ``[`` and ``]`` backslash-escaped, so
    text quoted from a repository or a baseline can never read as an embedded link
    (``[text](1)``). SARIF 2.1.0 §3.11.6 requires this in link text and allows it elsewhere;
    GitHub code scanning, like CodeQL, writes and reads every message this way."""
    return text.translate(_LINK_CHARS)


_EMBEDDED = "<embedded>/"


class _Places:
    """Where a baseline file is, for SARIF: (its repository-relative path or None, the name a
    triager reads). A file in the scanned repository is linked; any other is named in text
    only: an embedded baseline as the CLI names it (``<embedded>/default.yml``), a file of the
    policy relative to the policy file's directory (whatever the working directory), else as
    the CLI shows it when that is relative, else by its file name: an absolute local path
    means nothing where the SARIF lands."""

    def __init__(self, root: str, policy_file: str | None) -> None:
        self.root = Path(root).resolve()
        self.policy_dir = Path(policy_file).resolve().parent if policy_file else None
        self.seen: dict[str, tuple[str | None, str]] = {}

    def __call__(self, file: str) -> tuple[str | None, str]:
        hit = self.seen.get(file)
        if hit is None:
            hit = self.seen[file] = self._place(file)
        return hit

    def _place(self, file: str) -> tuple[str | None, str]:
        if file.startswith(_EMBEDDED):
            return None, file
        p = Path(file)
        real = p.resolve()
        inside = _under(real, self.root)
        # a checkout of its own inside the tree (the central policy repository beside the
        # scanned one in an Action workspace) is not part of the repository
        if (
            inside is not None
            and real.is_file()
            and not any((self.root / d / ".git").exists() for d in inside.parents if d != Path("."))
        ):
            return inside.as_posix(), inside.as_posix()
        beside = _under(real, self.policy_dir) if self.policy_dir is not None else None
        if beside is not None:
            return None, beside.as_posix()
        return None, p.name if p.is_absolute() else file


def _under(path: Path, root: Path) -> Path | None:
    try:
        return path.relative_to(root)
    except ValueError:
        return None


def _baseline_note(
    refs: tuple[BaselineRef, ...], places: _Places
) -> tuple[str, list[om.Location], list[dict[str, Any]]]:
    """The sentence a result message ends with, naming each baseline value the finding was
    judged against and where it was set; the related locations its links point at (baseline
    files in the repository); and the same facts for `properties.baseline`."""
    parts: list[str] = []
    related: dict[tuple[str, int], tuple[int, list[str]]] = {}
    props: list[dict[str, Any]] = []
    unique = list(dict.fromkeys(refs))  # two keys may resolve to the same ancestor
    for r in unique:
        key, value = redact(r.key), redact(r.value)
        path, shown = places(r.file)
        # a key the rule reads but no layer sets resolves to its nearest set ancestor; the
        # sentence leaves out an ancestor of another value it names (`actions` beside
        # `actions.allowed` when `actions.denied` is unset): it would only repeat it
        if not any(o.key.startswith(r.key + ".") for o in unique):
            where = f"{shown}:{r.line}"
            if path is not None:
                rid, keys = related.setdefault((path, r.line), (len(related) + 1, []))
                keys.append(key)
                where_text = f"[{_plain(where)}]({rid})"
            else:
                where_text = _plain(where)
            parts.append(f"{_plain(key)} = {_plain(value)} (set in {where_text})")
        props.append(
            {
                "key": key,
                "value": value,
                "file": shown,
                "line": r.line,
                "layer": places(r.layer or r.file)[1],
            }
        )
    locations = [
        om.Location(
            id=rid,
            physical_location=om.PhysicalLocation(
                artifact_location=om.ArtifactLocation(uri=_uri(path), uri_base_id=SRCROOT),
                region=om.Region(start_line=line),
            ),
            message=om.Message(text=_plain("baseline value " + ", ".join(keys))),
        )
        for (path, line), (rid, keys) in related.items()
    ]
    return "Baseline: " + "; ".join(parts) + ".", locations, props


def _help_markdown(rule: Rule, help_uri: str | None) -> str:
    d = rule.docs
    parts = [
        f"**{rule.id} {rule.name}** ({rule.category.value}, {rule.status})",
        f"### What it does\n{d['what']}",
        f"### Why it matters\n{d['why']}",
        f"### Example\n```\n{d['example'].rstrip()}\n```",
        f"### Use instead\n```\n{d['use_instead'].rstrip()}\n```",
    ]
    if d.get("exception"):
        parts.append(f"### Recording an exception\n{d['exception']}")
    if help_uri:
        parts.append(f"[Rule reference]({help_uri})")
    return "\n\n".join(parts)


def _help_text(rule: Rule) -> str:
    d = rule.docs
    text = (
        f"{d['what']}\n\nWhy it matters: {d['why']}\n\nExample:\n{d['example'].rstrip()}\n\n"
        f"Use instead:\n{d['use_instead'].rstrip()}"
    )
    if d.get("exception"):
        text += f"\n\nRecording an exception: {d['exception']}"
    return text


def _descriptor(rule: Rule, level: Level, help_uri: str | None) -> om.ReportingDescriptor:
    props: dict[str, Any] = {
        "tags": [rule.category.value, rule.pack, *rule.tags][:20],
        "precision": rule.precision,
        "problem.severity": _PROBLEM_SEVERITY[level],
        "tether/category": rule.category.value,
        "tether/status": rule.status,
    }
    if rule.security_severity is not None:
        props["tags"] = [*props["tags"], "security"][:20]
        props["security-severity"] = f"{rule.security_severity:.1f}"
    return om.ReportingDescriptor(
        id=rule.id,
        name=_camel(rule.name),
        short_description=om.MultiformatMessageString(text=_clip(rule.title)),
        full_description=om.MultiformatMessageString(text=_clip(rule.docs["what"])),
        help=om.MultiformatMessageString(
            text=_help_text(rule), markdown=_help_markdown(rule, help_uri)
        ),
        help_uri=help_uri,
        default_configuration=om.ReportingConfiguration(level=level.value),
        properties=props,
    )


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(p.capitalize() for p in rest)


def _region(span: Span) -> om.Region:
    if span.end_line < span.start_line or (
        span.end_line == span.start_line and span.end_col <= span.start_col
    ):
        return om.Region(start_line=span.start_line)
    return om.Region(
        start_line=span.start_line,
        start_column=span.start_col,
        end_line=span.end_line,
        end_column=span.end_col,
    )


def _fix_region(span: Span) -> om.Region:
    """A fix's deleted region exactly (an empty one: where an add inserts)."""
    return om.Region(
        start_line=span.start_line,
        start_column=span.start_col,
        end_line=span.end_line,
        end_column=span.end_col,
    )


def _location(path: str, span: Span) -> om.Location:
    return om.Location(
        physical_location=om.PhysicalLocation(
            artifact_location=om.ArtifactLocation(uri=_uri(path), uri_base_id=SRCROOT),
            region=_region(span),
        )
    )


def _uri(path: str) -> str:
    """A relative reference for a repo-relative path: everything but unreserved characters
    and '/' is percent-encoded, so a first segment such as ``a:b`` cannot read as a scheme."""
    from urllib.parse import quote

    return quote(path, safe="/-._~")


class _Hashes:
    """primaryLocationLineHash per (file, line), each file read and hashed once; with the
    scan's cache directory (see factcache.LineHashCache), an unchanged file's hashes are read
    back instead of computed."""

    def __init__(self, root: str, cache_dir: str | None = None) -> None:
        from ..factcache import LineHashCache

        self.root = root
        self.cache = LineHashCache(Path(cache_dir)) if cache_dir else None
        self.files: OrderedDict[str, Sequence[str] | None] = OrderedDict()
        self._fixes: Any = None  # see replacement

    def get(self, path: str, line: int) -> str | None:
        found = self.files.get(path, _UNREAD)
        if found is _UNREAD:
            data = read_regular(os.path.join(self.root, path))
            found = None if data is None else self._hashes(data, line)
            self.files[path] = found
            if len(self.files) > 64:
                self.files.popitem(last=False)
        if found is None:
            return None
        return found[line - 1] if 1 <= line <= len(found) else None

    def replacement(self, path: str, edit: Any) -> tuple[Any, str] | None:
        """The region a fix replaces and what it inserts (scanner.fix.Replacements)."""
        if self._fixes is None:
            from ..fix import Replacements

            self._fixes = Replacements(self.root)
        found: tuple[Any, str] | None = self._fixes.get(path, edit)
        return found

    def _hashes(self, data: bytes, line: int) -> Sequence[str]:
        def compute() -> Sequence[str]:
            return line_hashes(decode_source(data))

        return compute() if self.cache is None else self.cache.get(data, compute, line)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


_UNREAD: Any = object()


def build(
    report: Report,
    *,
    category: str = "tether",
    levels: Mapping[str, Level] | None = None,
    include_excepted: bool = False,
    local_root: bool = False,
    lazy: bool = False,
) -> dict[str, Any]:
    """The SARIF log of a report, as a JSON-ready dict. `levels` maps rule id to the level
    the baseline gives it (defaultConfiguration), defaulting to the rule's own severity.
    SRCROOT's place on this machine is left out unless `local_root` (an absolute local path
    means nothing where the SARIF lands, code scanning included, and names the runner's
    directories; issue 10). `lazy`: the run's results are a generator that makes each as it
    is written (see chunks), not a list."""
    levels = levels or {}
    rule_ids = sorted(report.rules)
    index = {rid: i for i, rid in enumerate(rule_ids)}
    descriptors = [
        _descriptor(
            report.rules[rid],
            levels.get(rid, report.rules[rid].severity),
            report.help_uris.get(rid),
        )
        for rid in rule_ids
    ]
    hashes = _Hashes(report.root, report.cache_dir)
    # only findings located in the repository: a central exception registry outside it has no
    # place in code scanning (its findings stay in text, JSON and Markdown)
    # in PR mode each result says whether the change introduced it (SARIF baselineState)
    new_ids = {id(f) for f in report.diff.new} if report.diff is not None else None

    def state(f: Finding) -> str | None:
        if new_ids is None:
            return None
        return "new" if id(f) in new_ids else "unchanged"

    places = _Places(report.root, report.policy_file)

    def results() -> Iterator[dict[str, Any]]:
        try:
            for f in report.findings:
                if _in_repo(f):
                    yield to_dict(_result(f, index, hashes, places, state(f)))
            if not include_excepted:
                return
            # code scanning ignores suppressions, so excepted findings are left out by
            # default; when asked for, they carry the justification as an external suppression
            for e in report.excepted:
                if not _in_repo(e.finding):
                    continue
                res = _result(e.finding, index, hashes, places)
                res.suppressions = [
                    om.Suppression(
                        kind="external",
                        justification=_clip(
                            redact(
                                f"{e.record.justification} (owner {e.record.owner or '-'}, "
                                "expires "
                                f"{e.record.expires.isoformat() if e.record.expires else 'never'})"
                            )
                        ),
                    )
                ]
                yield to_dict(res)
        finally:
            hashes.close()

    notifications = [_notification(d) for d in report.diagnostics]
    root_uri = Path(report.root).resolve().as_uri().rstrip("/") + "/"
    run = om.Run(
        tool=om.Tool(
            driver=om.ToolComponent(
                name="tether",
                semantic_version=__version__,
                version=__version__,
                information_uri=INFORMATION_URI,
                rules=descriptors,
            )
        ),
        automation_details=om.RunAutomationDetails(id=f"{category.strip('/')}/"),
        original_uri_base_ids=(
            {SRCROOT: om.ArtifactLocation(uri=root_uri)} if local_root else None
        ),
        invocations=[
            om.Invocation(
                # a scan that stopped at its limits did not judge everything
                execution_successful=not any(d.code == "scan-limit" for d in report.diagnostics),
                tool_execution_notifications=notifications or None,
            )
        ],
        results=[],  # (put in below: a list, or the generator itself)
        column_kind="utf16CodeUnits",
        properties={
            "tether/baselines": [places(f)[1] for f in report.baseline_files],
            "tether/tallies": {
                rid: {"pass": t.passed, "fail": t.failed, "not_applicable": t.not_applicable}
                for rid, t in sorted(report.tallies.items())
            },
            # a scan of part of the repository says which part (URIs stay relative to the
            # repository root, SRCROOT, whatever was scanned)
            **({"tether/paths": list(report.paths)} if report.paths else {}),
        },
    )
    log = om.SarifLog(version="2.1.0", schema_uri=SCHEMA, runs=[run])
    data: dict[str, Any] = to_dict(log)
    data["runs"][0]["results"] = results() if lazy else list(results())
    return data


def _in_repo(f: Finding) -> bool:
    """Whether a finding has a place in code scanning: located in the repository. A repo-
    relative path always qualifies, whatever its characters (``a:b/main.tf`` included: the
    URI is percent-encoded); a finding marked external, or an absolute or ``..`` path, not."""
    return not f.external and _relative(f.path)


def _relative(path: str) -> bool:
    return not path.startswith("/") and ".." not in path.split("/")


def _result(
    f: Finding,
    index: Mapping[str, int],
    hashes: _Hashes,
    places: _Places,
    state: str | None = None,
) -> om.Result:
    partial: dict[str, str] = {"tether/v1": f.fingerprint}
    h = hashes.get(f.path, f.span.start_line)
    if h is not None:
        partial["primaryLocationLineHash"] = h
    props: dict[str, Any] = {"category": f.category.value, "target": redact(f.target)}
    text = _plain(redact(f.message))
    related: list[om.Location] = []
    if f.baseline_refs:
        # what the finding was judged against, where a triager reads: the message (code
        # scanning shows no properties), linked to the line when the file is in the repository
        note, related, props["baseline"] = _baseline_note(f.baseline_refs, places)
        text = f"{text} {note}"
    if not f.enforced:
        props["enforced"] = False
    fixes = None
    if f.fix is not None and not f.external:
        edit = hashes.replacement(f.path, f.fix)
        if edit is not None:
            region, inserted = edit
            fixes = [
                om.Fix(
                    description=om.Message(
                        text=f"tether fix: {f.rule_id}"
                        + ("" if f.fix.safe else " (unsafe: it may change behaviour; review it)")
                    ),
                    artifact_changes=[
                        om.ArtifactChange(
                            artifact_location=om.ArtifactLocation(
                                uri=_uri(f.path), uri_base_id=SRCROOT
                            ),
                            replacements=[
                                om.Replacement(
                                    deleted_region=_fix_region(region),
                                    inserted_content=om.ArtifactContent(text=inserted),
                                )
                            ],
                        )
                    ],
                )
            ]
    return om.Result(
        rule_id=f.rule_id,
        rule_index=index[f.rule_id],
        level=f.level.value,
        kind="fail",
        message=om.Message(text=text),
        locations=[_location(f.path, f.span)],
        related_locations=related or None,
        partial_fingerprints=partial,
        properties=props,
        baseline_state=state,
        fixes=fixes,
    )


def _notification(d: Diagnostic) -> om.Notification:
    # a file outside the repository (a central registry) is named in the text, not located
    return om.Notification(
        message=om.Message(text=redact(f"{d.path}:{d.span.start_line}: {d.message}")),
        level=d.level.value,
        descriptor=om.ReportingDescriptorReference(id=d.code),
        locations=[_location(d.path, d.span)] if _relative(d.path) else None,
    )


def write(data: dict[str, Any], path: Path) -> None:
    """The SARIF text into `path`, piece by piece (`data` may be built lazy)."""
    write_pieces(path, chunks(data))


def dumps(data: dict[str, Any]) -> str:
    """The SARIF text: indented, one result (and notification) per line."""
    return jsonfmt.dumps(data, _LONG_LISTS) + "\n"


def chunks(data: dict[str, Any]) -> Iterator[str]:
    """The text of `dumps` in pieces, for a log built `lazy`: each result is made as it is
    written (jsonfmt.chunks)."""
    yield from jsonfmt.chunks(data, _LONG_LISTS)
    yield "\n"


_LONG_LISTS = frozenset({"results", "toolExecutionNotifications"})

"""The operator's policy: everything a repository under review may not decide for itself.

The platform team (the *operator*) owns baseline layers, the overlays a repository may choose,
extra rule directories, central exception registries, the approver list, which rules allow
self-service exceptions, and which `.tether.yaml` keys a repository may set. It comes from
`--policy FILE`, the Action's `policy` input or the org scan's policy file, typically a
checked-out central policy repository, never from the repository being scanned. Command-line
flags (`--baseline`, `--rules`, `--exceptions`, `--exclude`, `--fail-on`) are operator input too
and extend it. See docs/security.md for the trust model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import baseline as baseline_mod
from .documents import line_of, load_yaml, validate
from .functions import check_patterns, glob_match

REPO_KEYS = ("exclude", "baseline", "fail_on", "rules")
FAIL_LEVELS = ("note", "warning", "error", "never")  # strictest first


@dataclass(frozen=True)
class RepoLayer:
    """One `repos:` entry of a policy: which repositories get which baseline layers."""

    name: str | None = None  # glob over owner/name
    topic: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    baselines: tuple[str, ...] = ()

    def why(self, repo: RepoFacts) -> str | None:
        """Why the entry matches the repository (None: it does not). Every condition given
        must hold."""
        reasons = []
        if self.name is not None:
            if repo.name is None or not glob_match(repo.name.lower(), self.name.lower()):
                return None
            reasons.append(f"name {self.name}")
        if self.topic is not None:
            if self.topic not in repo.topics:
                return None
            reasons.append(f"topic {self.topic}")
        for key, want in self.properties.items():
            have = repo.properties.get(key)
            values = have if isinstance(have, list | tuple) else [have]
            if want not in values:
                return None
            reasons.append(f"property {key}={want}")
        return ", ".join(reasons)


@dataclass(frozen=True)
class RepoFacts:
    """What the policy may match a repository by (the org scan reads topics and custom
    properties through the API; a local scan knows what --repo says)."""

    name: str | None = None  # owner/name
    topics: tuple[str, ...] = ()
    properties: Mapping[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class MaturityLevel:
    """One `levels:` entry: reached when every rule it names (ids or packs) is met."""

    name: str
    rules: tuple[str, ...]


DEFAULT_OWNERSHIP = ("catalog", "codeowners")


@dataclass(frozen=True)
class Policy:
    """One loaded policy value, handed to every scan (see ScanOptions.policy)."""

    baselines: tuple[str, ...] = ()  # layers; empty: the embedded default
    overlays: Mapping[str, str] = field(default_factory=dict)  # name -> resolved file
    rule_dirs: tuple[Path, ...] = ()
    exceptions: tuple[str, ...] = ()  # central registries (files)
    excludes: tuple[str, ...] = ()
    fail_on: str | None = None
    repo_config: bool = True  # read .tether.yaml, .tether/exceptions.yaml, inline ignores
    repo_allow: frozenset[str] = frozenset({"exclude"})
    repo_self_service: frozenset[str] = frozenset()
    approvers: frozenset[str] = frozenset()  # normalised (lower case, no leading @)
    ticket_pattern: str | None = None
    inline_ignores: bool = True  # false: inline tether:ignore comments except nothing
    self_service: frozenset[str] = frozenset()  # rule ids or packs
    file: str | None = None  # where it came from (None: flags and defaults only)
    repos: tuple[RepoLayer, ...] = ()  # per-repository layers, first match wins
    # the adoption report's (issue 12): team attribution sources in order, owner aliases,
    # maturity levels lowest first
    ownership: tuple[str, ...] = DEFAULT_OWNERSHIP
    team_aliases: Mapping[str, str] = field(default_factory=dict)  # lower-cased keys
    levels: tuple[MaturityLevel, ...] = ()
    # values a remedy may write for required labels and tags (`ownership.labels`): a
    # constant, "$team" (the repository's team, by the sources above), or a value per team
    label_values: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)

    def layers_for(self, repo: RepoFacts) -> tuple[tuple[str, ...], str | None]:
        """The baseline layers the first matching `repos:` entry adds, and why it matched."""
        for i, entry in enumerate(self.repos):
            why = entry.why(repo)
            if why is not None:
                return entry.baselines, f"repos[{i}]: {why}"
        return (), None

    def approver_ok(self, name: str | None) -> bool:
        return bool(name) and normalise_approver(str(name)) in self.approvers

    def ticket_ok(self, ticket: str | None) -> bool:
        if not ticket or self.ticket_pattern is None:
            return False
        return re.fullmatch(self.ticket_pattern, str(ticket)[:200]) is not None

    @property
    def checks_approvals(self) -> bool:
        return bool(self.approvers) or self.ticket_pattern is not None

    def self_service_for(self, rule_id: str, pack: str | None) -> bool:
        return rule_id in self.self_service or (pack is not None and pack in self.self_service)

    def fail_level(self, repo_fail_on: str | None) -> str:
        """The fail level: the repository's where the policy accepted it (config.judge: a
        stricter one always, any one when `repository.allow` lists fail_on), else the
        operator's."""
        return repo_fail_on or self.fail_on or "error"


def stricter_or_equal(a: str, b: str) -> bool:
    """Whether fail level `a` fails on everything `b` fails on."""
    return FAIL_LEVELS.index(a) <= FAIL_LEVELS.index(b)


def normalise_approver(name: str) -> str:
    return name.strip().lstrip("@").lower()


def load(path: Path, *, root: Path | None = None, shown: str | None = None) -> Policy:
    """Read and check a policy file (a configuration error says file and line). `root`: a
    tree the file must stay inside (a policy read from a pull request's merge base)."""
    shown = shown or str(path)
    data, node = load_yaml(path, shown, root=root)
    if data is None:
        return Policy(file=shown)
    if not isinstance(data, dict):
        raise ConfigError(shown, 1, "a policy must be a YAML mapping")
    looks_like = {"terraform", "kubernetes", "actions", "docker", "extends", "name"} & set(data)
    if looks_like and not {"overlays", "approvals", "self_service"} & set(data):
        raise ConfigError(
            shown,
            None,
            f"this looks like a baseline (it sets {', '.join(sorted(looks_like))}), not a "
            "policy: pass it with --baseline, or name it under `baseline:` in a policy file",
        )
    validate("policy", data, node, shown)
    here = path.parent

    def rel(name: str) -> str:
        # a file beside the policy, else an embedded baseline name (checked when loaded)
        for cand in (here / name, here / f"{name}.yml", here / f"{name}.yaml"):
            if cand.is_file():
                return str(cand)
        return name

    def checked(name: str, where: list[Any]) -> str:
        """A layer the policy names exists: a file beside it or an embedded name (an error
        names the policy's own line, not just the missing file)."""
        resolved = rel(name)
        try:
            baseline_mod.resolve_name(resolved, None)
        except ConfigError as e:
            raise ConfigError(shown, line_of(node, where), e.message) from None
        return resolved

    base = data.get("baseline") or []
    baselines = tuple(
        checked(b, ["baseline"] if isinstance(base, str) else ["baseline", i])
        for i, b in enumerate([base] if isinstance(base, str) else base)
    )
    overlays = {
        str(k): checked(str(v), ["overlays", k]) for k, v in (data.get("overlays") or {}).items()
    }
    rule_dirs = tuple(here / d for d in data.get("rules") or [])
    exceptions = tuple(str(here / e) for e in data.get("exceptions") or [])
    check_patterns(data.get("exclude") or [], shown, key="exclude")
    repo = data.get("repository") or {}
    approvals = data.get("approvals") or {}
    ticket = approvals.get("ticket")
    if ticket is not None:
        try:
            re.compile(ticket)
        except re.error as e:
            raise ConfigError(
                shown, None, f"approvals.ticket is not a valid pattern: {e}"
            ) from None
    repos = []
    for n, entry in enumerate(data.get("repos") or []):
        match = entry["match"]
        layers = entry["baseline"]
        for i, layer in enumerate([layers] if isinstance(layers, str) else layers):
            checked(
                layer,
                ["repos", n, "baseline"]
                if isinstance(layers, str)
                else ["repos", n, "baseline", i],
            )
        repos.append(
            RepoLayer(
                name=match.get("name"),
                topic=match.get("topic"),
                properties=dict(match.get("property") or {}),
                baselines=tuple(rel(b) for b in ([layers] if isinstance(layers, str) else layers)),
            )
        )
    check_patterns([r.name for r in repos if r.name], shown, key="repos name globs")
    ownership = data.get("ownership") or {}
    levels: list[MaturityLevel] = []
    for n, entry in enumerate(data.get("levels") or []):
        if any(entry["name"] == other.name for other in levels):
            raise ConfigError(
                shown, line_of(node, ["levels", n, "name"]), f"level {entry['name']} is named twice"
            )
        levels.append(MaturityLevel(str(entry["name"]), tuple(str(r) for r in entry["rules"])))
    return Policy(
        ownership=tuple(ownership.get("sources") or DEFAULT_OWNERSHIP),
        team_aliases={
            str(k).strip().lower(): str(v).strip()
            for k, v in (ownership.get("teams") or {}).items()
        },
        levels=tuple(levels),
        label_values={
            str(k): (
                str(v) if isinstance(v, str) else {str(t).lower(): str(x) for t, x in v.items()}
            )
            for k, v in (ownership.get("labels") or {}).items()
        },
        repos=tuple(repos),
        baselines=baselines,
        overlays=overlays,
        rule_dirs=rule_dirs,
        exceptions=exceptions,
        excludes=tuple(data.get("exclude") or []),
        fail_on=data.get("fail_on"),
        repo_config=bool(repo.get("config", True)),
        repo_allow=frozenset(repo.get("allow", ["exclude"])),
        repo_self_service=frozenset(repo.get("self_service", [])),
        approvers=frozenset(normalise_approver(a) for a in approvals.get("approvers") or []),
        ticket_pattern=ticket,
        inline_ignores=bool(approvals.get("inline", True)),
        self_service=frozenset(data.get("self_service") or []),
        file=shown,
    )


def with_flags(
    policy: Policy,
    *,
    baselines: Sequence[str] = (),
    rule_dirs: Sequence[Path] = (),
    exceptions: Sequence[str] = (),
    excludes: Sequence[str] = (),
    fail_on: str | None = None,
    repo_config: bool = True,
) -> Policy:
    """The policy extended by command-line flags (operator input as well)."""
    return replace(
        policy,
        baselines=(*policy.baselines, *baselines),
        rule_dirs=(*policy.rule_dirs, *rule_dirs),
        exceptions=(*policy.exceptions, *exceptions),
        excludes=(*policy.excludes, *excludes),
        fail_on=fail_on or policy.fail_on,
        repo_config=policy.repo_config and repo_config,
    )


def describe(data: Any) -> str:
    """A short, safe rendering of a configuration value for messages."""
    if isinstance(data, list):
        inner = ", ".join(describe(x) for x in data[:5])
        return f"[{inner}{', …' if len(data) > 5 else ''}]"
    s = str(data)
    return s if len(s) <= 60 else s[:59] + "…"

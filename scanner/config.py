"""`.tether.yaml` at the repository root, judged against the operator's policy.

The repository owns only what the policy lets it own (default: `exclude` of its own paths).
Every key it sets becomes a `tether.config` fact: a key the policy reserves is ignored and
reported (CFG001); in PR mode the configuration is read from the merge base, and a key the
change edits is reported (CFG002), never silently applied. See docs/security.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model import Fact, Span
from .policy import functions
from .policy.documents import line_of, load_yaml, validate
from .policy.operator import Policy, describe, stricter_or_equal

CONFIG_NAMES = (".tether.yaml", ".tether.yml")
MAX_PATTERNS = functions.MAX_PATTERNS
MAX_PATTERN_LENGTH = functions.MAX_PATTERN_LEN


@dataclass(frozen=True)
class RepoConfig:
    """What the repository's file says, before the policy has judged it."""

    data: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)  # key -> line
    file: str | None = None


@dataclass(frozen=True)
class Applied:
    """The settings of a repository configuration the policy accepts."""

    baselines: list[str] = field(default_factory=list)  # overlay files chosen by name
    excludes: list[str] = field(default_factory=list)
    rule_dirs: list[Path] = field(default_factory=list)
    fail_on: str | None = None  # only ever stricter than the operator's


def discover(root: Path) -> RepoConfig:
    for name in CONFIG_NAMES:
        p = root / name
        if p.is_file() or p.is_symlink():
            return load(p, name, root)
    return RepoConfig()


def load(path: Path, shown: str, root: Path | None = None) -> RepoConfig:
    data, node = load_yaml(path, shown, root=root)  # inside `root`: no link out followed
    if data is None:
        return RepoConfig(file=shown)
    if not isinstance(data, dict):
        raise ConfigError(shown, 1, "configuration must be a YAML mapping")
    validate("config", data, node, shown, cached=False)  # the repository's own file
    lines = {str(k): line_of(node, [k]) or 1 for k in data}
    return RepoConfig(dict(data), lines, shown)


def exclude_problem(pattern: str) -> str | None:
    """Why a repository may not exclude `pattern`, or None. A repository excludes paths it
    owns: at least one path segment must be literal (`vendor/**`, `**/testdata/**`), so no
    pattern of wildcards alone (`**`, `*/**`, `**/*.tf`) can switch the scan off."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"longer than {MAX_PATTERN_LENGTH} characters"
    segs = [s for s in pattern.strip().strip("/").split("/") if s]
    if pattern.startswith("/") or ".." in segs:
        return "not a path inside the repository"
    if not any(not any(c in s for c in "*?") for s in segs):
        return "matches everything: name the directory or file (vendor/**, **/testdata/**)"
    return None


def judge(cfg: RepoConfig, policy: Policy) -> tuple[Applied, dict[str, str]]:
    """The settings the policy accepts, and for each refused key why."""
    refused: dict[str, str] = {}
    applied = Applied()
    if not policy.repo_config:
        return applied, refused
    data = cfg.data
    excludes: list[str] = []
    if "exclude" in data:
        pats = [str(p) for p in data["exclude"]]
        if "exclude" not in policy.repo_allow:
            refused["exclude"] = "the policy does not let a repository exclude paths"
        elif len(pats) > MAX_PATTERNS:
            refused["exclude"] = f"more than {MAX_PATTERNS} patterns"
        else:
            problems = {p: exclude_problem(p) for p in pats}
            bad = [(p, why) for p, why in problems.items() if why]
            if bad:
                refused["exclude"] = f"{describe(bad[0][0])}: {bad[0][1]}"
            excludes = [p for p in pats if not problems[p]]
    baselines: list[str] = []
    if "baseline" in data:
        raw = data["baseline"]
        names = [raw] if isinstance(raw, str) else [str(n) for n in raw]
        unknown = [n for n in names if n not in policy.overlays]
        if "baseline" not in policy.repo_allow:
            refused["baseline"] = "the policy does not let a repository choose its baseline"
        elif unknown:
            listed = ", ".join(sorted(policy.overlays)) or "none"
            refused["baseline"] = (
                f"{describe(unknown[0])} is not an overlay the policy lists (listed: {listed})"
            )
        else:
            baselines = [policy.overlays[n] for n in names]
    fail_on: str | None = None
    if "fail_on" in data:
        level = str(data["fail_on"])
        operator = policy.fail_on or "error"
        if stricter_or_equal(level, operator) or "fail_on" in policy.repo_allow:
            fail_on = level
        else:
            refused["fail_on"] = (
                f"looser than the policy's fail level ({operator}); a repository may only "
                "make it stricter"
            )
    rule_dirs: list[Path] = []
    if "rules" in data:
        if "rules" not in policy.repo_allow:
            refused["rules"] = "the policy does not let a repository add rule directories"
        else:
            rule_dirs = [Path(str(d)) for d in data["rules"]]
    return Applied(baselines, excludes, rule_dirs, fail_on), refused


def resolve_rule_dirs(applied: Applied, root: Path) -> list[Path]:
    """Repository rule directories (when the policy allows them) must lie inside it."""
    out = []
    real = root.resolve()
    for d in applied.rule_dirs:
        p = (root / d).resolve()
        if p != real and real not in p.parents:
            raise ConfigError(
                ".tether.yaml",
                None,
                f"rules directory {describe(str(d))} is outside the repository",
            )
        out.append(p)
    return out


def facts(
    cfg: RepoConfig,
    policy: Policy,
    before: RepoConfig | None = None,
    pr: bool = False,
    edited: Collection[str] = (),
) -> list[Fact]:
    """One `tether.config` fact per key the repository sets. In PR mode (`pr`), `before` is
    the approved configuration (None: there was none) and `changed` says the change set or
    edited the key, or, for `edited` keys, what the key names (the rule directories)."""
    if cfg.file is None or not policy.repo_config:
        return []
    _, refused = judge(cfg, policy)
    out = []
    for key, value in cfg.data.items():
        old = before.data.get(key) if before is not None else None
        existed = before is not None and key in before.data
        if not existed and key == "fail_on":
            old, existed = policy.fail_on or "error", True  # it was the operator's level
        changed = pr and (key in edited or _loosens(key, old, value, existed))
        line = cfg.lines.get(key, 1)
        out.append(
            Fact(
                "tether.config",
                cfg.file,
                Span(line, 1, line, len(key) + 1),
                f"config:{key}",
                {
                    "key": key,
                    "value": describe(value),
                    "allowed": key not in refused,
                    "reason": refused.get(key, ""),
                    "changed": changed,
                    "self_service": key in policy.repo_self_service,
                },
            )
        )
    return out


def _loosens(key: str, old: Any, new: Any, existed: bool) -> bool:
    """Whether a change to a key can loosen the gate (a stricter fail level cannot, and
    removing an exclude pattern cannot)."""
    if not existed:
        return True
    if old == new:
        return False
    if key == "fail_on":
        return not stricter_or_equal(str(new), str(old))
    if key == "exclude" and isinstance(old, list) and isinstance(new, list):
        return not set(map(str, new)) <= set(map(str, old))
    return True

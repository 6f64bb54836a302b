"""`.tether.yaml` at the repository root: baseline, extra rules, excluded paths, fail level."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .policy.documents import load_yaml, validate

CONFIG_NAMES = (".tether.yaml", ".tether.yml")


@dataclass(frozen=True)
class RepoConfig:
    baselines: list[str] = field(default_factory=list)  # resolved paths or embedded names
    rule_dirs: list[Path] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    fail_on: str | None = None
    file: str | None = None


def discover(root: Path) -> RepoConfig:
    for name in CONFIG_NAMES:
        p = root / name
        if p.is_file():
            return load(p, name)
    return RepoConfig()


def load(path: Path, shown: str) -> RepoConfig:
    data, node = load_yaml(path, shown)
    if data is None:
        return RepoConfig(file=shown)
    if not isinstance(data, dict):
        raise ConfigError(shown, 1, "configuration must be a YAML mapping")
    validate("config", data, node, shown)
    base = data.get("baseline") or []
    names = [base] if isinstance(base, str) else list(base)
    # a name that is a file relative to the config is a path; otherwise an embedded baseline
    resolved = [str(path.parent / n) if (path.parent / n).is_file() else n for n in names]
    rule_dirs = [path.parent / d for d in data.get("rules", [])]
    return RepoConfig(
        resolved, rule_dirs, list(data.get("exclude", [])), data.get("fail_on"), shown
    )

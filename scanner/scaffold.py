"""`tether init`: starting files for a repository (`.tether.yaml`, `.tether/exceptions.yaml`)
and for a platform team's policy repository (policy, baseline, a rule with its cases, a central
exception registry, a CI workflow running `tether verify`, a README).

The files are templates under scanner/templates/; `@SCHEMA:name@` becomes the URL of a JSON
Schema (for the `# yaml-language-server: $schema=` line editors read), `@PREFIX@` the policy's
rule id prefix and `@VERSION@` tether's version. Nothing is overwritten without `force`, and
nothing is written through a symbolic link.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import __version__

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCHEMA_URL = "https://raw.githubusercontent.com/tether-scanner/tether/v{version}/scanner/schemas/{name}.schema.json"
_TOKEN = re.compile(r"@(SCHEMA|PREFIX|PACK|VERSION)(?::([a-z][a-z-]*))?@")
PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,11}$")
DEFAULT_PREFIX = "ORG"

# destination (relative to the target directory) -> template (relative to TEMPLATES)
REPO_FILES: Mapping[str, str] = {
    ".tether.yaml": "repo/tether.yaml",
    ".tether/exceptions.yaml": "repo/exceptions.yaml",
}


def policy_files(prefix: str) -> dict[str, str]:
    """The policy repository's files. The sample rule judges Kubernetes workloads under the
    built-in `kubernetes` pack, with its value written in CEL."""
    # the sample rule is in the organisation's own pack (@PACK@) and takes a typed parameter
    rule_id = f"{prefix}001"
    return {
        "README.md": "policy/README.md",
        "tether-policy.yml": "policy/tether-policy.yml",
        "baselines/org.yml": "policy/org.yml",
        "exceptions.yml": "policy/exceptions.yml",
        f"rules/{prefix.lower()}/{rule_id}.yml": "policy/rule.yml",
        f"tests/rule_cases/{rule_id}.yml": "policy/cases.yml",
        ".github/workflows/verify.yml": "policy/verify.yml",
    }


def schema_url(name: str) -> str:
    """Where editors fetch a schema: the file in tether's repository at this version's tag
    (`tether schema NAME` prints the same schema, for a local copy)."""
    return SCHEMA_URL.format(version=__version__, name=name)


def render(template: str, prefix: str = DEFAULT_PREFIX) -> str:
    text = (TEMPLATES / template).read_text("utf-8")

    def sub(m: re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        if kind == "SCHEMA":
            if arg is None:
                raise ValueError(f"{template}: @SCHEMA@ needs a schema name")
            return schema_url(arg)
        if kind == "PACK":
            return f"{prefix.lower()}-platform"
        return prefix if kind == "PREFIX" else __version__

    return _TOKEN.sub(sub, text)


class ScaffoldError(Exception):
    """Files that would be overwritten (without force) or written through a link."""


@dataclass(frozen=True)
class Plan:
    root: Path
    files: Mapping[str, str]  # destination -> content

    def existing(self) -> list[str]:
        return [rel for rel in self.files if _exists(self.root / rel)]


def _exists(p: Path) -> bool:
    return p.exists() or p.is_symlink()


def plan_repo(root: Path) -> Plan:
    return Plan(root, {dest: render(t) for dest, t in REPO_FILES.items()})


def check_prefix(prefix: str, taken: set[str]) -> str | None:
    """Why `prefix` cannot start the policy's rule ids, or None. `taken`: the prefixes of
    tether's own rules (a shared prefix would clash as tether adds rules)."""
    if not PREFIX.fullmatch(prefix):
        return "an upper-case letter, then up to 11 upper-case letters or digits (e.g. ACME)"
    if prefix in taken:
        return f"{prefix} is the prefix of tether's own rules ({', '.join(sorted(taken))})"
    return None


def plan_policy(root: Path, prefix: str = DEFAULT_PREFIX) -> Plan:
    return Plan(root, {dest: render(t, prefix) for dest, t in policy_files(prefix).items()})


def _link_on_the_way(root: Path, rel: str) -> Path | None:
    """The first symbolic link among `root`, the directories below it leading to `rel`, and
    `rel` itself."""
    p = root
    for part in ("", *Path(rel).parts):
        p = p / part if part else p
        if p.is_symlink():
            return p
    return None


def write(plan: Plan, *, force: bool = False) -> list[Path]:
    """Write every file of the plan, or none: existing files are refused unless `force`, and
    a file or directory on the way that is a symbolic link is always refused."""
    linked = sorted({str(p) for rel in plan.files if (p := _link_on_the_way(plan.root, rel))})
    if linked:
        raise ScaffoldError(f"not writing through symbolic links: {', '.join(linked)}")
    existing = plan.existing()
    if existing and not force:
        raise ScaffoldError(
            f"would overwrite {', '.join(existing)} in {plan.root}; pass --force to replace them"
        )
    written = []
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    for rel, text in plan.files.items():
        path = plan.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        written.append(path)
    return written

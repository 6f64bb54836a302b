"""Which team owns a repository, for the adoption report (issue 12).

The policy's ``ownership.sources`` are tried in order and the first that names an owner wins:

* ``property:NAME``: the repository's custom property NAME (the first value of a multi-select);
* ``catalog``: ``spec.owner`` of the repository's Backstage ``catalog-info.yaml``;
* ``codeowners``: the first owner of the last CODEOWNERS rule that covers the whole repository
  (``*``, ``/``, ``/**``), in the file GitHub would use.

An owner is put in one form so that sources agree: a Backstage reference loses its kind and
default namespace (``group:default/payments`` -> ``payments``), a team of the scanned org
loses the org (``@acme/payments`` -> ``payments``; any org's, when the scan is not told
the org), and case is folded. The policy's
``ownership.teams`` aliases then map an owner, as written or in that form, to a team. No
source naming an owner leaves the repository ``unowned``, a row of its own in the report.

Everything read here comes from the repository (or its properties) and so is untrusted: a
file is read only at its own path inside the snapshot, never through a link, and at most
:data:`MAX_BYTES`; a name is cut to :data:`MAX_NAME` characters and loses control characters.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..facts.repository import (
    CATALOG_PATHS,
    CODEOWNERS_PATHS,
    catalog_owner,
    codeowners_root_owner,
)
from ..policy.operator import Policy

if TYPE_CHECKING:
    from .select import PropertyValues

UNOWNED = "unowned"
MAX_BYTES = 256 * 1024
MAX_NAME = 100
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass(frozen=True)
class Attribution:
    team: str
    source: str  # where the team came from, as the report shows it


def attribute(policy: Policy, org: str | None, props: PropertyValues, tree: Path) -> Attribution:
    """The repository's team, from the first of the policy's sources that names an owner."""
    for source in policy.ownership:
        owner, where = _owner(source, props, tree)
        if owner:
            return Attribution(team_name(owner, org, policy.team_aliases), where)
    return Attribution(UNOWNED, "no ownership source named an owner")


def team_name(owner: str, org: str | None, aliases: Mapping[str, str]) -> str:
    """An owner as a source wrote it, in the form every source shares (see the module doc),
    then through the policy's aliases (keys lower-cased)."""
    raw = _clean(owner)
    name = raw.lower()
    if name.startswith("group:"):
        name = name[len("group:") :]
    if name.startswith("default/"):
        name = name[len("default/") :]
    if name.startswith("@") and "/" in name:
        owner_org, _, team = name[1:].partition("/")
        # a team of the scanned org; of any org when the scan was not told which
        if (org is None or owner_org == org.lower()) and team:
            name = team
    alias = aliases.get(raw.lower()) or aliases.get(name)
    return _clean(alias).lower() if alias else name or UNOWNED


def _owner(source: str, props: PropertyValues, tree: Path) -> tuple[str | None, str]:
    if source.startswith("property:"):
        name = source[len("property:") :]
        value = props.get(name)
        if isinstance(value, list | tuple):
            value = next((v for v in value if isinstance(v, str) and v.strip()), None)
        return (value if isinstance(value, str) and value.strip() else None), (
            f"custom property {name}"
        )
    if source == "catalog":
        for rel in CATALOG_PATHS:
            text = _read(tree, rel)
            if text is not None:
                return catalog_owner(text), f"{rel} spec.owner"
        return None, "catalog"
    if source == "codeowners":
        for rel in CODEOWNERS_PATHS:  # GitHub reads the first it finds
            text = _read(tree, rel)
            if text is not None:
                return codeowners_root_owner(text), f"{rel} (owner of /)"
        return None, "codeowners"
    raise ValueError(f"unknown ownership source {source!r}")  # the policy schema forbids it


def _clean(text: str) -> str:
    return "".join(c for c in text.strip() if c.isprintable())[:MAX_NAME].strip()


def _read(tree: Path, rel: str) -> str | None:
    """The file at ``rel`` under ``tree`` as text, if it is a regular file reached through no
    link and not over MAX_BYTES; else None."""
    path = tree
    for part in rel.split("/")[:-1]:
        path = path / part
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return None
        except OSError:
            return None
    try:
        fd = os.open(tree / rel, os.O_RDONLY | _O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        data = fh.read(MAX_BYTES + 1)
    return data.decode("utf-8", errors="replace")

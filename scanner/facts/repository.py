"""Repository-level facts: one `repo.summary` per scan (which files exist, where ownership is
declared) and a `repo.template` for each workflow that says it was derived from a golden
template.

The summary sees every file the walk passes (names only: nothing is read but the few files
ownership is declared in, and the anchor's first line). A scan has no file of its own, so the
summary is reported at an anchor: the root README (the page a repository shows first), else
the repository's .tether.yaml, else the first file at the root, else the first file of the
scan.

Template marker: a full-line YAML comment in a workflow,

    # tether-template: acme/ci-templates/node-ci@v3

names the golden template (`owner/repo/name`, the key of `repository.templates` in the
baseline) and the template version the workflow was copied from (after the last `@`; the
version may be omitted). Conventionally it is the first line of the file; the first marker in
the file counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..model import Fact, Span
from ..parsers.text import LineIndex
from ..parsers.yaml import Node, YamlError, compose_each
from .github_actions import split_uses

# GitHub reads the first CODEOWNERS it finds, in this order
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
CATALOG_PATHS = ("catalog-info.yaml", "catalog-info.yml")
TEMPLATE_MARKER = re.compile(r"^[ \t]*#[ \t]*tether-template:[ \t]*(\S+)[ \t\r]*$", re.MULTILINE)


def anchor(paths: Sequence[str]) -> str | None:
    """The file repository-level findings are shown at (see the module docstring)."""
    root = sorted(p for p in paths if "/" not in p)
    readmes = [p for p in root if p.lower().startswith("readme")]
    if readmes:
        return min(readmes, key=lambda p: (p.lower() != "readme.md", p))
    for config in (".tether.yaml", ".tether.yml"):  # the repository's own tether config
        if config in root:
            return config
    if root:
        return root[0]
    return min(paths) if paths else None


def needed(paths: Sequence[str]) -> list[str]:
    """The files `summary` reads: the CODEOWNERS GitHub would use, the catalog file, the
    anchor."""
    present = set(paths)
    out = [p for p in CODEOWNERS_PATHS if p in present][:1]
    out += [p for p in CATALOG_PATHS if p in present][:1]
    a = anchor(paths)
    if a is not None and a not in out:
        out.append(a)
    return out


def _codeowners_lines(text: str) -> Iterator[list[str]]:
    """Each CODEOWNERS line as its words, a comment (from a word starting with #) left out."""
    for line in text.splitlines():
        words = line.split()
        for i, w in enumerate(words):
            if w.startswith("#"):
                words = words[:i]
                break
        yield words


def codeowners_rules(text: str) -> int:
    """Rule lines of a CODEOWNERS file: a pattern followed by at least one owner (`@user`,
    `@org/team` or an e-mail address). A pattern alone un-assigns ownership; it is not a rule
    that names an owner."""
    n = 0
    for words in _codeowners_lines(text):
        if len(words) >= 2 and any("@" in w for w in words[1:]):
            n += 1
    return n


# patterns that match every path of a repository, so their owners own its root
_ROOT_PATTERNS = frozenset({"*", "/", "/*", "**", "/**"})


def codeowners_root_owner(text: str) -> str | None:
    """The first owner of the last rule that covers the whole repository (`*`, `/`, `/**`):
    GitHub applies the last matching rule, so a later catch-all wins; a catch-all with no
    owner un-assigns it (None)."""
    owner: str | None = None
    for words in _codeowners_lines(text):
        if words and words[0] in _ROOT_PATTERNS:
            owners = [w for w in words[1:] if "@" in w]
            owner = owners[0] if owners else None
    return owner


def catalog_owner(text: str) -> str | None:
    """spec.owner of the first entity (of a Backstage catalog file) that declares one."""
    try:
        docs, _errors = compose_each(text)
    except YamlError:
        return None
    for doc in docs:
        owner = doc.path("spec", "owner") if doc is not None and doc.is_map else None
        # a string only: `owner: null` (or a number) names no owner
        value = (
            owner.str_value() if owner is not None and isinstance(owner.to_python(), str) else None
        )
        if value and value.strip():
            return value.strip()
    return None


def summary(paths: Sequence[str], texts: Mapping[str, str | None]) -> Fact | None:
    """The repository summary, from every path the walk saw and the decoded text of the files
    `needed` named (None where unreadable). None for a scan that saw no file at all."""
    where = anchor(paths)
    if where is None:
        return None
    present = set(paths)
    codeowners = next((p for p in CODEOWNERS_PATHS if p in present), None)
    catalog = next((p for p in CATALOG_PATHS if p in present), None)
    co_text = texts.get(codeowners) if codeowners else None
    cat_text = texts.get(catalog) if catalog else None
    data: dict[str, Any] = {
        "files": sorted(present),
        "has_codeowners": codeowners is not None,
        "codeowners_path": codeowners,
        # 0 without a CODEOWNERS file; null when it cannot be read
        "codeowners_rules": codeowners_rules(co_text) if co_text is not None else None,
        "catalog_path": catalog,
        "catalog_owner": catalog_owner(cat_text) if cat_text is not None else None,
    }
    if codeowners is None:
        data["codeowners_rules"] = 0
    first = texts.get(where)
    span = LineIndex(first).line_span(1) if first else Span.point(1)
    if span.end_col <= span.start_col:
        span = Span.point(1)
    return Fact("repo.summary", where, span, "repository", data)


def template_facts(path: str, root: Node | None, text: str) -> list[Fact]:
    """A `repo.template` fact for a workflow carrying a template marker comment: the template,
    the version it was copied from, and the actions its steps use."""
    m = TEMPLATE_MARKER.search(text)
    if m is None:
        return []
    ref = m.group(1)
    name, at, version = ref.rpartition("@")
    if not at:
        name, version = ref, ""
    line = text.count("\n", 0, m.start())
    line_start = m.start()  # the pattern starts at the start of a line
    hash_col = text.index("#", line_start) - line_start
    span = LineIndex(text).span_from_chars((line, hash_col), (line, m.end(1) - line_start))
    data = {
        "template": name,
        "version": version or None,
        "marker": ref,
        "workflow": path,
        "actions": _step_actions(root),
    }
    return [
        Fact(
            "repo.template",
            path,
            span,
            f"template:{name}",
            data,
            {"template": span, "version": span},
        )
    ]


def _step_actions(root: Node | None) -> list[str]:
    """What each step of each job uses, without the ref: `owner/repo[/path]` for actions and
    reusable workflows, the value as written for docker:// and local ones; sorted, unique."""
    out: set[str] = set()
    jobs = root.get("jobs") if root is not None and root.is_map else None
    if jobs is None or not jobs.is_map:
        return []
    for _key, job in jobs.items():
        steps = job.get("steps") if job.is_map else None
        if steps is None or not steps.is_seq:
            continue
        for step in steps.items():
            uses = step.get("uses") if step.is_map else None
            value = uses.str_value() if uses is not None else None
            if not value:
                continue
            parts = split_uses(value)
            if parts["kind"] in ("action", "reusable-workflow") and parts["action"]:
                rest = f"/{parts['path']}" if parts["path"] else ""
                out.add(f"{parts['action']}{rest}")
            else:
                out.add(parts["uses"])
    return sorted(out)

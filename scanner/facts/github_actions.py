"""Facts from GitHub Actions workflows and action metadata: the workflow's triggers and
permissions, each job's runner, permissions and reusable-workflow call, each step's `uses`."""

from __future__ import annotations

import re
from typing import Any

from ..model import Fact
from ..parsers.yaml import Node

_SHA = re.compile(r"^[0-9a-f]{40}$")
_EXPR = re.compile(r"\$\{\{")
# The version kept beside a SHA pin: `# v4.1.1` (Dependabot, Renovate), `# tag=v4`,
# `# pin @v4`, `# ratchet:actions/checkout@v4` (ratchet), `# @v4`.
_REF_COMMENT = re.compile(
    r"^\s*#\s*(?:tag\s*[:=]?\s*|pin\s*|ratchet:[\w./-]+|[\w.-]+/[\w./-]+)?@?\s*"
    r"(v?\d+(?:\.\d+){0,3}(?:-[\w.]+)?)\b"
)


def split_uses(uses: str) -> dict[str, Any]:
    """`owner/repo/path@ref`, `./local`, `docker://image` into their parts."""
    u = uses.strip()
    out: dict[str, Any] = {
        "uses": u,
        "kind": "action",
        "owner": None,
        "repo": None,
        "path": None,
        "action": None,
        "ref": None,
        "sha_pinned": False,
        "dynamic": bool(_EXPR.search(u)),
    }
    if u.startswith("./") or u.startswith("../"):
        out["kind"] = "local"
        out["path"] = u
        return out
    if u.startswith("docker://"):
        out["kind"] = "docker"
        out["path"] = u[len("docker://") :]
        return out
    name, _, ref = u.partition("@")
    parts = name.split("/")
    out["owner"] = parts[0] if parts and parts[0] else None
    out["repo"] = parts[1] if len(parts) > 1 else None
    out["path"] = "/".join(parts[2:]) or None
    out["action"] = f"{parts[0]}/{parts[1]}" if len(parts) > 1 else name
    out["ref"] = ref or None
    out["sha_pinned"] = bool(ref and _SHA.match(ref))
    if out["path"] and out["path"].startswith(".github/workflows/"):
        out["kind"] = "reusable-workflow"
    return out


def _labels(node: Node | None) -> list[str] | None:
    """Runner labels, when statically known: a string, a list, or `{group:, labels:}`."""
    if node is None:
        return None
    v = node.to_python()
    if isinstance(v, dict):  # {group: ..., labels: [...]}
        v = v.get("labels")
    if isinstance(v, str):
        return None if _EXPR.search(v) else [v]
    if isinstance(v, list):
        if any(not isinstance(x, str) or _EXPR.search(x) for x in v):
            return None
        return [str(x) for x in v]
    return None


def _group(node: Node | None) -> str | None:
    """A runner group (`runs-on: {group: large-runners}`), when statically known."""
    v = node.to_python() if node is not None else None
    g = v.get("group") if isinstance(v, dict) else None
    return g if isinstance(g, str) and not _EXPR.search(g) else None


def _triggers(node: Node | None) -> list[str]:
    if node is None:
        return []
    v = node.to_python()
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [str(x) for x in v]
    if isinstance(v, dict):
        return [str(k) for k in v]
    return []


def _ref_comment(lines: list[str] | None, node: Node) -> str | None:
    """The version in a trailing comment after a SHA pin (`@<sha> # v4.1.1`)."""
    if not lines:
        return None
    end = node.raw.end_mark
    if end.line >= len(lines):
        return None
    m = _REF_COMMENT.match(lines[end.line][end.column :])
    return m.group(1) if m else None


def _step_facts(
    path: str,
    steps: Node | None,
    job: str | None,
    workflow: str,
    facts: list[Fact],
    lines: list[str] | None,
) -> None:
    if steps is None or not steps.is_seq:
        return
    for i, step in enumerate(steps.items()):
        if not step.is_map:
            continue
        pair = step.get_pair("uses")
        if pair is None:
            continue
        _key, val = pair
        uses = val.str_value()
        if uses is None:
            continue
        data = split_uses(uses)
        comment = _ref_comment(lines, val) if data["sha_pinned"] else None
        data["ref_comment"] = comment
        data["version"] = comment if data["sha_pinned"] else data["ref"]
        name = step.get("name")
        sid = step.get("id")
        label = (sid.str_value() if sid else None) or f"steps[{i}]"
        data.update(
            workflow=workflow,
            job=job,
            step_index=i,
            step_name=name.str_value() if name else None,
            step_id=sid.str_value() if sid else None,
        )
        target = f"{job}/{label}" if job else label
        facts.append(Fact("gha.step_uses", path, val.span, target, data, {"uses": val.span}))


def extract_workflow(path: str, root: Node, lines: list[str] | None = None) -> list[Fact]:
    facts: list[Fact] = []
    if not root.is_map:
        return facts
    on_pair = root.get_pair("on") or root.get_pair("true")  # YAML 1.1 readers turn on into true
    perms_pair = root.get_pair("permissions")
    name = root.get("name")
    wf_data = {
        "name": name.str_value() if name else None,
        "triggers": _triggers(on_pair[1] if on_pair else None),
        "permissions": perms_pair[1].to_python() if perms_pair else None,
        "permissions_declared": perms_pair is not None,
        "path": path,
    }
    wf_span = (on_pair[0].span if on_pair else root.span)
    facts.append(
        Fact(
            "gha.workflow",
            path,
            wf_span,
            "workflow",
            wf_data,
            {"permissions": perms_pair[0].span if perms_pair else wf_span},
        )
    )
    jobs = root.get("jobs")
    if jobs is None or not jobs.is_map:
        return facts
    for key, job in jobs.items():
        job_id = str(key.raw.value)
        if not job.is_map:
            continue
        runs_on = job.get_pair("runs-on")
        uses = job.get_pair("uses")
        perms = job.get_pair("permissions")
        env = job.get("environment")
        env_v = env.to_python() if env else None
        data: dict[str, Any] = {
            "id": job_id,
            "workflow": path,
            "runs_on": _labels(runs_on[1]) if runs_on else None,
            "runs_on_group": _group(runs_on[1]) if runs_on else None,
            "runs_on_raw": runs_on[1].to_python() if runs_on else None,
            "permissions": perms[1].to_python() if perms else None,
            "permissions_declared": perms is not None,
            "environment": env_v.get("name") if isinstance(env_v, dict) else env_v,
            "uses": None,
            "reusable": None,
        }
        spans = {"id": key.span}
        if runs_on:
            spans["runs_on"] = runs_on[1].span
        if perms:
            spans["permissions"] = perms[0].span
        if uses:
            u = uses[1].str_value() or ""
            data["uses"] = u
            data["reusable"] = split_uses(u)
            spans["uses"] = uses[1].span
        facts.append(Fact("gha.job", path, key.span, f"jobs.{job_id}", data, spans))
        _step_facts(path, job.get("steps"), job_id, path, facts, lines)
    return facts


def extract_action(path: str, root: Node, lines: list[str] | None = None) -> list[Fact]:
    """Action metadata (action.yml): composite steps' `uses`, and the action's runtime."""
    facts: list[Fact] = []
    if not root.is_map:
        return facts
    runs = root.get("runs")
    if runs is None or not runs.is_map:
        return facts
    using = runs.get_pair("using")
    image = runs.get("image")
    name = root.get("name")
    data = {
        "using": using[1].str_value() if using else None,
        "image": image.str_value() if image else None,
        "name": name.str_value() if name else None,
    }
    facts.append(
        Fact("gha.action", path, using[0].span if using else root.span, "action", data)
    )
    _step_facts(path, runs.get("steps"), None, path, facts, lines)
    return facts

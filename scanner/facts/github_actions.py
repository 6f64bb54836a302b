"""Facts from GitHub Actions workflows and action metadata: the workflow's triggers and
permissions, each job's runner, permissions, environment and reusable-workflow call, each
`permissions` block, every `uses` (a step's action, or a job's reusable-workflow call) with
its `with:` inputs and the triggers of the workflow it runs in, and every container image a
run pulls (`docker://` steps, a job's container and services, a Docker action's image)."""

from __future__ import annotations

import re
from typing import Any

from ..model import Fact, Span
from ..parsers.yaml import Node
from .kubernetes import image_data

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


def _inputs(node: Node | None, spans: dict[str, Span]) -> dict[str, str | None]:
    """`with:` inputs as written (scalars as their text: inputs are strings to the action),
    null for a value that is not a scalar; each value's span under `with.<name>`."""
    out: dict[str, str | None] = {}
    if node is None or not node.is_map:
        return out
    for k, v in node.items():
        if not k.is_scalar:
            continue
        name = str(k.raw.value)
        out[name] = v.str_value() if v.is_scalar and v.to_python() is not None else None
        spans[f"with.{name}"] = v.span
    return out


def _uses_fact(
    path: str,
    val: Node,
    step: Node,
    lines: list[str] | None,
    ctx: dict[str, Any],
    target: str,
) -> Fact | None:
    """One `uses` (a step's, or a job's reusable-workflow call) with its inputs."""
    uses = val.str_value()
    if uses is None:
        return None
    data = split_uses(uses)
    comment = _ref_comment(lines, val) if data["sha_pinned"] else None
    data["ref_comment"] = comment
    data["version"] = comment if data["sha_pinned"] else data["ref"]
    spans: dict[str, Span] = {"uses": val.span}
    with_pair = step.get_pair("with")
    if with_pair:
        spans["with"] = with_pair[0].span
    data["with"] = _inputs(with_pair[1] if with_pair else None, spans)
    data.update(ctx)
    return Fact("gha.step_uses", path, val.span, target, data, spans)


def _step_facts(
    path: str,
    steps: Node | None,
    job: str | None,
    workflow: str,
    facts: list[Fact],
    lines: list[str] | None,
    triggers: list[str] | None = None,
) -> None:
    if steps is None or not steps.is_seq:
        return
    for i, step in enumerate(steps.items()):
        if not step.is_map:
            continue
        pair = step.get_pair("uses")
        if pair is None:
            continue
        name = step.get("name")
        sid = step.get("id")
        label = (sid.str_value() if sid else None) or f"steps[{i}]"
        ctx = {
            "site": "step",
            "workflow": workflow,
            "job": job,
            "step_index": i,
            "step_name": name.str_value() if name else None,
            "step_id": sid.str_value() if sid else None,
            "triggers": triggers,
        }
        target = f"{job}/{label}" if job else label
        fact = _uses_fact(path, pair[1], step, lines, ctx, target)
        if fact is not None:
            facts.append(fact)
            if fact.data["kind"] == "docker":
                ref = {"step_index": i, "step_name": ctx["step_name"]}
                facts.append(_image_fact(path, pair[1], fact.data["path"], "step", job, ref))


def _image_fact(
    path: str,
    node: Node,
    image: str,
    via: str,
    job: str | None,
    ref: dict[str, Any],
    target: str | None = None,
) -> Fact:
    """A container image the run pulls and runs: a `docker://` step, a job's container or
    service, a Docker action's image."""
    data: dict[str, Any] = {
        "via": via,
        "workflow": path,
        "job": job,
        "service": None,
        "step_index": None,
        "step_name": None,
        **ref,
        **image_data(image.strip()),
    }
    if target is None:
        label = f"steps[{data['step_index']}]"
        target = f"{job}/{label}/image" if job else f"{label}/image"
    return Fact("gha.image", path, node.span, target, data, {"image": node.span})


def _job_images(path: str, job_id: str, job: Node, facts: list[Fact]) -> None:
    """The job's `container:` (an image, or a map with `image:`) and its `services:`."""
    container = job.get("container")
    if container is not None:
        found = _image_node(container if container.is_scalar else container.get("image"))
        if found is not None:
            where = f"jobs.{job_id}.container"
            facts.append(_image_fact(path, *found, "container", job_id, {}, where))
    services = job.get("services")
    if services is None or not services.is_map:
        return
    for key, svc in services.items():
        found = _image_node(svc.get("image") if svc.is_map else None)
        if found is not None:
            name = str(key.raw.value)
            where = f"jobs.{job_id}.services.{name}"
            facts.append(_image_fact(path, *found, "service", job_id, {"service": name}, where))


def _image_node(node: Node | None) -> tuple[Node, str] | None:
    """An `image:` that names an image: a scalar, not null."""
    if node is None or not node.is_scalar or node.to_python() is None:
        return None
    image = node.str_value()
    return None if image is None else (node, image)


def _static(v: Any) -> Any:
    """A string holding a `${{ }}` expression is not statically known: null."""
    return None if isinstance(v, str) and _EXPR.search(v) else v


def _write_scopes(perms: Any) -> list[str] | None:
    """Scopes a permissions value grants write: `["*"]` for write-all, the map's write
    scopes, none for read-all and `{}`; null for anything else (not a valid value)."""
    if perms == "write-all":
        return ["*"]
    if perms == "read-all":
        return []
    if isinstance(perms, dict):
        return sorted(str(k) for k, v in perms.items() if v == "write")
    return None


def _permissions_fact(
    path: str,
    pair: tuple[Node, Node] | None,
    anchor: Span,
    level: str,
    job: str | None,
    triggers: list[str],
    jobs_key: Span | None = None,
    inheriting: list[str] | None = None,
) -> Fact:
    perms = pair[1].to_python() if pair else None
    data = {
        "level": level,
        "workflow": path,
        "job": job,
        "declared": pair is not None,
        "permissions": perms,
        "write_scopes": _write_scopes(perms) if pair else None,
        "triggers": triggers,
        "jobs_inheriting": inheriting or [],
    }
    span = pair[0].span if pair else anchor
    target = f"jobs.{job}.permissions" if job else "permissions"
    spans = {"permissions": span}
    if jobs_key is not None:
        spans["jobs_key"] = jobs_key
    return Fact("gha.permissions", path, span, target, data, spans)


def extract_workflow(path: str, root: Node, lines: list[str] | None = None) -> list[Fact]:
    facts: list[Fact] = []
    if not root.is_map:
        return facts
    on_pair = root.get_pair("on") or root.get_pair("true")  # YAML 1.1 readers turn on into true
    perms_pair = root.get_pair("permissions")
    name = root.get("name")
    triggers = _triggers(on_pair[1] if on_pair else None)
    wf_data = {
        "name": name.str_value() if name else None,
        "triggers": triggers,
        "permissions": perms_pair[1].to_python() if perms_pair else None,
        "permissions_declared": perms_pair is not None,
        "path": path,
    }
    wf_span = on_pair[0].span if on_pair else root.span
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
    jobs_pair = root.get_pair("jobs")
    facts.append(
        _permissions_fact(
            path,
            perms_pair,
            wf_span,
            "workflow",
            None,
            triggers,
            # where a remedy adds `permissions:`
            jobs_pair[0].span if jobs_pair is not None and perms_pair is None else None,
            # the jobs the top level applies to (no permissions of their own; a job that is
            # not a mapping counts): what a top-level `contents: read` narrows
            sorted(
                str(k.raw.value)
                for k, job in jobs_pair[1].items()
                if not job.is_map or job.get_pair("permissions") is None
            )
            if jobs_pair is not None and jobs_pair[1].is_map
            else [],
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
        env_pair = job.get_pair("environment")
        env_v = env_pair[1].to_python() if env_pair else None
        job_name = job.get("name")
        data: dict[str, Any] = {
            "id": job_id,
            "name": _static(job_name.str_value()) if job_name else None,
            "workflow": path,
            "triggers": triggers,
            "runs_on": _labels(runs_on[1]) if runs_on else None,
            "runs_on_group": _group(runs_on[1]) if runs_on else None,
            "runs_on_raw": runs_on[1].to_python() if runs_on else None,
            "permissions": perms[1].to_python() if perms else None,
            "permissions_declared": perms is not None,
            "environment": _static(env_v.get("name") if isinstance(env_v, dict) else env_v),
            "environment_declared": env_pair is not None and env_v is not None,
            "uses": None,
            "reusable": None,
        }
        spans = {"id": key.span}
        if runs_on:
            spans["runs_on"] = runs_on[1].span
        if perms:
            spans["permissions"] = perms[0].span
            facts.append(_permissions_fact(path, perms, key.span, "job", job_id, triggers))
        if env_pair:
            spans["environment"] = env_pair[0].span
        if uses:
            u = uses[1].str_value() or ""
            data["uses"] = u
            data["reusable"] = split_uses(u)
            spans["uses"] = uses[1].span
        facts.append(Fact("gha.job", path, key.span, f"jobs.{job_id}", data, spans))
        if uses:
            ctx = {
                "site": "job",
                "workflow": path,
                "job": job_id,
                "step_index": None,
                "step_name": None,
                "step_id": None,
                "triggers": triggers,
            }
            fact = _uses_fact(path, uses[1], job, lines, ctx, f"jobs.{job_id}.uses")
            if fact is not None:
                facts.append(fact)
        _job_images(path, job_id, job, facts)
        _step_facts(path, job.get("steps"), job_id, path, facts, lines, triggers)
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
    facts.append(Fact("gha.action", path, using[0].span if using else root.span, "action", data))
    img = data["image"]
    if image is not None and isinstance(img, str) and img.strip().startswith("docker://"):
        ref = img.strip()[len("docker://") :]
        facts.append(_image_fact(path, image, ref, "action", None, {}, "action.image"))
    _step_facts(path, runs.get("steps"), None, path, facts, lines)
    return facts

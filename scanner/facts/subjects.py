"""What a finding is *about*: the value a rule judged (an action, an image, a module or provider
source, a host...), as one short string per fact kind.

A finding's identity across a pull request (new, fixed or unchanged) and an exception's reach
both include the subject: replacing existing debt with another value at the same place (a
different action, image or module on the same line) is a new finding, never "unchanged", and
an exception approved for one image does not cover its replacement. Versions and tags are left
out on purpose: bumping `actions/checkout@v3` to `@v4` keeps the subject, swapping the action
for another does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Data = Mapping[str, Any]


def _first(*fields: str) -> Callable[[Data], str]:
    def get(d: Data) -> str:
        for f in fields:
            v = d.get(f)
            if isinstance(v, str) and v:
                return v
            if isinstance(v, list) and v:
                return ",".join(str(x) for x in v)
        return ""

    return get


def _image(d: Data) -> str:
    # registry/repository of a valid reference, else the reference as written
    name = d.get("name") if d.get("image_valid") else None
    return str(name or d.get("image") or "")


def _uses(d: Data) -> str:
    if d.get("kind") in ("docker", "local"):
        return str(d.get("path") or d.get("uses") or "")
    action = str(d.get("action") or "")
    path = d.get("path")
    return f"{action}/{path}" if path else action


_SUBJECTS: dict[str, Callable[[Data], str]] = {
    "tf.required_provider": _first("source"),
    "tf.provider": _first("source", "name"),
    "tf.module_call": _first("module", "source", "source_raw"),
    "tf.backend": _first("type"),
    "gha.step_uses": _uses,
    "gha.action": _first("image", "using"),
    "gha.job": _first("runs_on"),
    "k8s.container": _image,
    "docker.from": _image,
    "gha.image": _image,
    "env.var": _first("host", "secret_name", "name"),
    "repo.tool": _first("tool"),
    "repo.template": _first("template"),
    "tether.exception": _first("rule"),
}


def register(kind: str, get: Callable[[Data], str]) -> None:
    """For fact kinds defined outside this module (tests, plug-ins)."""
    _SUBJECTS[kind] = get


def subject(kind: str, data: Data) -> str:
    """The judged value of a fact, or '' when its kind has none (the target says it all)."""
    get = _SUBJECTS.get(kind)
    if get is None:
        return ""
    try:
        return get(data)
    except Exception:  # a fact shaped unexpectedly has no subject, never a crash
        return ""

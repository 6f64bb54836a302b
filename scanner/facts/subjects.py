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

from collections.abc import Callable, Collection, Mapping
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


_IMAGE_FIELDS = ("image", "name", "registry", "repository", "image_valid", "image_raw")
# kind -> (the fields that carry the subject, how to read it). A rule has the subject in its
# findings' identity only when it judges one of those fields: swapping the image of a container
# is new debt for the registry rule, not for the rule about its resource limits.
_SUBJECTS: dict[str, tuple[tuple[str, ...], Callable[[Data], str]]] = {
    "tf.required_provider": (
        ("source", "hostname", "namespace", "type", "name"),
        _first("source"),
    ),
    "tf.provider": (("source", "name"), _first("source", "name")),
    "tf.module_call": (
        (
            "source",
            "source_raw",
            "source_type",
            "module",
            "registry",
            "namespace",
            "module_name",
            "target_system",
            "git_repo",
        ),
        _first("module", "source", "source_raw"),
    ),
    "tf.backend": (("type",), _first("type")),
    "gha.step_uses": (("uses", "kind", "owner", "repo", "path", "action"), _uses),
    "gha.action": (("image", "using"), _first("image", "using")),
    "gha.job": (("runs_on", "runs_on_raw", "runs_on_group"), _first("runs_on")),
    "k8s.container": (_IMAGE_FIELDS, _image),
    "k8s.kustomize_image": (_IMAGE_FIELDS, _image),
    "k8s.kustomize_resource": (("resource", "remote", "host"), _first("resource")),
    "docker.from": (_IMAGE_FIELDS, _image),
    "gha.image": (_IMAGE_FIELDS, _image),
    "env.var": (("host", "value", "secret_name"), _first("host", "secret_name", "name")),
    "repo.tool": (("tool",), _first("tool")),
    "repo.template": (("template",), _first("template")),
}


def register(kind: str, fields: tuple[str, ...], get: Callable[[Data], str]) -> None:
    """For fact kinds defined outside this module (tests, plug-ins)."""
    _SUBJECTS[kind] = (fields, get)


def subject(kind: str, data: Data, reads: Collection[str] | None = None) -> str:
    """The judged value of a fact, or '' when its kind has none (the target says it all) or
    the rule (`reads`: the fact fields its condition reads) does not judge it."""
    entry = _SUBJECTS.get(kind)
    if entry is None:
        return ""
    fields, get = entry
    if reads is not None and not any(f in reads for f in fields):
        return ""
    try:
        return get(data)
    except Exception:  # a fact shaped unexpectedly has no subject, never a crash
        return ""

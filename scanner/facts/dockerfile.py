"""Facts from Dockerfiles: each `FROM` base image, and every other image a build reads (the
`# syntax=` frontend, `COPY --from=IMAGE`, `RUN --mount=...,from=IMAGE`, and both as ONBUILD
triggers), split like any container image. They are one kind, `docker.from`, told apart by
`via`: a frontend runs the build, an image copied from or mounted into it runs or ships as much
foreign code as a base image, and the same approval rules judge them."""

from __future__ import annotations

import re
from typing import Any

from ..imageref import parse_image
from ..model import Fact
from ..parsers.dockerfile import DockerfileDocument
from .kubernetes import image_data

_VARIABLE = re.compile(r"\$|\{\{")


def _image(image: str, unresolved: bool) -> dict[str, Any]:
    """``image_data``, and for an image only whose tag or digest is still a build argument
    (``registry.example/team/app:${TAG}@${SHA}``) the registry, repository and name, which
    are then literal: DOCKER001 judges them."""
    data = image_data(image)
    if unresolved and not data["image_valid"]:
        name = literal_name(image)
        if name is not None:
            ref = parse_image(name)
            data.update(registry=ref.registry, repository=ref.repository, name=ref.name)
    return data


def literal_name(image: str) -> str | None:
    """The name of ``image`` (without tag or digest) when no variable can change it, else None.

    The name is literal when the text before the first variable ends it with ``@`` (a digest
    holds no ``/``) or with the tag's ``:`` after a ``/`` (a tag holding ``/`` then makes the
    reference invalid). In ``node:${TAG}`` a value ``5000/x`` would turn ``node:5000`` into a
    registry, so a one-component name followed by a variable tag is not literal."""
    m = _VARIABLE.search(image)
    prefix = image if m is None else image[: m.start()]
    at = prefix.find("@")
    if at >= 0:
        name = prefix[:at]
    else:
        colon, slash = prefix.rfind(":"), prefix.rfind("/")
        if slash < 0 or colon < slash:
            return None
        name = prefix[:colon]
    try:
        ref = parse_image(name)
    except ValueError:
        return None
    return name if ref.tag is None and ref.digest is None else None


def extract(doc: DockerfileDocument) -> list[Fact]:
    facts: list[Fact] = []
    if doc.syntax is not None:
        facts.append(_syntax(doc))
    aliases: set[str] = set()
    last = len(doc.froms) - 1
    for f in doc.froms:
        stage_ref = f.image.lower() in aliases
        scratch = f.image == "scratch"
        data: dict[str, Any] = {
            "via": "from",
            "platform": f.platform,
            "alias": f.alias,
            "stage_index": f.stage_index,
            "final_stage": f.stage_index == last,
            "stage_ref": stage_ref,
            "scratch": scratch,
            "unresolved": f.unresolved,
            "image_raw": f.image_raw,
        }
        data.update(_image(f.image, f.unresolved))
        if stage_ref or scratch:
            data["image_valid"] = False
        target = f"stage[{f.alias or f.stage_index}]"
        facts.append(
            Fact("docker.from", doc.path, f.image_span, target, data, {"image": f.image_span})
        )
        if f.alias:
            aliases.add(f.alias.lower())
    counts: dict[tuple[int, str], int] = {}
    for u in doc.image_uses:
        stage = doc.froms[u.stage_index]
        n = counts.get((u.stage_index, u.via), 0)
        counts[(u.stage_index, u.via)] = n + 1
        scratch = u.image == "scratch"
        data = {
            "via": u.via,
            "platform": None,
            "alias": stage.alias,
            "stage_index": u.stage_index,
            "final_stage": u.stage_index == last,
            "stage_ref": False,
            "scratch": scratch,
            "unresolved": u.unresolved,
            "image_raw": u.image_raw,
        }
        data.update(_image(u.image, u.unresolved))
        if scratch:
            data["image_valid"] = False
        target = f"stage[{stage.alias or u.stage_index}]/{u.via}[{n}]"
        facts.append(
            Fact("docker.from", doc.path, u.image_span, target, data, {"image": u.image_span})
        )
    return facts


def _syntax(doc: DockerfileDocument) -> Fact:
    """The frontend image BuildKit pulls and runs for the build (`# syntax=`): no stage."""
    u = doc.syntax
    assert u is not None
    data: dict[str, Any] = {
        "via": "syntax",
        "platform": None,
        "alias": None,
        "stage_index": None,
        "final_stage": False,
        "stage_ref": False,
        "scratch": False,
        "unresolved": False,
        "image_raw": u.image_raw,
    }
    data.update(_image(u.image, u.unresolved))
    return Fact("docker.from", doc.path, u.image_span, "syntax", data, {"image": u.image_span})

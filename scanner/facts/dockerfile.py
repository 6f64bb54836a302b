"""Facts from Dockerfiles: each `FROM` base image, and every other image a build reads (the
`# syntax=` frontend, `COPY --from=IMAGE`, `RUN --mount=...,from=IMAGE`, and both as ONBUILD
triggers), split like any container image. They are one kind, `docker.from`, told apart by
`via`: a frontend runs the build, an image copied from or mounted into it runs or ships as much
foreign code as a base image, and the same approval rules judge them."""

from __future__ import annotations

from typing import Any

from ..model import Fact
from ..parsers.dockerfile import DockerfileDocument
from .kubernetes import image_data


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
        data.update(image_data(f.image))
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
        data.update(image_data(u.image))
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
    data.update(image_data(u.image))
    return Fact("docker.from", doc.path, u.image_span, "syntax", data, {"image": u.image_span})

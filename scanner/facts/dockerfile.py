"""Facts from Dockerfiles: each `FROM` base image, split like any container image."""

from __future__ import annotations

from ..model import Fact
from ..parsers.dockerfile import DockerfileDocument
from .kubernetes import image_data


def extract(doc: DockerfileDocument) -> list[Fact]:
    facts: list[Fact] = []
    aliases: set[str] = set()
    last = len(doc.froms) - 1
    for f in doc.froms:
        stage_ref = f.image.lower() in aliases
        scratch = f.image == "scratch"
        data = {
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
    return facts

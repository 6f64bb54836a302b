"""Baselines: the golden path as values, layered with `extends:`, each value remembering the
file and line that set it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model import BaselineRef
from ..parsers.yaml import Node
from ..redact import clip, redact
from .documents import line_of, load_yaml, validate

REF_VALUE_CHARS = 120  # a value quoted in a finding (BaselineRef.value): one short line
_UNSET = object()


@dataclass(frozen=True)
class Baseline:
    data: dict[str, Any]
    files: tuple[str, ...]  # layers, in application order (base first)
    provenance: dict[tuple[str, ...], tuple[str, int]]

    def ref(self, dotted: str) -> BaselineRef | None:
        """Where the value at `a.b.c` (or its nearest set ancestor) came from, with that value
        as `tether baseline show` prints it (JSON), redacted, then clipped to REF_VALUE_CHARS.
        A key may hold dots itself (`actions.minimum.acme/ci/.github/workflows/deploy.yml`):
        the dotted path is matched against the joined key paths, longest first."""
        parts = dotted.split(".")
        joined = self._joined_keys
        for n in range(len(parts), 0, -1):
            key = joined.get(".".join(parts[:n]))
            if key is not None:
                ref = self._refs.get(key)
                if ref is None:  # rendered once per key, however many findings read it
                    file, line = self.provenance[key]
                    node: Any = self.data
                    for k in key:  # provenance keys are str(key): YAML may say 1.31 or true
                        node = (
                            next((v for kk, v in node.items() if str(kk) == k), _UNSET)
                            if isinstance(node, dict)
                            else _UNSET
                        )
                    shown = (
                        "(not set)"
                        if node is _UNSET
                        else json.dumps(node, ensure_ascii=False, default=str)
                    )
                    value = clip(redact(shown), REF_VALUE_CHARS)
                    ref = self._refs[key] = BaselineRef(".".join(key), file, line, value, file)
                return ref
        return None

    @cached_property
    def _refs(self) -> dict[tuple[str, ...], BaselineRef]:
        return {}

    @cached_property
    def _joined_keys(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for key in sorted(self.provenance, key=len):  # the shallowest path wins a tie
            out.setdefault(".".join(key), key)
        return out

    @property
    def exception_files(self) -> list[str]:
        """Central exception registries named by the baseline layers (`exceptions:`),
        resolved relative to the layer that names them."""
        return [str(p) for p in self.data.get("_exception_files", [])]

    def rule_settings(self, rule_id: str) -> dict[str, Any]:
        rules = self.data.get("rules") or {}
        settings = rules.get(rule_id) or {}
        return dict(settings)


def _record(
    node: Node | None,
    shown: str,
    prefix: tuple[str, ...],
    out: dict[tuple[str, ...], tuple[str, int]],
) -> None:
    if node is None or not node.is_map:
        return
    for k, v in node.items():
        key = (*prefix, str(k.raw.value))
        out[key] = (shown, k.line)
        if v.is_map:
            _record(v, shown, key, out)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; anything else (lists included) is replaced by the overlay,
    so a team overlay states its whole list and a reader never has to compute a union."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _drop_provenance_under(
    prov: dict[tuple[str, ...], tuple[str, int]], key: tuple[str, ...]
) -> None:
    for k in [k for k in prov if len(k) > len(key) and k[: len(key)] == key]:
        del prov[k]


def embedded_dir() -> Path:
    """The baselines shipped with tether (inside the wheel, or beside the package in a checkout)."""
    here = Path(__file__).resolve().parent.parent
    for cand in (here / "_data" / "baselines", here.parent / "baselines"):
        if cand.is_dir():
            return cand
    raise ConfigError(
        "baselines", None, "tether's embedded baselines are missing from this install"
    )


def resolve_name(name: str, relative_to: Path | None, line: int | None = None) -> Path:
    """`default` and other bare names come from the embedded baselines; paths are relative to
    the file that names them."""
    if relative_to is not None:
        cand = relative_to.parent / name
        for c in (cand, cand.with_suffix(".yml"), cand.with_suffix(".yaml")):
            if c.is_file():
                return c
    p = Path(name)
    if p.is_file():
        return p
    emb = embedded_dir()
    for c in (emb / name, emb / f"{name}.yml", emb / f"{name}.yaml"):
        if c.is_file():
            return c
    names = sorted(p.stem for p in emb.glob("*.y*ml"))
    import difflib  # (only on this error path)

    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    raise ConfigError(
        str(relative_to) if relative_to else name,
        line,
        f"baseline {name!r} not found: not a file"
        + (f" beside {relative_to.name}" if relative_to else "")
        + f", nor an embedded baseline ({', '.join(names)})"
        + (f"; did you mean {close[0]}?" if close else ""),
    )


def _display(p: Path) -> str:
    emb = embedded_dir()
    try:
        return "<embedded>/" + str(p.resolve().relative_to(emb.resolve()))
    except ValueError:
        pass
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def load(names: list[str]) -> Baseline:
    """Load and layer baselines; later names override earlier ones."""
    data: dict[str, Any] = {}
    prov: dict[tuple[str, ...], tuple[str, int]] = {}
    files: list[str] = []
    seen: set[Path] = set()

    def apply(path: Path, stack: tuple[Path, ...]) -> None:
        nonlocal data
        real = path.resolve()
        shown = _display(path)
        if real in stack:
            raise ConfigError(shown, None, "baseline extends itself (cycle)")
        if real in seen:
            return
        layer, root = load_yaml(path, shown)
        if layer is None:
            layer = {}
        if not isinstance(layer, dict):
            raise ConfigError(shown, 1, "a baseline must be a YAML mapping")
        validate("baseline", layer, root, shown)
        parents = layer.get("extends") or []
        listed = [parents] if isinstance(parents, str) else parents
        for i, parent in enumerate(listed):
            at = line_of(root, ["extends"] if isinstance(parents, str) else ["extends", i])
            apply(resolve_name(parent, path, at), (*stack, real))
        seen.add(real)
        body = {
            k: v
            for k, v in layer.items()
            if k not in ("extends", "name", "description", "exceptions")
        }
        # central exception registries live beside the baseline that names them
        for name in layer.get("exceptions") or []:
            found = path.parent / name
            if not found.is_file():
                raise ConfigError(shown, None, f"exceptions file {name!r} not found")
            data.setdefault("_exception_files", [])
            data["_exception_files"] = [*data["_exception_files"], str(found)]
        # a list or scalar replaced by this layer: forget where its old elements came from
        for k, v in body.items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    if not isinstance(vv, dict):
                        _drop_provenance_under(prov, (k, kk))
        data = _merge(data, body)
        _record(root, shown, (), prov)
        files.append(shown)

    for n in names:
        apply(resolve_name(n, None), ())
    return Baseline(data, tuple(files), prov)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./@*-]*")


def show(baseline: Baseline) -> str:
    """The merged baseline as YAML (values as JSON flow, which YAML reads), each key with a
    comment naming the file and line that set it: what `tether baseline show` prints."""
    lines = ["# the effective baseline; layers, base first: " + ", ".join(baseline.files)]

    def key_text(k: Any) -> str:
        text = str(k)
        return text if _PLAIN_KEY.fullmatch(text) else json.dumps(text, ensure_ascii=False)

    def emit(node: dict[str, Any], path: tuple[str, ...], depth: int) -> None:
        for k, v in node.items():
            if depth == 0 and str(k).startswith("_"):
                continue
            here = (*path, str(k))
            src = baseline.provenance.get(here)
            note = f"  # {src[0]}:{src[1]}" if src else ""
            pad = "  " * depth
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{key_text(k)}:{note}")
                emit(v, here, depth + 1)
            else:
                value = json.dumps(v, ensure_ascii=False, default=str)
                lines.append(f"{pad}{key_text(k)}: {value}{note}")

    emit(baseline.data, (), 0)
    return "\n".join(lines) + "\n"

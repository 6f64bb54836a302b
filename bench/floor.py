#!/usr/bin/env python3
"""The parse floor of a tether scan: tether's own parsers on the files a scan parses, and
nothing else.

Usage::

    python bench/floor.py CORPUS [--output FILE] [--gc tether|default]

In one process, this discovers files as ``tether scan CORPUS --root CORPUS`` does
(``scanner.source.walk`` from the corpus root, no excludes), reads and decodes each one as
the scan does (``scanner.source.read``, ``scanner.parsers.text.decode``; Git LFS pointers
and undecodable files skipped), and then runs only the parser entry points that
the scan module's ``facts_for`` times as ``parse``, with the same cheap gates in front of them:

* Terraform: ``parsers.terraform.parse_native`` / ``parse_json`` and ``release()`` (the
  syntax tree's freeing, which the scan counts as parsing too);
* YAML and JSON (``yaml``, ``json``, ``gha-workflow``, ``gha-action``):
  ``parsers.yaml.compose_each(kubectl_documents(text))``, or ``facts.kubernetes.read_json``
  for JSON text, after the same pre-checks the scan makes for plain ``yaml``/``json``
  files (a kustomization by name, ``may_hold_manifest``, ``may_set_image``): a file the
  scan does not compose is not composed here either;
* Dockerfiles: ``parsers.dockerfile.parse``.

No facts are extracted, no rules loaded, no policy evaluated. Each call is timed as the
scan's ``_timed`` does, and the parse seconds are printed (or written as JSON with
``--output``), with the discover and read times, by kind. The cycle collector runs at the
thresholds the scan sets while it parses (the scan module's ``_GC_THRESHOLDS``) unless
``--gc default``. The scan module is ``scanner.scanning``, or ``scanner.scan`` in tether
before that rename (``bench/perf.py --rev`` may measure either).

Not modelled: files that a kustomization lists under a name tether does not read as YAML
(the scan parses those too); the generated corpora have none.

Standard library plus tether itself; bench/perf.py runs this as a child process.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import posixpath
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

try:
    import scanner  # noqa: F401 - the installed tether, if any
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(REPO_ROOT))

from scanner.facts import kubernetes  # noqa: E402
from scanner.model import Diagnostic  # noqa: E402
from scanner.parsers import dockerfile as docker_parser  # noqa: E402
from scanner.parsers import terraform as tf_parser  # noqa: E402
from scanner.parsers import yaml as yaml_parser  # noqa: E402
from scanner.parsers.text import decode  # noqa: E402
from scanner.source import SourceFile, read, walk  # noqa: E402


def _scan_module() -> Any:
    """The scan pipeline's module: `scanner.scanning`, `scanner.scan` before the rename (there
    the package's `scan` attribute is the function, hence import_module)."""
    for name in ("scanner.scanning", "scanner.scan"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    raise ImportError("tether's scan module (scanner.scanning or scanner.scan) is missing")


scan_mod = _scan_module()

YAML_KINDS = ("yaml", "json", "gha-workflow", "gha-action")
DEFAULT_GC = (50_000, 20, 10)


def gc_thresholds() -> tuple[int, int, int]:
    """The thresholds a scan sets while parsing (falls back to the value it had)."""
    value = getattr(scan_mod, "_GC_THRESHOLDS", DEFAULT_GC)
    return (int(value[0]), int(value[1]), int(value[2]))


class Floor:
    def __init__(self) -> None:
        self.parse_s = 0.0
        self.by_kind: dict[str, dict[str, float]] = {}
        self.skipped_by_gate = 0
        self.errors = 0

    def timed(self, kind: str, size: int, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        try:
            return fn()
        finally:
            dt = time.perf_counter() - t
            self.parse_s += dt
            slot = self.by_kind.setdefault(kind, {"files": 0, "bytes": 0, "parse_s": 0.0})
            slot["parse_s"] += dt
            slot["files"] += 1
            slot["bytes"] += size

    def parse(self, sf: SourceFile, text: str, size: int) -> None:
        """The parser calls ``facts_for`` makes (and times as parse) for this file."""
        k = sf.kind
        if k in ("terraform", "terraform-json"):
            fn = tf_parser.parse_json if k == "terraform-json" else tf_parser.parse_native
            doc = self.timed(k, size, lambda: fn(sf.path, text))
            self.errors += len(doc.diagnostics)
            self.timed(k, 0, doc.release)
            self.by_kind[k]["files"] -= 1  # release is part of the same file
        elif k in YAML_KINDS:
            kustomization = posixpath.basename(sf.path) in kubernetes.KUSTOMIZATION_NAMES
            as_json = k == "json" and kubernetes.is_json_text(text)
            if (
                k in ("yaml", "json")
                and not kustomization
                and not kubernetes.may_hold_manifest(text, as_json)
                and not kubernetes.may_set_image(text, as_json)
            ):
                self.skipped_by_gate += 1
                return
            if as_json:
                _, errs = self.timed(k, size, lambda: kubernetes.read_json(text))
            else:
                try:
                    _, errs = self.timed(
                        k,
                        size,
                        lambda: yaml_parser.compose_each(yaml_parser.kubectl_documents(text)),
                    )
                except yaml_parser.YamlError as e:
                    errs = [e]
            self.errors += len(errs)
        elif k == "dockerfile":
            ddoc = self.timed(k, size, lambda: docker_parser.parse(sf.path, text))
            self.errors += len(ddoc.diagnostics)
        # presence/template files: regular expressions only, no parser


def run(corpus: Path, gc_mode: str = "tether") -> dict[str, Any]:
    start = time.perf_counter()
    files: list[SourceFile] = []
    for item in walk(corpus):
        if not isinstance(item, Diagnostic):
            files.append(item)
    discover_s = time.perf_counter() - start
    floor = Floor()
    read_s = 0.0
    n_files = n_bytes = 0
    saved = gc.get_threshold()
    if gc_mode == "tether":
        gc.set_threshold(*gc_thresholds())
    try:
        for sf in files:
            t = time.perf_counter()
            data = read(sf)
            if isinstance(data, Diagnostic):
                read_s += time.perf_counter() - t
                continue
            n_files += 1
            n_bytes += len(data)
            if scan_mod._lfs_pointer(data):
                read_s += time.perf_counter() - t
                continue
            try:
                text = decode(data)
            except UnicodeDecodeError:
                read_s += time.perf_counter() - t
                continue
            read_s += time.perf_counter() - t
            try:
                floor.parse(sf, text, len(data))
            except Exception as e:  # as the scan does: a parser bug is one file's problem
                print(f"floor: {sf.path}: {type(e).__name__}: {e}", file=sys.stderr)
                floor.errors += 1
    finally:
        gc.set_threshold(*saved)
    total_s = time.perf_counter() - start
    return {
        "corpus": str(corpus),
        "files": n_files,
        "bytes": n_bytes,
        "parsed_files": sum(int(v["files"]) for v in floor.by_kind.values()),
        "skipped_by_gate": floor.skipped_by_gate,
        "parse_errors": floor.errors,
        "timings": {
            "discover": discover_s,
            "read": read_s,
            "parse": floor.parse_s,
            "total": total_s,
            "files": n_files,
            "bytes": n_bytes,
        },
        "by_kind": floor.by_kind,
        "gc": list(gc_thresholds()) if gc_mode == "tether" else list(saved),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tether's parsers alone on a corpus.")
    parser.add_argument("corpus", type=Path, help="the directory a scan would be given")
    parser.add_argument("--output", type=Path, help="write the result as JSON to FILE")
    parser.add_argument(
        "--gc",
        choices=("tether", "default"),
        default="tether",
        help="cycle collector thresholds while parsing: the scan's (default) or Python's",
    )
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"{args.corpus}: not a directory")
    result = run(Path(os.path.realpath(args.corpus)), args.gc)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    t = result["timings"]
    print(
        f"parse {t['parse']:.4f} s  (discover {t['discover']:.4f} s, read {t['read']:.4f} s, "
        f"total {t['total']:.4f} s; {result['parsed_files']} of {result['files']} files parsed, "
        f"{result['bytes'] / 1024:.1f} KiB read)"
    )
    for kind, v in sorted(result["by_kind"].items()):
        print(
            f"  {kind:<14} {int(v['files']):5d} files {v['bytes'] / 1024:9.1f} KiB "
            f"{v['parse_s']:8.4f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

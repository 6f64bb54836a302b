#!/usr/bin/env python3
"""Issue 11: one file at the size cap (5 MiB, scanner/source.py MAX_FILE_BYTES), of each kind
and of the shapes that cost most, scanned alone: wall time and peak RSS against the goal
(under 3 s and 250 MB each).

Usage::

    python bench/cap.py [--tether PATH] [--only NAME,...] [--results PATH] [--jobs N]

Each case is written once under ``bench/.work/cap/<name>/`` (deterministic), then scanned
with ``tether scan DIR --root DIR --format json --output F --no-cache -j 1`` through
bench/run.py's fork + ``wait4`` launcher (wall from fork to reap, peak RSS of the process).
A table is printed; every run goes to ``--results`` (default ``bench/.work/cap-results.json``).
Exit 0 once every case ran (goals are printed as PASS/FAIL), 2 on a setup error.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import run as harness  # noqa: E402

WORK_DIR = BENCH_DIR / ".work" / "cap"
CAP = 5 * 1024 * 1024
MARGIN = 2048  # stay under the cap: a file over it is not read at all
GOAL_S = 3.0
GOAL_MIB = 250 * 1000 * 1000 / 2**20  # 250 MB


def _fill(head: str, item: Callable[[int], str], tail: str = "") -> str:
    """`head`, then items until the next would pass the cap, then `tail`."""
    parts = [head]
    size = len(head.encode()) + len(tail.encode())
    i = 0
    while True:
        text = item(i)
        n = len(text.encode())
        if size + n > CAP - MARGIN:
            break
        parts.append(text)
        size += n
        i += 1
    parts.append(tail)
    return "".join(parts)


def tf_resources(i: int) -> str:
    return (
        f'resource "aws_s3_bucket" "b{i}" {{\n'
        f'  bucket = "acme-data-{i}"\n'
        f'  tags = {{\n    team = "payments"\n    cost-center = "cc-{i % 97}"\n  }}\n}}\n\n'
    )


def tf_modules(i: int) -> str:
    return (
        f'module "m{i}" {{\n  source  = "terraform-aws-modules/vpc/aws"\n'
        f'  version = "~> 5.{i % 9}"\n  name    = "vpc-{i}"\n}}\n\n'
    )


CASES: dict[str, tuple[str, Callable[[], str]]] = {
    # Terraform: many small resources (fact-heavy), many module calls, empty blocks, and one
    # long list literal (a single attribute as large as the file)
    "tf-resources": ("main.tf", lambda: _fill("", tf_resources)),
    "tf-modules": ("main.tf", lambda: _fill("", tf_modules)),
    "tf-empty-blocks": ("main.tf", lambda: _fill("", lambda i: f"locals {{}}\n# {i}\n")),
    "tf-long-list": (
        "main.tf",
        lambda: _fill(
            "locals {\n  cidrs = [\n",
            lambda i: f'    "10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32",\n',
            "  ]\n}\n",
        ),
    ),
    # Terraform JSON syntax: the same resources
    "tf-json-resources": (
        "main.tf.json",
        lambda: _fill(
            '{"resource": {"aws_s3_bucket": {\n',
            lambda i: (
                (", " if i else "")
                + json.dumps({f"b{i}": {"bucket": f"acme-data-{i}", "tags": {"team": "payments"}}})[
                    1:-1
                ]
                + "\n"
            ),
            "}}}\n",
        ),
    ),
    # Kubernetes: many small documents in one stream, and one huge ConfigMap
    "k8s-many-docs": (
        "all.yaml",
        lambda: _fill(
            "",
            lambda i: (
                f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s{i}\n"
                f"  labels: {{team: payments}}\nspec:\n  ports: [{{port: 80}}]\n"
            ),
        ),
    ),
    "k8s-deployments": (
        "all.yaml",
        lambda: _fill(
            "",
            lambda i: (
                f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d{i}\n"
                "  labels: {team: payments, app.kubernetes.io/name: web}\nspec:\n"
                "  template:\n    spec:\n      containers:\n"
                f"        - name: app\n          image: docker.io/library/nginx:1.{i % 30}\n"
                "          env:\n            - {name: MODE, value: prod}\n"
            ),
        ),
    ),
    "k8s-big-configmap": (
        "cm.yaml",
        lambda: _fill(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n",
            lambda i: f"  key{i}: value-{i}-" + "x" * 40 + "\n",
        ),
    ),
    # GitHub Actions: one workflow with a great many jobs and steps
    "gha-many-steps": (
        ".github/workflows/ci.yml",
        lambda: _fill(
            "on: push\njobs:\n",
            lambda i: (
                f"  job{i}:\n    runs-on: ubuntu-latest\n    steps:\n"
                "      - uses: actions/checkout@v4\n"
                f"      - run: make test-{i}\n"
            ),
        ),
    ),
    # Dockerfile: a great many instructions
    "dockerfile-long": (
        "Dockerfile",
        lambda: _fill("FROM docker.io/library/python:3.12\n", lambda i: f"RUN echo step-{i}\n"),
    ),
}


def build(name: str) -> Path:
    rel, make = CASES[name]
    root = WORK_DIR / name
    target = root / rel
    stamp = root.with_suffix(".stamp")
    if stamp.is_file() and target.is_file():
        return root
    target.parent.mkdir(parents=True, exist_ok=True)
    text = make()
    data = text.encode()
    assert len(data) <= CAP, (name, len(data))
    target.write_bytes(data)
    stamp.write_text(str(len(data)))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tether", default=None, help="tether executable (default: on PATH)")
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--results", default=str(BENCH_DIR / ".work" / "cap-results.json"))
    parser.add_argument("--jobs", default="1", help="tether --jobs (default 1)")
    args = parser.parse_args(argv)
    tether = args.tether or shutil.which("tether")
    if not tether:
        print("cap.py: tether is not on PATH (pip install .)", file=sys.stderr)
        return 2
    names = [n for n in args.only.split(",") if n] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"cap.py: unknown case(s) {unknown}; cases: {', '.join(CASES)}", file=sys.stderr)
        return 2
    rows = []
    env = {k: v for k, v in os.environ.items() if k != "TETHER_CACHE_DIR"}
    env["TETHER_NO_CACHE"] = "1"
    print("| case | bytes | wall s | peak RSS MiB | findings | diagnostics | goal |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name in names:
        root = build(name)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        out = WORK_DIR / f"{name}.json"
        argv_ = [tether, "scan", str(root), "--root", str(root), "--format", "json"]
        argv_ += ["--output", str(out), "-j", args.jobs]
        r = harness.measure(
            "tether", argv_, WORK_DIR / f"{name}.out", WORK_DIR / f"{name}.err", env=env
        )
        report = harness.tether_report(out)
        findings = len(report.get("findings", [])) if report else None
        diags = len(report.get("diagnostics", [])) if report else None
        ok = r.exit_code in (0, 1) and r.wall_s < GOAL_S and r.max_rss_mib < GOAL_MIB
        rows.append(
            {
                "case": name,
                "bytes": size,
                "wall_s": r.wall_s,
                "max_rss_mib": r.max_rss_mib,
                "exit_code": r.exit_code,
                "findings": findings,
                "diagnostics": diags,
                "pass": ok,
            }
        )
        print(
            f"| {name} | {size:,} | {r.wall_s:.2f} | {r.max_rss_mib:.0f} | {findings} | {diags} "
            f"| {'PASS' if ok else 'FAIL'} |",
            flush=True,
        )
    Path(args.results).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

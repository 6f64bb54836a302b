"""Peak memory of a scan of a ~100 MB configuration mono-repository (issue 11).

    python bench/mem.py [--tether PATH] [--rev REV] [--jobs 1,0] [--runs 1] [--mib 100]

The corpus (generated once under bench/.work/mem-corpus/, deterministic) is the bench's own
generated repositories side by side, each kind with other seeds until the configuration
tether reads reaches --mib: Kubernetes GitOps trees (x64 each, with their kustomizations),
Terraform stacks (x64 each) and one monorepo's workflows at the root (x64; further copies
under workflows-NN/, read as YAML). Each run is `tether scan CORPUS --root CORPUS --no-cache
-j N --format json --output F` through run.py's launcher (peak RSS of the largest process,
workers included), with the fact and finding limits raised so that every file is judged.
`--jobs 0` means tether's default. The goal is a peak under 150 MB; it prints PASS/FAIL and
does not change the exit status (0 once the runs ran, 2 on a setup error).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import gen_kubernetes  # noqa: E402
import gen_terraform  # noqa: E402
import gen_workflows  # noqa: E402
import run as harness  # noqa: E402

CORPUS = harness.WORK_DIR / "mem-corpus"
GOAL_MIB = 150.0
LIMITS = ["--max-facts", "100000000", "--max-findings", "100000000"]


def _parts(mib: int) -> list[tuple[str, str, int]]:
    """(kind, directory, seed) until the corpus holds about `mib` MiB: Kubernetes and
    Terraform in turn, and the workflows once at the root (then as plain YAML)."""
    sizes = {"kubernetes": 16.0, "terraform": 25.0, "workflows": 5.3}  # MiB read at x64
    out: list[tuple[str, str, int]] = [("workflows", "", gen_workflows.DEFAULT_SEED)]
    total, i = sizes["workflows"], 0
    while total < mib:
        kind = ("kubernetes", "terraform", "kubernetes", "workflows")[i % 4]
        seed = {"kubernetes": gen_kubernetes, "terraform": gen_terraform}.get(kind, gen_workflows)
        out.append((kind, f"{kind}-{i:02d}", int(seed.DEFAULT_SEED) + 101 * (i + 1)))
        total += sizes[kind]
        i += 1
    return out


def _files(kind: str, seed: int) -> dict[str, str]:
    if kind == "terraform":
        files = dict(gen_terraform.generate(gen_terraform.DEFAULT_KB, seed))
        for i in range(1, 64):
            for rel, text in gen_terraform.generate(gen_terraform.DEFAULT_KB, seed + i).items():
                files[f"stacks/stack-{i:02d}/{rel}"] = text
        return files
    if kind == "kubernetes":
        return gen_kubernetes.generate(64, seed)
    return gen_workflows.generate(64, seed)


def prepare(mib: int) -> Path:
    parts = _parts(mib)
    h = hashlib.sha256(json.dumps(parts).encode())
    for name in ("gen_terraform.py", "gen_kubernetes.py", "gen_workflows.py", "mem.py"):
        h.update((BENCH_DIR / name).read_bytes())
    stamp = CORPUS.with_suffix(".stamp")
    if CORPUS.is_dir() and stamp.is_file() and stamp.read_text().strip() == h.hexdigest():
        return CORPUS
    shutil.rmtree(CORPUS, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    total = 0
    for kind, where, seed in parts:
        files = {(f"{where}/{rel}" if where else rel): t for rel, t in _files(kind, seed).items()}
        total += gen_kubernetes.write_files(CORPUS, files, ())[1]
        print(f"generated {kind} (seed {seed}) in {where or '.'}", flush=True)
    stamp.write_text(h.hexdigest() + "\n")
    print(f"corpus: {total / 2**20:.1f} MiB in {CORPUS}")
    return CORPUS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tether", default=None, help="tether executable (default: on PATH)")
    parser.add_argument("--rev", default=None, help="tether's sources at this commit")
    parser.add_argument("--jobs", default="1,0", help="comma-separated -j values (0: default)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--mib", type=int, default=100, help="corpus size (default 100)")
    args = parser.parse_args(argv)
    try:
        tether = harness.find_tether(args.tether)
        src = harness.export_rev(args.rev) if args.rev else None
        jobs = [int(j) for j in args.jobs.split(",") if j.strip()]
    except (harness.SetupError, ValueError) as exc:
        print(f"mem.py: {exc}", file=sys.stderr)
        return 2
    corpus = prepare(args.mib)
    env = harness.tether_env(src)
    env["TETHER_NO_CACHE"] = "1"
    label = args.rev or "work tree"
    print(f"tether: {tether} ({label}); load {harness.loadavg()}")
    print("| -j | wall s | peak RSS MiB | files | MiB read | findings | goal (150 MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for j in jobs:
        for n in range(args.runs):
            out = harness.WORK_DIR / f"mem-{j}-{n}.json"
            extra = [*LIMITS, "--no-cache", *(["-j", str(j)] if j else [])]
            r = harness.measure(
                "tether",
                harness.tether_argv(tether, corpus, out, extra),
                harness.WORK_DIR / "mem.out",
                harness.WORK_DIR / "mem.err",
                env=env,
                timeout=3600,
            )
            report = harness.tether_report(out) or {}
            t = report.get("timings") or {}
            findings = harness.count_findings(report)
            ok = r.exit_code in (0, 1) and not r.timed_out
            goal = ("PASS" if r.max_rss_mib < GOAL_MIB else "FAIL") if ok else f"exit {r.exit_code}"
            print(
                f"| {j or 'default'} | {r.wall_s:.1f} | {r.max_rss_mib:.0f} | "
                f"{t.get('files', '?')} | {t.get('bytes', 0) / 2**20:.1f} | {findings} | {goal} |",
                flush=True,
            )
    if os.environ.get("MEM_KEEP_REPORTS") != "1":
        for p in harness.WORK_DIR.glob("mem-*.json"):
            p.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

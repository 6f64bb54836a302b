"""The adoption report over a large history (issue 12): `tether report` on an org state of
--repos repositories x --weeks weekly scans (bench/gen_history.py, made once under
bench/.work/), in each format, through run.py's fork + wait4 launcher (wall time from fork to
reap, start-up included; peak RSS). Goal: under 5 s and an HTML file under 5 MB.

    python bench/report.py [--repos 1000] [--weeks 12] [--teams 40] [--runs 3] [--tether PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from gen_history import generate  # noqa: E402
from run import measure  # noqa: E402

WORK = BENCH_DIR / ".work"
GOAL_S = 5.0
GOAL_BYTES = 5 * 1024 * 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--tether",
        default=shutil.which("tether", path=str(Path(sys.executable).parent)) or "tether",
    )
    args = ap.parse_args()
    state = WORK / f"history-{args.repos}x{args.weeks}x{args.teams}"
    if not (state / "tether-org.sqlite").is_file():
        print(
            f"generating {args.repos} repositories x {args.weeks} weeks in {state} ...", flush=True
        )
        shutil.rmtree(state, ignore_errors=True)
        generate(state, args.repos, args.weeks, args.teams)
    db = state / "tether-org.sqlite"
    print(
        f"state: {db} ({db.stat().st_size / 2**20:.1f} MiB); tether: {args.tether}; "
        f"{os.cpu_count()} CPUs"
    )
    out = WORK / "report-out"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    failed = False
    for fmt, suffix in (("html", "html"), ("json", "json"), ("markdown", "md")):
        target = out / f"report.{suffix}"
        argv = [args.tether, "report", "--state", str(state), "--format", fmt, "--out", str(target)]
        measure(fmt, argv, out / "stdout", out / "stderr")  # warm-up: page cache, .pyc
        runs = [measure(fmt, argv, out / "stdout", out / "stderr") for _ in range(args.runs)]
        bad = [r for r in runs if r.exit_code != 0]
        if bad:
            print((out / "stderr").read_text(), file=sys.stderr)
            return 2
        wall = statistics.median(r.wall_s for r in runs)
        rss = max(r.max_rss_mib for r in runs)
        size = target.stat().st_size
        ok = wall < GOAL_S and (fmt != "html" or size < GOAL_BYTES)
        failed |= not ok
        rows.append((fmt, wall, min(r.wall_s for r in runs), rss, size, ok))
    print()
    print("| format | median wall s | best s | peak RSS MiB | file KiB | goal |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for fmt, wall, best, rss, size, ok in rows:
        goal = "< 5 s" + (", < 5 MB" if fmt == "html" else "")
        print(
            f"| {fmt} | {wall:.2f} | {best:.2f} | {rss:.1f} | {size / 1024:.0f} "
            f"| {'PASS' if ok else 'FAIL'} ({goal}) |"
        )
    print(f"\nreports in {out}")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())

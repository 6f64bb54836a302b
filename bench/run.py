#!/usr/bin/env python3
"""Side-by-side benchmark of tether and Checkov on a generated Terraform corpus.

Usage::

    python bench/run.py [--runs 5] [--corpus DIR] [--kb 400] [--checkov PATH] [--tether PATH]
                        [--warm | --no-cache] [--rev REV]

Both tools are run as child processes, alternating (tether, checkov, tether, ...) after one
untimed warm-up each.  Each run is started by a tiny launcher process that forks and execs
the tool: the wall time is taken there around fork and reap, and the peak resident set
size and CPU time come from the ``rusage`` that ``os.wait4`` returns for the tool.

tether scans the corpus as a repository of its own (``--root CORPUS``: the corpus lives
inside this repository's git work tree) and every timed tether run is cold: it gets a fresh,
empty ``--cache-dir`` under bench/.work/, as a first ``tether scan`` on a fresh CI runner
does (it parses every file and writes the fact and rule caches).  ``--warm`` also times a
second run on the same cache directory (a rescan of unchanged files); ``--no-cache`` times
tether with ``--no-cache`` instead of a fresh directory (no cache read or written, close to
what the GitHub Action's gate, which never uses the fact cache, pays).

This is a report, not a gate: it exits 0 once the tools have run, whether or not the
targets hold (it prints PASS/FAIL for each), and 2 only on a setup error such as a missing
binary.  See bench/README.md.

Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"

SPEEDUP_TARGET = 20.0  # tether must be at least this many times faster than Checkov
OVERHEAD_TARGET = 1.25  # tether's in-process total must be at most this multiple of parse

# Order in which tether's phases are printed; any other keys follow.
PHASE_ORDER = ("load", "discover", "parse", "facts", "policy")

# Environment that keeps Checkov local and off the network.  ``--skip-download`` already
# stops the platform calls (guidelines/mappings, custom policies, suppressions);
# BC_SKIP_MAPPING is its environment twin.  CKV_SKIP_PACKAGE_UPDATE_CHECK stops the hourly
# PyPI "new version?" request made at import time.  Checkov 3.3.x does not read
# CHECKOV_RUN_SCA_PACKAGE_SCAN_V2 (and its SCA runners are off with --framework terraform);
# it is set only as a harmless guard for other versions.  Run with --flag-study to measure
# what each of these is worth.
CHECKOV_OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    "LOG_LEVEL": "WARNING",
}
# Variables that would switch Checkov into platform mode (uploads, API calls).
CHECKOV_PLATFORM_VARS = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL", "CKV_API_KEY")


# --------------------------------------------------------------------------------------
# Process measurement
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    wall_s: float
    max_rss_mib: float
    cpu_user_s: float
    cpu_sys_s: float
    exit_code: int
    timed_out: bool = False
    launcher_rss_mib: float = 0.0
    inproc: dict[str, float] = field(default_factory=dict)


def maxrss_mib(ru_maxrss: int) -> float:
    # ru_maxrss is KiB on Linux and the BSDs, bytes on macOS.
    if sys.platform == "darwin":
        return ru_maxrss / (1024 * 1024)
    return ru_maxrss / 1024


# A minimal launcher, run as ``python -I -S -c LAUNCHER OUT ERR ARGV...``.  It forks and
# execs the tool, reaps it with wait4 and prints "wall status utime stime maxrss".
#
# Why not Popen + wait4 from this process: CPython spawns children with vfork, and at exec
# Linux folds the *parent's* peak RSS into the child's ru_maxrss (exec_mmap records the
# hiwater mark of the mm being left, which under vfork is ours).  This harness holds large
# JSON reports, so every tool would appear to use at least as much memory as the harness.
# Spawning from a fresh, tiny interpreter bounds that floor at the launcher's own RSS
# (about 8 MiB; recorded as launcher_rss_mib) and keeps start-up of the launcher out of
# the timed interval.
LAUNCHER = """
import os, sys, time
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
err = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
argv = sys.argv[3:]
try:
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
except OSError:
    rss = 0
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.execvp(argv[0], argv)
    except BaseException as exc:
        os.write(2, ("launcher: cannot run %r: %s\\n" % (argv[0], exc)).encode())
    os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(wall, os.waitstatus_to_exitcode(status), ru.ru_utime, ru.ru_stime, ru.ru_maxrss, rss)
"""


def measure(
    tool: str,
    argv: Sequence[str],
    stdout: Path,
    stderr: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 1800.0,
) -> Run:
    """Run ``argv`` to completion; return its wall time, peak RSS and CPU time.

    The rusage from ``wait4`` covers the child and every descendant it reaped, so CPU time
    includes worker processes; ``ru_maxrss`` is the peak of the largest single process in
    that tree (the kernel takes a maximum, not a sum).
    """
    cmd = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(stdout), str(stderr), *argv]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    timed_out = False
    try:
        report, problem = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the tool is in the launcher's session
        report, problem = proc.communicate()
    if timed_out:
        nan = float("nan")
        return Run(tool, timeout, nan, nan, nan, exit_code=-signal.SIGKILL, timed_out=True)
    fields = report.decode().split()
    if len(fields) != 6:
        raise SetupError(
            f"launcher for {tool} failed (exit {proc.returncode}): {problem.decode()[-2000:]}"
        )
    wall, code, utime, stime, maxrss, launcher_kib = fields
    return Run(
        tool=tool,
        wall_s=float(wall),
        max_rss_mib=maxrss_mib(int(maxrss)),
        cpu_user_s=float(utime),
        cpu_sys_s=float(stime),
        exit_code=int(code),
        timed_out=timed_out,
        launcher_rss_mib=int(launcher_kib) / 1024,
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------


class SetupError(RuntimeError):
    pass


def find_tether(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SetupError(f"--tether {explicit}: not an executable file")
        return path
    candidates = [Path(sys.executable).parent / "tether"]
    on_path = shutil.which("tether")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(REPO_ROOT / ".venv" / "bin" / "tether")
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    looked = ", ".join(str(c) for c in candidates)
    raise SetupError(
        "tether executable not found (looked at: "
        f"{looked}).\n  Install the project into its venv first:  "
        f"{REPO_ROOT / '.venv/bin/pip'} install -e {REPO_ROOT}\n"
        "  or pass --tether PATH, or --skip-tether to benchmark Checkov alone."
    )


def ensure_checkov(explicit: str | None, spec: str) -> Path:
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SetupError(f"--checkov {explicit}: not an executable file")
        return path
    venv_dir = WORK_DIR / "checkov-venv"
    binary = venv_dir / "bin" / "checkov"
    if binary.is_file():
        return binary
    print(f"creating Checkov venv at {venv_dir} (pip install {spec}) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, spec], check=True)
    if not binary.is_file():
        raise SetupError(f"pip install {spec} did not produce {binary}")
    return binary


def checkov_env(offline: bool = True, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHECKOV_PLATFORM_VARS}
    if offline:
        env.update(CHECKOV_OFFLINE_ENV)
    if extra:
        env.update(extra)
    return env


def checkov_argv(checkov: Path, corpus: Path, skip_download: bool = True) -> list[str]:
    argv = [
        str(checkov),
        "-d",
        str(corpus),
        "--framework",
        "terraform",
        "--quiet",
        "--compact",
        "-o",
        "json",
    ]
    if skip_download:
        argv.append("--skip-download")
    return argv


def tether_argv(tether: Path, corpus: Path, output: Path, extra: Sequence[str] = ()) -> list[str]:
    # --root: the corpus is a repository of its own, not a part of the git work tree that
    # holds bench/.work/ (which would change the scope: no repository-level rules)
    return [
        str(tether),
        "scan",
        str(corpus),
        "--root",
        str(corpus),
        "--format",
        "json",
        "--output",
        str(output),
        *extra,
    ]


def tether_env(src: Path | None = None) -> dict[str, str]:
    """tether's environment: ours, minus the variables that would move or turn off its cache
    behind the command line's back (each run says which cache it uses), plus PYTHONPATH for
    --rev."""
    env = {k: v for k, v in os.environ.items() if k not in ("TETHER_NO_CACHE", "TETHER_CACHE_DIR")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def export_rev(rev: str) -> Path:
    """tether's sources at a git revision, extracted under bench/.work/ (run with
    PYTHONPATH pointing there): figures for a commit, whatever the work tree holds."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SetupError(f"--rev {rev}: not a commit ({exc})") from None
    dest = WORK_DIR / f"src-{sha[:12]}"
    if (dest / "scanner" / "__init__.py").is_file():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(REPO_ROOT),
            "archive",
            "--format=tar",
            sha,
            "scanner",
            "rules",
            "baselines",
        ],
        check=False,
        capture_output=True,
    )
    if archive.returncode != 0:
        raise SetupError(f"git archive {sha} failed: {archive.stderr.decode()[-500:]}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def work_tree_state() -> dict[str, Any]:
    """HEAD and whether tether's sources in the work tree differ from it (the figures are
    for the commit only when they do not, or with --rev)."""
    state: dict[str, Any] = {"head": None, "sources_modified": None}
    with contextlib.suppress(OSError):
        git = ["git", "-C", str(REPO_ROOT)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0:
            state["head"] = head.stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "scanner", "rules", "baselines"],
            capture_output=True,
            text=True,
        )
        if status.returncode == 0:
            state["sources_modified"] = [line[3:] for line in status.stdout.splitlines()]
    return state


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the machine shows in them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def tool_version(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    try:
        res = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (res.stdout or res.stderr).strip()
    return text.splitlines()[-1] if text else f"unknown (exit {res.returncode})"


def checkov_summary(path: Path) -> dict[str, Any]:
    """Summary block(s) of a Checkov JSON report; {} if unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    reports = data if isinstance(data, list) else [data]
    total: dict[str, Any] = {}
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        summary = rep.get("summary", {})
        for key in ("passed", "failed", "skipped", "parsing_errors", "resource_count"):
            if isinstance(summary.get(key), int):
                total[key] = total.get(key, 0) + summary[key]
        total.setdefault("checkov_version", summary.get("checkov_version"))
        errors = rep.get("results", {}).get("parsing_errors", [])
        if errors:
            total.setdefault("parsing_error_files", []).extend(errors)
    return total


def tether_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else {"_root": data}


def tether_timings(report: Mapping[str, Any] | None) -> dict[str, float]:
    if not report:
        return {}
    timings = report.get("timings")
    if not isinstance(timings, dict):
        return {}
    return {k: float(v) for k, v in timings.items() if isinstance(v, (int, float))}


def count_findings(report: Mapping[str, Any] | None) -> int | None:
    if not report:
        return None
    for key in ("findings", "results", "violations"):
        value = report.get(key)
        if isinstance(value, list):
            return len(value)
    return None


# --------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------


def corpus_stats(corpus: Path) -> dict[str, Any]:
    files = sorted(p for p in corpus.rglob("*.tf") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    dirs = sorted({str(p.parent.relative_to(corpus)) for p in files})
    return {
        "path": str(corpus),
        "files": len(files),
        "bytes": size,
        "kib": round(size / 1024, 1),
        "directories": dirs,
    }


def load_generator() -> Any:
    """Import the sibling bench/gen_terraform.py (stdlib only) whatever the cwd."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import gen_terraform

    return gen_terraform


def prepare_corpus(corpus: str | None, kb: int, seed: int) -> Path:
    if corpus:
        path = Path(corpus).resolve()
        if not path.is_dir():
            raise SetupError(f"--corpus {corpus}: not a directory")
        return path
    path = WORK_DIR / "corpus"
    count, total = load_generator().write_corpus(path, kb, seed)
    print(f"generated corpus: {count} files, {total / 1024:.1f} KiB in {path} (seed {seed})")
    return path


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(runs: Sequence[Run]) -> dict[str, float]:
    walls = [r.wall_s for r in runs]
    return {
        "runs": len(runs),
        "median_wall_s": med(walls),
        "min_wall_s": min(walls) if walls else float("nan"),
        "max_wall_s": max(walls) if walls else float("nan"),
        "median_max_rss_mib": med([r.max_rss_mib for r in runs]),
        "median_cpu_s": med([r.cpu_user_s + r.cpu_sys_s for r in runs]),
    }


def print_table(stats: Mapping[str, Mapping[str, float]]) -> None:
    head = f"{'tool':<15} {'median s':>9} {'min s':>8} {'max s':>8} {'RSS MiB':>9} {'CPU s':>8}"
    print(head)
    print("-" * len(head))
    for tool, s in stats.items():
        print(
            f"{tool:<15} {s['median_wall_s']:>9.3f} {s['min_wall_s']:>8.3f} "
            f"{s['max_wall_s']:>8.3f} {s['median_max_rss_mib']:>9.1f} {s['median_cpu_s']:>8.2f}"
        )


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


# --------------------------------------------------------------------------------------
# Flag study
# --------------------------------------------------------------------------------------


def flag_study(checkov: Path, corpus: Path, runs: int, timeout: float) -> list[dict[str, Any]]:
    """Time Checkov with and without the offline flags (one warm-up, then ``runs`` each)."""
    variants: list[tuple[str, bool, bool]] = [
        ("--skip-download + offline env (benchmark default)", True, True),
        ("--skip-download only", True, False),
        ("offline env only", False, True),
        ("no offline flags at all", False, False),
    ]
    print("\nCheckov flag study")
    out = WORK_DIR / "flagstudy.json"
    err = WORK_DIR / "flagstudy.stderr"
    measure("checkov", checkov_argv(checkov, corpus), out, err, checkov_env(), timeout)
    results = []
    for label, skip, offline in variants:
        walls = []
        for _ in range(runs):
            run = measure(
                "checkov",
                checkov_argv(checkov, corpus, skip),
                out,
                err,
                checkov_env(offline),
                timeout,
            )
            walls.append(run.wall_s)
        stderr_text = err.read_text(errors="replace")
        network_msgs = sum(
            1
            for line in stderr_text.splitlines()
            if any(
                s in line
                for s in (
                    "Failed to get",
                    "Max retries",
                    "NameResolution",
                    "ConnectionError",
                    "Connection refused",
                    "timed out",
                )
            )
        )
        res = {
            "variant": label,
            "skip_download": skip,
            "offline_env": offline,
            "median_wall_s": med(walls),
            "walls_s": walls,
            "network_error_lines": network_msgs,
        }
        results.append(res)
        print(
            f"  {label:<50} median {med(walls):7.2f} s  "
            f"(network error lines in stderr: {network_msgs})"
        )
    return results


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark tether against Checkov on a generated Terraform corpus."
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument("--corpus", help="existing corpus directory (default: generate one)")
    parser.add_argument("--kb", type=int, default=400, help="size of the generated corpus, KiB")
    parser.add_argument("--seed", type=int, default=None, help="generator seed (default fixed)")
    parser.add_argument("--checkov", help="Checkov binary (default: bench/.work/checkov-venv)")
    parser.add_argument(
        "--checkov-spec",
        default="checkov",
        help="pip requirement used when creating the Checkov venv",
    )
    parser.add_argument("--tether", help="tether binary (default: next to python, or on PATH)")
    parser.add_argument("--skip-tether", action="store_true", help="benchmark Checkov only")
    parser.add_argument("--skip-checkov", action="store_true", help="benchmark tether only")
    parser.add_argument(
        "--flag-study", action="store_true", help="also time Checkov with/without the offline flags"
    )
    parser.add_argument("--flag-study-runs", type=int, default=1)
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--warm",
        action="store_true",
        help="after each cold tether run (a fresh, empty --cache-dir), time a second run on "
        "the same cache directory too: a rescan of unchanged files",
    )
    cache.add_argument(
        "--no-cache",
        action="store_true",
        help="time tether with --no-cache instead of a fresh cache directory (no cache "
        "read or written, as the GitHub Action's gate, which never uses the fact cache)",
    )
    parser.add_argument(
        "--rev",
        help="measure tether's sources at this git revision (extracted under bench/.work/ and "
        "put first on PYTHONPATH) instead of the work tree",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per-run timeout in seconds")
    parser.add_argument("--results", type=Path, default=WORK_DIR / "results.json")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    try:
        tether = None if args.skip_tether else find_tether(args.tether)
        src = export_rev(args.rev) if args.rev and tether else None
        checkov = None if args.skip_checkov else ensure_checkov(args.checkov, args.checkov_spec)
        seed = load_generator().DEFAULT_SEED if args.seed is None else args.seed
        corpus = prepare_corpus(args.corpus, args.kb, seed)
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stats_corpus = corpus_stats(corpus)
    if stats_corpus["files"] == 0:
        print(f"error: no .tf files under {corpus}", file=sys.stderr)
        return 2
    print(
        f"corpus: {stats_corpus['kib']} KiB in {stats_corpus['files']} .tf files, "
        f"{len(stats_corpus['directories'])} directories ({corpus})"
    )

    versions: dict[str, str] = {}
    if checkov:
        versions["checkov"] = tool_version([str(checkov), "--version"], checkov_env())
    env_tether = tether_env(src)
    tree = work_tree_state()
    if tether:
        versions["tether"] = tool_version([str(tether), "--version"], env_tether)
    for tool, path in (("tether", tether), ("checkov", checkov)):
        if path:
            print(f"{tool}: {path} ({versions.get(tool, '?')})")
    cache_mode = "no-cache" if args.no_cache else "fresh-dir"
    if tether:
        if src is not None:
            where = f"sources of {args.rev} from {src}"
        else:
            where = f"work tree at {(tree['head'] or '?')[:7]}"
            if tree["sources_modified"]:
                where += f" + uncommitted changes to {', '.join(tree['sources_modified'])}"
        print(f"tether code: {where}")
        print(
            "tether cache: "
            + (
                "--no-cache (nothing read or written)"
                if args.no_cache
                else "a fresh, empty --cache-dir for each cold run"
                + (", then a warm rerun on the same directory" if args.warm else "")
            )
        )
    load_before = loadavg()

    tmp = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_DIR))
    tether_out = tmp / "tether.json"
    checkov_out = tmp / "checkov.json"
    caches = tmp / "tether-caches"
    caches.mkdir()
    cache_problems: list[str] = []

    def new_cache_dir() -> Path:
        # mkdtemp: created 0700, owned by us, as tether wants its cache directory
        return Path(tempfile.mkdtemp(prefix="cache-", dir=caches))

    def run_tether(name: str, extra: Sequence[str], cache_dir: Path | None) -> Run:
        assert tether is not None
        tether_out.unlink(missing_ok=True)
        cache_args = ["--no-cache"] if cache_dir is None else ["--cache-dir", str(cache_dir)]
        run = measure(
            name,
            tether_argv(tether, corpus, tether_out, [*extra, *cache_args]),
            tmp / "tether.stdout",
            tmp / "tether.stderr",
            env_tether,
            args.timeout,
        )
        run.inproc = tether_timings(tether_report(tether_out))
        return run

    def run_tether_cold(name: str = "tether", extra: Sequence[str] = ()) -> list[Run]:
        """One cold run (a fresh cache directory, or --no-cache) and, with --warm, a second
        run on the same directory."""
        if args.no_cache:
            return [run_tether(name, extra, None)]
        cache_dir = new_cache_dir()
        try:
            cold = run_tether(name, extra, cache_dir)
            if cold.inproc.get("cached"):
                cache_problems.append(
                    f"{name}: {cold.inproc['cached']:.0f} files came from a fresh cache directory"
                )
            if not any(cache_dir.iterdir()):
                cache_problems.append(
                    f"{name}: tether wrote nothing to its --cache-dir (cache not used?)"
                )
            if not args.warm:
                return [cold]
            warm = run_tether(f"{name} warm", extra, cache_dir)
            if warm.inproc and not warm.inproc.get("cached"):
                cache_problems.append(f"{name} warm: no file came from the cache")
            return [cold, warm]
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)

    def run_checkov() -> Run:
        assert checkov is not None
        return measure(
            "checkov",
            checkov_argv(checkov, corpus),
            checkov_out,
            tmp / "checkov.stderr",
            checkov_env(),
            args.timeout,
        )

    # Warm-ups (untimed): fill the page cache and byte-code caches, and check both tools work.
    problems: list[str] = []
    checkov_info: dict[str, Any] = {}
    tether_info: dict[str, Any] = {}
    if tether:
        print("warm-up: tether ...", flush=True)
        warm = run_tether_cold()[0]
        report = tether_report(tether_out)
        if report is None:
            print(
                f"error: tether produced no JSON report (exit {warm.exit_code}). stderr:\n"
                f"{tail(tmp / 'tether.stderr')}",
                file=sys.stderr,
            )
            return 2
        tether_info = {
            "warmup_exit_code": warm.exit_code,
            "findings": count_findings(report),
            "diagnostics": len(report.get("diagnostics") or []),
            "has_timings": bool(warm.inproc),
        }
        print(
            f"  tether exit {warm.exit_code}: {tether_info['findings']} findings, "
            f"{tether_info['diagnostics']} diagnostics"
        )
        if tether_info["diagnostics"]:
            problems.append(f"tether reported {tether_info['diagnostics']} diagnostics")
        if not warm.inproc:
            problems.append(
                'tether\'s JSON has no top-level "timings" object; no in-process breakdown'
            )
    if checkov:
        print("warm-up: checkov ...", flush=True)
        warm = run_checkov()
        checkov_info = checkov_summary(checkov_out)
        checkov_info["warmup_exit_code"] = warm.exit_code
        if warm.exit_code not in (0, 1) or "resource_count" not in checkov_info:
            print(
                f"error: Checkov failed (exit {warm.exit_code}). stderr:\n"
                f"{tail(tmp / 'checkov.stderr')}",
                file=sys.stderr,
            )
            return 2
        print(
            f"  checkov exit {warm.exit_code}: {checkov_info.get('resource_count')} resources, "
            f"{checkov_info.get('failed')} failed / {checkov_info.get('passed')} passed checks, "
            f"{checkov_info.get('parsing_errors', 0)} parsing errors"
        )
        if checkov_info.get("parsing_errors"):
            problems.append(
                f"Checkov reported {checkov_info['parsing_errors']} parsing errors: "
                f"{checkov_info.get('parsing_error_files')}"
            )

    # tether runs twice per round: as users run it (parse workers where they pay) and with
    # -j 1 (one process), so the serial overhead over parsing is visible too; each cold, and
    # with --warm each followed by its warm rerun
    tether_names = ["tether", "tether-j1"]
    if args.warm:
        tether_names = ["tether", "tether warm", "tether-j1", "tether-j1 warm"]
    runs: dict[str, list[Run]] = {name: [] for name in [*tether_names, "checkov"]}

    def run_checkov_round() -> list[Run]:
        return [run_checkov()]

    steps: list[Callable[[], list[Run]]] = []
    if tether:
        steps += [run_tether_cold, functools.partial(run_tether_cold, "tether-j1", ["--jobs", "1"])]
    if checkov:
        steps.append(run_checkov_round)
    for i in range(args.runs):
        for step in steps:
            for run in step():
                name = run.tool
                runs[name].append(run)
                flag = " TIMEOUT" if run.timed_out else ""
                cached_note = ""
                if "cached" in run.inproc:
                    cached_note = (
                        f"  cached {run.inproc['cached']:.0f}/{run.inproc.get('files', 0):.0f}"
                    )
                print(
                    f"run {i + 1}/{args.runs} {name:<14} {run.wall_s:8.3f} s "
                    f"{run.max_rss_mib:8.1f} MiB  exit {run.exit_code}{flag}{cached_note}",
                    flush=True,
                )
                if run.timed_out:
                    problems.append(f"{name} run {i + 1} timed out after {args.timeout} s")
    load_after = loadavg()
    problems += sorted(set(cache_problems))

    stats = {name: summarise(rs) for name, rs in runs.items() if rs}
    print(
        f"\ncorpus: {stats_corpus['kib']} KiB, {stats_corpus['files']} files; "
        f"{args.runs} timed runs per tool, alternating, after one warm-up each; "
        f"{os.cpu_count()} CPUs; load average (1/5/15 min) before {load_before}, "
        f"after {load_after}"
    )
    if tether:
        print(
            "tether runs are cold ("
            + ("--no-cache" if args.no_cache else "a fresh, empty --cache-dir each")
            + ")"
            + ("; 'warm' rows: the same cache directory, second run" if args.warm else "")
        )
    print_table(stats)

    verdicts: dict[str, Any] = {}
    if "tether" in stats and "checkov" in stats:
        t, c = stats["tether"], stats["checkov"]
        speed = ratio(c["median_wall_s"], t["median_wall_s"])
        mem = ratio(c["median_max_rss_mib"], t["median_max_rss_mib"])
        print(f"{'ratio':<9} {speed:>8.1f}x {'':>8} {'':>8} {mem:>8.1f}x   (checkov / tether)")
        verdicts["speedup"] = {
            "value": speed,
            "target": SPEEDUP_TARGET,
            "holds": speed >= SPEEDUP_TARGET,
        }
        verdicts["rss_ratio"] = mem

    breakdown: dict[str, Any] = {}
    for variant in tether_names:
        if not runs[variant]:
            continue
        inproc = [r.inproc for r in runs[variant] if r.inproc]
        if inproc:
            keys = sorted({k for d in inproc for k in d})
            medians = {k: med([d[k] for d in inproc if k in d]) for k in keys}
            total = medians.get("total", float("nan"))
            parse = medians.get("parse", float("nan"))
            rest = med([d["total"] - d["parse"] for d in inproc if "total" in d and "parse" in d])
            overhead = ratio(total, parse)
            wall = stats[variant]["median_wall_s"]
            startup = med(
                [r.wall_s - r.inproc["total"] for r in runs[variant] if "total" in r.inproc]
            )
            print(
                f'\n{variant} in-process breakdown (medians, from its JSON "timings"; parse is '
                "parse work summed over workers):"
            )
            counts = ("total", "files", "bytes", "cached")
            phases = [k for k in PHASE_ORDER if k in medians]
            phases += [k for k in keys if k not in phases and k not in counts]
            for k in phases:
                print(f"  {k:<10} {medians[k]:8.4f} s")
            print(
                f"  {'total':<10} {total:8.4f} s   (files {medians.get('files', 0):.0f}, "
                f"bytes {medians.get('bytes', 0):.0f})"
            )
            cached_counts = [d["cached"] for d in inproc if "cached" in d]
            if cached_counts:
                print(
                    f"  cached     {med(cached_counts):8.0f}     files answered from the fact "
                    f"cache (runs: {', '.join(f'{c:.0f}' for c in cached_counts)})"
                )
            else:
                print('  cached          n/a     (no "cached" in this tether\'s timings)')
            print(f"  rest       {rest:8.4f} s   (total - parse)")
            is_warm = variant.endswith(" warm")
            print(
                f"  total/parse {overhead:7.2f}x"
                + ("   (not a target: cached files are not parsed)" if is_warm else "")
            )
            print(
                f"  process wall {wall:.4f} s vs in-process total {total:.4f} s: "
                f"{startup:.4f} s interpreter start-up, imports and exit"
            )
            breakdown[variant] = {
                "medians": medians,
                "rest_s": rest,
                "total_over_parse": overhead,
                "startup_s": startup,
            }
            cold_name = variant.removesuffix(" warm")
            if is_warm and cold_name in stats:
                cold_wall = stats[cold_name]["median_wall_s"]
                cold_total = breakdown.get(cold_name, {}).get("medians", {}).get("total")
                line = f"  warm vs cold: wall {wall:.4f} s vs {cold_wall:.4f} s"
                if cold_total:
                    line += f", in-process total {total:.4f} s vs {cold_total:.4f} s"
                print(line + f" ({ratio(cold_wall, wall):.2f}x faster wall)")
                breakdown[variant]["cold_over_warm_wall"] = ratio(cold_wall, wall)
            if not is_warm:
                verdicts[f"overhead:{variant}"] = {
                    "value": overhead,
                    "target": OVERHEAD_TARGET,
                    "holds": overhead <= OVERHEAD_TARGET,
                }
        else:
            print(f'\n{variant} in-process breakdown: not available (no "timings" in its JSON)')

    print("\ntargets:")
    if "speedup" in verdicts:
        v = verdicts["speedup"]
        print(
            f"  [{'PASS' if v['holds'] else 'FAIL'}] tether >= {SPEEDUP_TARGET:.0f}x faster "
            f"than Checkov (median wall): {v['value']:.1f}x"
        )
    else:
        print("  [n/a ] speed-up: needs both tools")
    overheads = [k for k in verdicts if k.startswith("overhead:")]
    for key in overheads:
        v = verdicts[key]
        print(
            f"  [{'PASS' if v['holds'] else 'FAIL'}] {key.split(':', 1)[1]} (cold) total <= "
            f"{OVERHEAD_TARGET}x parse: {v['value']:.2f}x"
        )
    if not overheads:
        print("  [n/a ] total/parse: needs tether's in-process timings")
    for p in problems:
        print(f"  note: {p}")

    study = []
    if args.flag_study and checkov:
        study = flag_study(checkov, corpus, args.flag_study_runs, args.timeout)

    results = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg": {"before": load_before, "after": load_after},
        },
        "work_tree": tree,
        "rev": args.rev,
        "tether_sources": str(src) if src else None,
        "tether_cache": {"cold": cache_mode, "warm_rerun": args.warm},
        "corpus": {
            **stats_corpus,
            "seed": None if args.corpus else seed,
            "generated": not args.corpus,
        },
        "versions": versions,
        "commands": {
            "tether": tether_argv(
                tether,
                corpus,
                Path("OUT.json"),
                ["--no-cache"] if args.no_cache else ["--cache-dir", "FRESH_EMPTY_DIR"],
            )
            if tether
            else None,
            "checkov": checkov_argv(checkov, corpus) if checkov else None,
            "checkov_env": CHECKOV_OFFLINE_ENV,
        },
        "runs_per_tool": args.runs,
        "summary": stats,
        "ratios": {
            "wall_checkov_over_tether": verdicts.get("speedup", {}).get("value"),
            "rss_checkov_over_tether": verdicts.get("rss_ratio"),
        },
        "targets": {k: v for k, v in verdicts.items() if isinstance(v, dict)},
        "tether": {**tether_info, "breakdown": breakdown},
        "checkov": checkov_info,
        "runs": {k: [asdict(r) for r in v] for k, v in runs.items()},
        "flag_study": study,
        "notes": problems,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.results}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

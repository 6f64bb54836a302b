#!/usr/bin/env python3
"""Issue 11: tether against its own parse floor (and zizmor) on Terraform-, Kubernetes- and
workflow-heavy corpora, at several scales, in one run.

Usage::

    python bench/perf.py [--scale 1,8,64] [--runs 3] [--corpus-kind terraform,kubernetes,workflows]
                         [--results PATH] [--zizmor PATH] [--tether PATH] [--rev REV]
                         [--cache cold-facts|none|warm|warm-facts|one-changed] [--profile N]

For every corpus kind and scale it generates (or reuses) a deterministic corpus under
``bench/.work/perf-corpus/`` (bench/gen_terraform.py, gen_kubernetes.py, gen_workflows.py),
then times, alternating, after one untimed warm-up each:

* ``tether scan CORPUS --root CORPUS --format json --output F`` (parse workers where they
  pay) and the same with ``-j 1``;
* the parse floor, ``python bench/floor.py CORPUS --output F``: tether's own parsers alone
  on the files the scan parses;
* for the workflow corpus, ``zizmor --offline --no-progress --color never --format json
  CORPUS`` (stdout to a file; exit codes 10-14 mean findings).

Every run goes through bench/run.py's fork + ``wait4`` launcher (``measure``): wall time
from fork to reap, including interpreter start-up; peak RSS; CPU. tether's in-process
``timings`` come from its JSON report, the floor's from its own. A Markdown table is printed
per corpus and a summary at the end; every run goes to ``--results`` (default
``bench/.work/perf-results.json``).

It is a report, not a gate: exit 0 once the tools have run (the goals, scan total <= 1.25x the
parse floor and tether <= 1.0x zizmor's wall time, are printed as PASS/FAIL), 2 on a setup
error (a missing binary, a failed install, a tool that fails its warm-up).

Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import pstats
import secrets
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import gen_kubernetes  # noqa: E402
import gen_terraform  # noqa: E402
import gen_workflows  # noqa: E402
import run as harness  # noqa: E402  (bench/run.py: the launcher, measure(), find_tether)

REPO_ROOT = BENCH_DIR.parent
WORK_DIR = harness.WORK_DIR
CORPUS_DIR = WORK_DIR / "perf-corpus"
KINDS = ("terraform", "kubernetes", "workflows")
OVERHEAD_TARGET = 1.25  # tether's in-process total over the parse floor
ZIZMOR_TARGET = 1.0  # tether's wall time over zizmor's
ZIZMOR_FINDING_CODES = (10, 11, 12, 13, 14)  # zizmor's "findings at severity X" exit codes
ZIZMOR_ENV_DROP = ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")
TOOLS = ("tether", "tether -j 1", "parse floor", "zizmor")
# the rule cache's files in tether's cache directory (scanner/policy/cache.py: rules-v2.json,
# validated-v1.json), kept by --cache cold-facts; everything else there is dropped
RULE_CACHE_PREFIXES = ("rules-", "validated-")

SetupError = harness.SetupError
Run = harness.Run


# --------------------------------------------------------------------------------------
# Corpora
# --------------------------------------------------------------------------------------


def default_seed(kind: str) -> int:
    mod = {"terraform": gen_terraform, "kubernetes": gen_kubernetes, "workflows": gen_workflows}
    return int(mod[kind].DEFAULT_SEED)


def corpus_files(kind: str, scale: int, seed: int) -> dict[str, str]:
    if kind == "terraform":
        # the 1x corpus at the root, N-1 more modules (other seeds) under stacks/
        files = dict(gen_terraform.generate(gen_terraform.DEFAULT_KB, seed))
        for i in range(1, scale):
            for rel, text in gen_terraform.generate(gen_terraform.DEFAULT_KB, seed + i).items():
                files[f"stacks/stack-{i:02d}/{rel}"] = text
        return files
    if kind == "kubernetes":
        return gen_kubernetes.generate(scale, seed)
    return gen_workflows.generate(scale, seed)


def corpus_stamp(kind: str, scale: int, seed: int) -> str:
    h = hashlib.sha256(f"{kind}\0{scale}\0{seed}\0".encode())
    for name in ("gen_terraform.py", "gen_kubernetes.py", "gen_workflows.py"):
        h.update((BENCH_DIR / name).read_bytes())
    return h.hexdigest()


def prepare_corpus(kind: str, scale: int, seed: int) -> Path:
    """The corpus directory, generated unless an identical one is already there."""
    path = CORPUS_DIR / f"{kind}-x{scale}"
    stamp_file = CORPUS_DIR / f"{kind}-x{scale}.stamp"
    stamp = corpus_stamp(kind, scale, seed)
    if path.is_dir() and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        return path
    shutil.rmtree(path, ignore_errors=True)
    stamp_file.unlink(missing_ok=True)
    count, total = gen_kubernetes.write_files(path, corpus_files(kind, scale, seed), ())
    stamp_file.write_text(stamp + "\n")
    print(f"generated {kind} x{scale}: {count} files, {total / 1024:.1f} KiB in {path}")
    return path


def corpus_stats(path: Path) -> dict[str, Any]:
    files = [p for p in path.rglob("*") if p.is_file()]
    workflows = [
        p
        for p in files
        if p.suffix in (".yml", ".yaml")
        and (p.parent.parts[-2:] == (".github", "workflows") or p.stem == "action")
    ]
    return {
        "path": str(path),
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "workflow_inputs": len(workflows),
    }


# --------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------


def ensure_zizmor(explicit: str | None, spec: str) -> Path:
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SetupError(f"--zizmor {explicit}: not an executable file")
        return path
    venv_dir = WORK_DIR / "zizmor-venv"
    binary = venv_dir / "bin" / "zizmor"
    if binary.is_file():
        return binary
    print(f"creating zizmor venv at {venv_dir} (pip install {spec}) ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    try:
        subprocess.run([*pip, spec], check=True)
    except subprocess.CalledProcessError as exc:
        raise SetupError(f"pip install {spec} failed: {exc}") from None
    if not binary.is_file():
        raise SetupError(f"pip install {spec} did not produce {binary}")
    return binary


def tether_python(tether: Path) -> str:
    """The interpreter of the tether console script (its shebang), for the floor."""
    try:
        first = tether.read_bytes()[:256].split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return sys.executable
    if first.startswith("#!"):
        cand = first[2:].strip().split()[0]
        if os.access(cand, os.X_OK):
            return cand
    return sys.executable


class Tools:
    def __init__(self, args: argparse.Namespace) -> None:
        self.tether = harness.find_tether(args.tether)
        self.python = tether_python(self.tether)
        self.zizmor: Path | None = None
        if "workflows" in args.kinds and not args.skip_zizmor:
            self.zizmor = ensure_zizmor(args.zizmor, args.zizmor_spec)
        self.src = harness.export_rev(args.rev) if args.rev else None
        self.cache_mode = args.cache
        self.cache_dir = WORK_DIR / "tether-cache"
        self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.cache_dir, 0o700)
        self.timeout = args.timeout

    def tether_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("TETHER_NO_CACHE", None)
        env["TETHER_CACHE_DIR"] = str(self.cache_dir)
        if self.cache_mode == "none":
            env["TETHER_NO_CACHE"] = "1"
        env.pop("TETHER_NO_RESULT_CACHE", None)
        if self.cache_mode == "warm-facts":
            # what a rescan costs when some file changed: facts from the cache, judged afresh
            env["TETHER_NO_RESULT_CACHE"] = "1"
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        return env

    def zizmor_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ZIZMOR_ENV_DROP}
        env["NO_COLOR"] = "1"
        return env

    def forget_facts(self) -> None:
        """cold-facts: drop everything in the cache but the rule cache's files, so every
        timed scan parses every file, as it does on content it has not seen, and keeps the
        compiled-rule checks. What is dropped is whatever the fact cache is at this tether's
        revision (a `facts-v1/` directory of entry files, or a `facts-v1.sqlite3` database
        with its `-wal`/`-shm` files) and any other per-content cache (SARIF line hashes):
        keeping only what is known to be the rule cache cannot leave a new one warm."""
        if self.cache_mode != "cold-facts" or not self.cache_dir.is_dir():
            return
        for entry in self.cache_dir.iterdir():
            if entry.name.startswith(RULE_CACHE_PREFIXES) and entry.is_file():
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def tether_argv(self, corpus: Path, out: Path, jobs1: bool) -> list[str]:
        argv = [str(self.tether), "scan", str(corpus), "--root", str(corpus)]
        argv += ["--format", "json", "--output", str(out)]
        return argv + (["--jobs", "1"] if jobs1 else [])

    def floor_argv(self, corpus: Path, out: Path) -> list[str]:
        return [self.python, str(BENCH_DIR / "floor.py"), str(corpus), "--output", str(out)]

    def zizmor_argv(self, corpus: Path) -> list[str]:
        assert self.zizmor is not None
        return [
            str(self.zizmor),
            "--offline",
            "--no-progress",
            "--color",
            "never",
            "--format",
            "json",
            str(corpus),
        ]

    def versions(self) -> dict[str, str]:
        out = {"tether": harness.tool_version([str(self.tether), "--version"], self.tether_env())}
        if self.zizmor:
            out["zizmor"] = harness.tool_version([str(self.zizmor), "--version"])
        return out


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------------------
# One corpus
# --------------------------------------------------------------------------------------


def _file_to_edit(corpus: Path) -> Path:
    """The file --cache one-changed edits: the first YAML, Terraform or Dockerfile file of
    the corpus in path order (a comment is valid in each)."""
    for p in sorted(corpus.rglob("*")):
        if p.is_file() and (p.suffix in (".yaml", ".yml", ".tf") or p.name == "Dockerfile"):
            return p
    raise SetupError(f"{corpus}: no file to edit for --cache one-changed")


def bench_corpus(tools: Tools, kind: str, scale: int, corpus: Path, runs: int) -> dict[str, Any]:
    changed = _file_to_edit(corpus)
    original = changed.read_bytes()
    try:
        return _bench_corpus(tools, kind, scale, corpus, runs, changed)
    finally:
        changed.write_bytes(original)


def _bench_corpus(
    tools: Tools, kind: str, scale: int, corpus: Path, runs: int, changed: Path
) -> dict[str, Any]:
    tmp = WORK_DIR / "perf-run"
    tmp.mkdir(parents=True, exist_ok=True)
    stats_corpus = corpus_stats(corpus)
    load_before = loadavg()
    notes: list[str] = []
    tether_env = tools.tether_env()

    edits = 0

    def run_tether(jobs1: bool) -> Run:
        nonlocal edits
        out = tmp / "tether.json"
        out.unlink(missing_ok=True)
        tools.forget_facts()
        if tools.cache_mode == "one-changed":
            # one file's bytes change before every run (a comment line of its own): the
            # result cache cannot answer, every other file is as the last run found it
            # (unique across invocations too: a content seen by an earlier run of the bench
            # would be answered by the result cache, which keys by content)
            edits += 1
            with changed.open("a", encoding="utf-8") as fh:
                fh.write(f"# bench edit {edits} {secrets.token_hex(8)}\n")
        name = "tether -j 1" if jobs1 else "tether"
        r = harness.measure(
            name,
            tools.tether_argv(corpus, out, jobs1),
            tmp / "tether.stdout",
            tmp / "tether.stderr",
            tether_env,
            tools.timeout,
        )
        r.inproc = harness.tether_timings(read_json(out))
        return r

    def run_floor() -> Run:
        out = tmp / "floor.json"
        out.unlink(missing_ok=True)
        r = harness.measure(
            "parse floor",
            tools.floor_argv(corpus, out),
            tmp / "floor.stdout",
            tmp / "floor.stderr",
            tether_env,
            tools.timeout,
        )
        data = read_json(out)
        if isinstance(data, dict):
            r.inproc = {k: float(v) for k, v in data.get("timings", {}).items()}
        return r

    def run_zizmor() -> Run:
        return harness.measure(
            "zizmor",
            tools.zizmor_argv(corpus),
            tmp / "zizmor.json",
            tmp / "zizmor.stderr",
            tools.zizmor_env(),
            tools.timeout,
        )

    order: list[tuple[str, Callable[[], Run]]] = [
        ("tether", lambda: run_tether(False)),
        ("tether -j 1", lambda: run_tether(True)),
        ("parse floor", run_floor),
    ]
    if kind == "workflows" and tools.zizmor is not None:
        order.append(("zizmor", run_zizmor))

    # warm-ups: page cache, byte code, the compiled-rule cache; and a check that each works
    info: dict[str, Any] = {}
    for name, fn in order:
        warm = fn()
        if name.startswith("tether"):
            report = read_json(tmp / "tether.json")
            if not isinstance(report, dict) or not warm.inproc:
                raise SetupError(
                    f"{name} on {corpus} wrote no JSON report with timings (exit "
                    f"{warm.exit_code}):\n{harness.tail(tmp / 'tether.stderr')}"
                )
            diags = report.get("diagnostics") or []
            info[name] = {
                "exit_code": warm.exit_code,
                "findings": len(report.get("findings") or []),
                "diagnostics": len(diags),
                "files": warm.inproc.get("files"),
            }
            if diags and name == "tether":
                codes = sorted({str(d.get("code")) for d in diags if isinstance(d, dict)})
                notes.append(f"tether reported {len(diags)} diagnostics ({', '.join(codes)})")
        elif name == "parse floor":
            data = read_json(tmp / "floor.json")
            if warm.exit_code != 0 or not isinstance(data, dict):
                raise SetupError(
                    f"floor.py failed on {corpus} (exit {warm.exit_code}):\n"
                    f"{harness.tail(tmp / 'floor.stderr')}"
                )
            info[name] = {k: v for k, v in data.items() if k != "by_kind"}
            info[name]["by_kind"] = data.get("by_kind")
            if data.get("parse_errors"):
                notes.append(f"the floor's parsers reported {data['parse_errors']} errors")
        else:
            findings = read_json(tmp / "zizmor.json")
            if warm.exit_code not in (0, *ZIZMOR_FINDING_CODES) or not isinstance(findings, list):
                raise SetupError(
                    f"zizmor failed on {corpus} (exit {warm.exit_code}):\n"
                    f"{harness.tail(tmp / 'zizmor.stderr')}"
                )
            audited = sum(
                1
                for line in (tmp / "zizmor.stderr").read_text(errors="replace").splitlines()
                if "completed" in line
            )
            info[name] = {
                "exit_code": warm.exit_code,
                "findings": len(findings),
                "inputs_audited": audited,
            }
            if audited != stats_corpus["workflow_inputs"]:
                notes.append(
                    f"zizmor audited {audited} inputs; the corpus has "
                    f"{stats_corpus['workflow_inputs']} workflow and action files"
                )
    t_files = info["tether"].get("files")
    f_files = info["parse floor"].get("files")
    if t_files is not None and f_files is not None and int(t_files) != int(f_files):
        notes.append(f"tether read {t_files:.0f} files, the floor {f_files}")

    results: dict[str, list[Run]] = {name: [] for name, _ in order}
    for i in range(runs):
        for name, fn in order:
            r = fn()
            results[name].append(r)
            flag = " TIMEOUT" if r.timed_out else ""
            print(
                f"  {kind} x{scale} run {i + 1}/{runs} {name:<12} {r.wall_s:8.3f} s "
                f"{r.max_rss_mib:7.1f} MiB  exit {r.exit_code}{flag}",
                flush=True,
            )
            if r.timed_out:
                notes.append(f"{name} run {i + 1} timed out after {tools.timeout} s")
            if name.startswith("tether") and r.inproc.get("reused"):
                notes.append(
                    f"{name} run {i + 1}: judged results came from the result cache (nothing "
                    "parsed or judged)"
                )
            elif name.startswith("tether") and r.inproc.get("cached"):
                notes.append(
                    f"{name} run {i + 1}: {r.inproc['cached']:.0f} files came from the fact "
                    "cache (not parsed)"
                )
    load_after = loadavg()
    summary = {name: summarise(rs) for name, rs in results.items() if rs}
    ratios = compute_ratios(summary)
    return {
        "kind": kind,
        "scale": scale,
        "corpus": stats_corpus,
        "warmup": info,
        "summary": summary,
        "ratios": ratios,
        "notes": sorted(set(notes)),
        "loadavg": {"before": load_before, "after": load_after},
        "runs": {name: [asdict(r) for r in rs] for name, rs in results.items()},
    }


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the machine shows in them."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def summarise(runs: Sequence[Run]) -> dict[str, Any]:
    out: dict[str, Any] = dict(harness.summarise(runs))
    inproc = [r.inproc for r in runs if r.inproc]
    keys = sorted({k for d in inproc for k in d})
    out["inproc"] = {k: harness.med([d[k] for d in inproc if k in d]) for k in keys}
    return out


def compute_ratios(summary: Mapping[str, Mapping[str, Any]]) -> dict[str, float | None]:
    def inproc(tool: str, key: str) -> float | None:
        v = summary.get(tool, {}).get("inproc", {}).get(key)
        return float(v) if v is not None else None

    def wall(tool: str) -> float | None:
        s = summary.get(tool)
        return float(s["median_wall_s"]) if s else None

    def cpu(tool: str) -> float | None:
        s = summary.get(tool)
        return float(s["median_cpu_s"]) if s else None

    floor = inproc("parse floor", "parse")
    out: dict[str, float | None] = {}
    for tool in ("tether", "tether -j 1"):
        total, parse = inproc(tool, "total"), inproc(tool, "parse")
        out[f"{tool}: total/parse"] = total / parse if total and parse else None
        out[f"{tool}: total/floor"] = total / floor if total and floor else None
        w, z = wall(tool), wall("zizmor")
        out[f"{tool}: wall/zizmor"] = w / z if w and z else None
        c, fc, zc = cpu(tool), cpu("parse floor"), cpu("zizmor")
        out[f"{tool}: cpu/floor cpu"] = c / fc if c and fc else None
        out[f"{tool}: cpu/zizmor cpu"] = c / zc if c and zc else None
    return out


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".3f", suffix: str = "") -> str:
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:{spec}}{suffix}"


def corpus_table(res: Mapping[str, Any]) -> list[str]:
    c = res["corpus"]
    lines = [
        f"### {res['kind']} x{res['scale']} ({c['files']} files, {c['bytes'] / 1024:.0f} KiB)",
        "",
        "| tool | median wall s | peak RSS MiB | CPU s | parse s | facts s | policy s | total s "
        "| total/parse | total/floor | CPU/floor CPU | wall vs zizmor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ratios = res["ratios"]
    for tool, s in res["summary"].items():
        ip = s.get("inproc", {})
        total, parse = ip.get("total"), ip.get("parse")
        is_tether = tool.startswith("tether")
        lines.append(
            "| "
            + " | ".join(
                [
                    tool,
                    fmt(s["median_wall_s"]),
                    fmt(s["median_max_rss_mib"], ".1f"),
                    fmt(s["median_cpu_s"], ".2f"),
                    fmt(parse),
                    fmt(ip.get("facts")),
                    fmt(ip.get("policy")),
                    fmt(total),
                    fmt(total / parse if total and parse else None, ".2f", "x"),
                    fmt(ratios.get(f"{tool}: total/floor") if is_tether else None, ".2f", "x"),
                    fmt(ratios.get(f"{tool}: cpu/floor cpu") if is_tether else None, ".2f", "x"),
                    fmt(ratios.get(f"{tool}: wall/zizmor") if is_tether else None, ".2f", "x"),
                ]
            )
            + " |"
        )
    lines.append("")
    floor = res["summary"].get("parse floor", {}).get("inproc", {})
    if floor:
        lines.append(
            f"parse floor: parse {fmt(floor.get('parse'))} s, read {fmt(floor.get('read'))} s, "
            f"discover {fmt(floor.get('discover'))} s (the floor's total is all three). "
            "total/floor = tether's in-process total over the floor's parse; CPU/floor CPU = "
            "process CPU (user + system, start-up included) over the floor process's."
        )
    load = res.get("loadavg", {})
    if load.get("before"):
        lines.append(
            f"load average (1/5/15 min) before {load['before']}, after {load.get('after')}, "
            f"on {os.cpu_count()} CPUs (above the CPU count: other work shared the machine)."
        )
    goal = ratios.get("tether -j 1: total/floor")
    if goal is not None:
        verdict = "PASS" if goal <= OVERHEAD_TARGET else "FAIL"
        lines.append(
            f"- [{verdict}] tether -j 1 in-process total <= {OVERHEAD_TARGET}x the parse floor: "
            f"{goal:.2f}x"
        )
    for tool in ("tether", "tether -j 1"):
        z = ratios.get(f"{tool}: wall/zizmor")
        if z is not None:
            verdict = "PASS" if z <= ZIZMOR_TARGET else "FAIL"
            lines.append(
                f"- [{verdict}] {tool} wall <= {ZIZMOR_TARGET}x zizmor's (both with start-up): "
                f"{z:.2f}x"
            )
    for note in res["notes"]:
        lines.append(f"- note: {note}")
    lines.append("")
    return lines


def summary_table(all_results: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| corpus | files | KiB | tether s | tether -j 1 s | floor parse s | -j 1 total s "
        "| total/floor | -j 1 CPU/floor CPU | tether RSS MiB | zizmor s | zizmor RSS MiB "
        "| tether/zizmor | CPU tether/zizmor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for res in all_results:
        s = res["summary"]
        r = res["ratios"]
        z = s.get("zizmor", {})
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{res['kind']} x{res['scale']}",
                    str(res["corpus"]["files"]),
                    f"{res['corpus']['bytes'] / 1024:.0f}",
                    fmt(s["tether"]["median_wall_s"]),
                    fmt(s["tether -j 1"]["median_wall_s"]),
                    fmt(s["parse floor"].get("inproc", {}).get("parse")),
                    fmt(s["tether -j 1"].get("inproc", {}).get("total")),
                    fmt(r.get("tether -j 1: total/floor"), ".2f", "x"),
                    fmt(r.get("tether -j 1: cpu/floor cpu"), ".2f", "x"),
                    fmt(s["tether"]["median_max_rss_mib"], ".1f"),
                    fmt(z.get("median_wall_s")),
                    fmt(z.get("median_max_rss_mib"), ".1f"),
                    fmt(r.get("tether: wall/zizmor"), ".2f", "x"),
                    fmt(r.get("tether: cpu/zizmor cpu"), ".2f", "x"),
                ]
            )
            + " |"
        )
    return lines


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------


def profile(tools: Tools, kind: str, scale: int, corpus: Path, top: int) -> list[str]:
    """``python -m cProfile -m scanner.cli scan CORPUS ... -j 1`` (one process: workers would
    hide their time from the profiler); the ``top`` entries by cumulative time."""
    out = WORK_DIR / f"perf-profile-{kind}-x{scale}.prof"
    report = WORK_DIR / "perf-run" / "profile.json"
    argv = [tools.python, "-m", "cProfile", "-o", str(out), "-m", "scanner.cli"]
    argv += tools.tether_argv(corpus, report, True)[1:]
    tools.forget_facts()
    # cwd: not the checkout, so that `-m scanner.cli` imports the tether being measured
    subprocess.run(
        argv,
        cwd=WORK_DIR,
        env=tools.tether_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=tools.timeout,
    )
    if not out.is_file():
        return [f"(profile of {kind} x{scale} failed)"]
    text_file = out.with_suffix(".txt")
    listings: list[str] = []
    # everything (start-up, click, imports included), then tether's own functions only
    for title, restriction in (("all functions", ()), ("scanner/ only", ("scanner/",))):
        with open(text_file, "w") as fh:
            stats = pstats.Stats(str(out), stream=fh)
            stats.sort_stats("cumulative").print_stats(*restriction, top)
        lines = text_file.read_text().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        total = next((line.strip() for line in lines if "function calls" in line), "")
        listings.append(f"  {title} ({total}):")
        listings += [line.replace(str(REPO_ROOT) + "/", "") for line in lines[start:] if line]
    text_file.write_text("\n".join(listings) + "\n")
    head = f"profile {kind} x{scale} (tether -j 1, top {top} by cumulative time; {out}):"
    return [head, *listings]


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def csv_ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    if not values or any(not 1 <= v <= gen_kubernetes.MAX_SCALE for v in values):
        raise argparse.ArgumentTypeError(f"scales must be 1..{gen_kubernetes.MAX_SCALE}: {text}")
    return values


def csv_kinds(text: str) -> list[str]:
    kinds = [x.strip() for x in text.split(",") if x.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"corpus kinds are {', '.join(KINDS)}: {text}")
    return kinds


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        description="tether vs its parse floor (and zizmor) on three corpus kinds (issue 11)."
    )
    parser.add_argument("--scale", type=csv_ints, default=[1, 8], help="e.g. 1,8,64 (default 1,8)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool (default 3)")
    parser.add_argument(
        "--corpus-kind",
        dest="kinds",
        type=csv_kinds,
        default=list(KINDS),
        help="terraform,kubernetes,workflows (default all)",
    )
    parser.add_argument("--results", type=Path, default=WORK_DIR / "perf-results.json")
    parser.add_argument("--zizmor", help="zizmor binary (default: bench/.work/zizmor-venv)")
    parser.add_argument("--zizmor-spec", default="zizmor", help="what that venv installs")
    parser.add_argument("--skip-zizmor", action="store_true", help="do not run zizmor")
    parser.add_argument("--tether", help="tether binary (default: next to python, or on PATH)")
    parser.add_argument(
        "--rev",
        help="measure tether's sources at this git revision (extracted under bench/.work/ "
        "and put first on PYTHONPATH) instead of the installed work tree",
    )
    parser.add_argument(
        "--cache",
        choices=("cold-facts", "none", "warm", "warm-facts", "one-changed"),
        default="cold-facts",
        help="tether's cache (in bench/.work/tether-cache): compiled rules kept and any fact "
        "or result cache emptied before each run (default), no cache at all, everything kept "
        "(a rescan of the unchanged corpus: the result cache answers), or everything kept with "
        "the result cache off (every file's facts from the fact cache, judged afresh), or "
        "everything kept and one file's bytes changed before each run (a comment line): what "
        "a rescan costs after an edit",
    )
    parser.add_argument("--seed", type=int, help="generator seed (default: each generator's)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile tether -j 1 on each corpus and print the top N cumulative entries",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per run, seconds")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be >= 1")

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tools = Tools(args)
    versions = tools.versions()
    print(
        f"tether: {tools.tether} ({versions.get('tether')})"
        + (f", sources from {tools.src}" if tools.src else "")
        + f"; floor: {tools.python} bench/floor.py"
    )
    if tools.zizmor:
        print(f"zizmor: {tools.zizmor} ({versions.get('zizmor')})")
    print(f"cache: {args.cache}; {args.runs} timed runs per tool; {os.cpu_count()} CPUs")

    all_results: list[dict[str, Any]] = []
    profiles: list[str] = []
    for kind in args.kinds:
        seed = default_seed(kind) if args.seed is None else args.seed
        for scale in args.scale:
            corpus = prepare_corpus(kind, scale, seed)
            res = bench_corpus(tools, kind, scale, corpus, args.runs)
            res["seed"] = seed
            all_results.append(res)
            print()
            print("\n".join(corpus_table(res)), flush=True)
            if args.profile:
                lines = profile(tools, kind, scale, corpus, args.profile)
                profiles += [*lines, ""]
                print("\n".join(lines) + "\n", flush=True)

    print("## Summary\n")
    print("\n".join(summary_table(all_results)))
    head = ""
    with contextlib.suppress(OSError):
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    results = {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "versions": versions,
        "work_tree_head": head,
        "rev": args.rev,
        "tether_sources": str(tools.src) if tools.src else None,
        "cache": args.cache,
        "runs_per_tool": args.runs,
        "commands": {
            "tether": tools.tether_argv(Path("CORPUS"), Path("OUT.json"), False),
            "floor": tools.floor_argv(Path("CORPUS"), Path("OUT.json")),
            "zizmor": tools.zizmor_argv(Path("CORPUS")) if tools.zizmor else None,
        },
        "targets": {"total_over_floor": OVERHEAD_TARGET, "tether_over_zizmor": ZIZMOR_TARGET},
        "corpora": all_results,
        "profiles": profiles,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nresults written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

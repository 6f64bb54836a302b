"""Parsing in worker processes: tree-sitter and the YAML composer hold the GIL, so threads do
not help; forked workers do. Each worker takes a contiguous slice of the (sorted) file list,
balanced by bytes, and sends back its facts, diagnostics and timings; the parent joins them in
slice order, so the result is exactly the serial one.

Fork is used only where it is cheap and safe: a POSIX `os.fork`, more than one CPU, no other
thread running, and enough bytes to parse that a worker pays for itself. A worker that fails
in any way has its slice redone in the parent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .model import Diagnostic, Fact, Timings
from .source import SourceFile

MIN_BYTES_PER_JOB = 128 * 1024  # below this a worker costs more than it saves
Observe = Callable[[Sequence[SourceFile], Timings], tuple[list[Fact], list[Diagnostic]]]


def _sizes(files: Sequence[SourceFile]) -> list[int]:
    out = []
    for f in files:
        try:
            out.append(os.stat(f.abspath).st_size)
        except OSError:
            out.append(0)
    return out


def plan(files: Sequence[SourceFile], jobs: int | None) -> list[Sequence[SourceFile]]:
    """Contiguous slices of roughly equal bytes; one slice when parallelism would not pay."""
    if not hasattr(os, "fork") or threading.active_count() > 1 or len(files) < 2:
        return [files]
    sizes = _sizes(files)
    total = sum(sizes)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = min(jobs or cpus or 1, total // MIN_BYTES_PER_JOB, len(files))
    if n <= 1:
        return [files]
    slices: list[Sequence[SourceFile]] = []
    start, acc, target = 0, 0, total / n
    for i, size in enumerate(sizes):
        acc += size
        if acc >= target * (len(slices) + 1) and len(slices) < n - 1:
            slices.append(files[start : i + 1])
            start = i + 1
    slices.append(files[start:])
    return [s for s in slices if s]


def _child(r: int, w: int, work: Sequence[SourceFile], observe: Observe) -> None:
    os.close(r)
    code = 1
    try:
        t = Timings()
        facts, diags = observe(work, t)
        import pickle

        payload = pickle.dumps((facts, diags, t), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(payload)
        while view:
            view = view[os.write(w, view) :]
        code = 0
    finally:
        # skip interpreter teardown (freeing every parse tree): the parent has the results
        os._exit(code)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b"".join(chunks)


def run(
    files: Sequence[SourceFile], observe: Observe, timings: Timings, jobs: int | None = None
) -> tuple[list[Fact], list[Diagnostic]]:
    slices = plan(files, jobs)
    if len(slices) == 1:
        return observe(files, timings)
    import pickle  # only when there are workers to hear from

    children: list[tuple[int, int, Sequence[SourceFile]]] = []
    for work in slices[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker
            _child(r, w, work, observe)
        os.close(w)
        children.append((pid, r, work))
    results: list[tuple[list[Fact], list[Diagnostic]]] = [observe(slices[0], timings)]
    for pid, r, work in children:
        payload = _read_all(r)
        _, status = os.waitpid(pid, 0)
        got: Any = None
        if status == 0:
            try:
                got = pickle.loads(payload)
            except Exception:  # a truncated payload: redo below
                got = None
        if got is None:
            results.append(observe(work, timings))
            continue
        facts, diags, t = got
        timings.parse += t.parse
        timings.facts += t.facts
        timings.files += t.files
        timings.bytes += t.bytes
        timings.cached += t.cached
        results.append((facts, diags))
    all_facts = [f for fs, _ in results for f in fs]
    all_diags = [d for _, ds in results for d in ds]
    return all_facts, all_diags

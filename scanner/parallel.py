"""Parsing in worker processes: tree-sitter and the YAML composer hold the GIL, so threads do
not help; forked workers do, when there is an idle CPU for them (see default_jobs). Each
worker takes a contiguous slice of the (sorted) file list, balanced by bytes, and sends back
its facts, diagnostics and timings; the parent joins them in slice order, so the result is
exactly the serial one.

Fork is used only where it is cheap and safe: a POSIX `os.fork`, more than one CPU, no other
thread running, and enough bytes to parse that a worker pays for itself. A worker that fails
in any way has its slice redone in the parent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from .model import Diagnostic, Fact, Timings
from .source import SourceFile
from .spool import Spool

# below this a worker costs more than it saves (measured: 2 MB of Kubernetes YAML, 0.6 s of
# parsing, gained nothing with two workers on two CPUs; 15 MB gained 1.3-2.6 s)
MIN_BYTES_PER_JOB = 1024 * 1024
# what a worker may hold at its peak: the parse tree of a file at the size cap (tree-sitter
# holds ~170 bytes per byte of input before Terraform is cut into chunks) and its facts
WORKER_PEAK_BYTES = 300 * 1024 * 1024
Observe = Callable[[Sequence[SourceFile], Timings], tuple[list[Fact], list[Diagnostic]]]
Side = tuple[Callable[[], Any], Callable[[Any], None]]
# makes `observe`, within it, hand each file's facts to the function given as they are made
Emitting = Callable[[Callable[[list[Fact]], bool]], AbstractContextManager[None]]
# facts a streaming worker writes to its spool at a time (and the parent reads back at a
# time: 2,000 large facts held at once set the parent's peak on bench/mem.py, 154 -> 150 MiB)
SPOOL_BATCH = 250


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
    n = min(jobs or default_jobs(), total // MIN_BYTES_PER_JOB, len(files))
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


def default_jobs() -> int:
    """Workers that can gain: one per CPU that is idle (the CPUs this process may use, less
    the load average beyond this process: on a runner whose other CPU is busy a second
    worker only shares one CPU and adds its start and its pickling), and no more than the
    available memory holds at a worker's peak."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)  # the 1-minute average counts this process
    except (AttributeError, OSError):
        busy = 0.0
    idle = max(1, round(cpus - busy))
    return max(1, min(cpus, idle, _memory_room() // WORKER_PEAK_BYTES or 1))


def _memory_room() -> int:
    """Bytes of memory available (Linux: MemAvailable), or a large number where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 1 << 40


def _child(
    r: int,
    w: int,
    work: Sequence[SourceFile],
    observe: Observe,
    side: Side | None,
    spool: Spool[Fact] | None = None,
    emitting: Emitting | None = None,
) -> None:
    os.close(r)
    code = 1
    try:
        import pickle

        t = Timings()
        state = None
        if spool is not None and emitting is not None:
            # facts go to the spool as they are made, a batch at a time, so this worker holds
            # about a file's facts, not its slice's; the pipe carries the rest
            batch: list[Fact] = []

            def write(facts: list[Fact]) -> bool:
                batch.extend(facts)
                if len(batch) >= SPOOL_BATCH:
                    spool.write(list(batch))
                    batch.clear()
                return True

            with emitting(write):
                facts, diags = observe(work, t)
            if batch or facts:
                spool.write([*batch, *facts])
            facts, state = [], spool.state
        else:
            facts, diags = observe(work, t)
        extra = side[0]() if side is not None else None
        payload = pickle.dumps((facts, diags, t, extra, state), protocol=pickle.HIGHEST_PROTOCOL)
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
    files: Sequence[SourceFile],
    observe: Observe,
    timings: Timings,
    jobs: int | None = None,
    side: Side | None = None,
    emitting: Emitting | None = None,
    emit: Callable[[list[Fact]], bool] | None = None,
) -> tuple[list[Fact], list[Diagnostic]]:
    """`observe` over `files`, in worker processes where that pays; the results in file
    order. `side`: (what a worker's observe left beside its results, how the parent takes
    it in), for state observe keeps out of band (the digests of what it read).

    With `emitting` and `emit`, facts are not returned but handed to `emit` in file order as
    they are made (it says False to stop): the parent's own slice file by file, each
    worker's from a spool (an unnamed temporary file) it writes as it goes, so neither a
    worker nor the parent holds a slice's facts at once."""
    streaming = emitting is not None and emit is not None
    slices = plan(files, jobs)
    if len(slices) == 1:
        if streaming:
            assert emitting is not None and emit is not None
            with emitting(emit):
                return observe(files, timings)
        return observe(files, timings)
    timings.workers = len(slices)
    spools = [Spool[Fact]().open() for _ in slices[1:]] if streaming else None
    try:
        return _fork(slices, observe, timings, side, emitting, emit, spools)
    finally:
        for spool in spools or ():
            spool.close()


def _fork(
    slices: list[Sequence[SourceFile]],
    observe: Observe,
    timings: Timings,
    side: Side | None,
    emitting: Emitting | None,
    emit: Callable[[list[Fact]], bool] | None,
    spools: list[Spool[Fact]] | None,
) -> tuple[list[Fact], list[Diagnostic]]:
    import pickle  # only when there are workers to hear from

    children: list[tuple[int, int, Sequence[SourceFile], Spool[Fact] | None]] = []
    for i, work in enumerate(slices[1:]):
        spool = spools[i] if spools is not None else None
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the worker
            _child(r, w, work, observe, side, spool, emitting)
        os.close(w)
        children.append((pid, r, work, spool))
    collected: list[Fact] = []
    going = True

    def take(facts: list[Fact]) -> bool:
        """Facts in file order: handed to `emit` until it says stop, or collected."""
        nonlocal going
        if emit is None:
            collected.extend(facts)
        else:
            going = going and emit(facts)
        return going

    def here(work: Sequence[SourceFile]) -> list[Diagnostic]:
        if emitting is not None and emit is not None:
            with emitting(take):
                facts, diags = observe(work, timings)
        else:
            facts, diags = observe(work, timings)
        if facts:
            take(facts)
        return diags

    all_diags = here(slices[0])
    for pid, r, work, spool in children:
        payload = _read_all(r)
        _, status = os.waitpid(pid, 0)
        got: Any = None
        if status == 0:
            try:
                got = pickle.loads(payload)
            except Exception:  # a truncated payload: redo below
                got = None
        if got is None:
            # a worker that failed: its slice is redone here (nothing of it was handed on)
            all_diags += here(work)
            continue
        facts, diags, t, extra, state = got
        if spool is not None and state is not None:
            spool.adopt(state)
            for batch in spool.replay():
                if not take(batch):
                    break
            spool.close()  # (its space is given back now, not when all are read)
        if facts:
            take(facts)
        _took(timings, t, side, extra)
        all_diags += diags
    return collected, all_diags


def _took(timings: Timings, t: Timings, side: Side | None, extra: Any) -> None:
    """A worker's timings and side state taken in by the parent."""
    if side is not None:
        side[1](extra)
    timings.parse += t.parse
    timings.facts += t.facts
    timings.files += t.files
    timings.bytes += t.bytes
    timings.cached += t.cached

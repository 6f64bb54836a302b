"""Parsing in worker processes gives exactly the serial result, and survives a worker dying."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from scanner import parallel
from scanner.model import Diagnostic, Fact, Timings
from scanner.scanning import _observe, collect
from scanner.source import SourceFile, walk

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers need os.fork")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gen_terraform.py"), str(out), "--kb", "400"],
        check=True,
        capture_output=True,
    )
    (out / "broken.tf").write_text('resource "x" "y" {\n  a = \n')
    return out


@pytest.fixture(autouse=True)
def small_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 400 KiB corpus is split as a larger repository would be."""
    monkeypatch.setattr(parallel, "MIN_BYTES_PER_JOB", 128 * 1024)


def test_default_workers_follow_idle_cpus_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(parallel, "_memory_room", lambda: 8 << 30)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # this process alone
    assert parallel.default_jobs() == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (2.2, 2.0, 2.0))  # the other CPU is busy
    assert parallel.default_jobs() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(parallel, "_memory_room", lambda: 400 << 20)  # room for one worker
    assert parallel.default_jobs() == 1


def test_plan_splits_large_inputs_into_balanced_contiguous_slices(corpus: Path) -> None:
    files = [f for f in walk(corpus) if isinstance(f, SourceFile)]
    slices = parallel.plan(files, 2)
    assert len(slices) == 2
    assert [f for s in slices for f in s] == files  # contiguous, in order
    small = files[:3]
    assert parallel.plan(small, 2) == [small]  # too few bytes to pay for a worker


def test_workers_give_the_serial_result(corpus: Path) -> None:
    serial_t, par_t = Timings(), Timings()
    serial = collect(corpus, [], serial_t, jobs=1)
    par = collect(corpus, [], par_t, jobs=2)
    assert par == serial
    assert any(d.code == "parse-error" for d in par[1])
    assert (par_t.files, par_t.bytes) == (serial_t.files, serial_t.bytes)
    assert par_t.parse > 0


def test_a_dying_worker_has_its_slice_redone(corpus: Path) -> None:
    parent = os.getpid()

    def observe(files: Sequence[SourceFile], t: Timings) -> tuple[list[Fact], list[Diagnostic]]:
        if os.getpid() != parent:
            os._exit(3)  # the worker dies without a word
        return _observe(files, t)

    files = [f for f in walk(corpus) if isinstance(f, SourceFile)]
    got = parallel.run(files, observe, Timings(), jobs=2)
    assert got == _observe(files, Timings())


def _streamed(
    files: Sequence[SourceFile], observe: Any, jobs: int
) -> tuple[list[list[Fact]], list[Diagnostic], Timings]:
    from scanner.scanning import _emitting

    batches: list[list[Fact]] = []
    t = Timings()
    left, diags = parallel.run(
        files, observe, t, jobs, None, _emitting, lambda fs: batches.append(list(fs)) or True
    )
    assert left == []
    return batches, diags, t


def test_streaming_workers_hand_on_the_serial_facts_in_order(corpus: Path) -> None:
    """Each worker writes its facts to a spool as it makes them; the parent hands them on in
    file order, batch by batch: the facts and diagnostics of the serial run."""
    files = [f for f in walk(corpus) if isinstance(f, SourceFile)]
    serial = _observe(files, Timings())
    batches, diags, t = _streamed(files, _observe, 2)
    assert t.workers == 2
    assert len(batches) > 2
    assert [f for b in batches for f in b] == serial[0]
    assert diags == serial[1]


def test_a_dying_streaming_worker_has_its_slice_redone(corpus: Path) -> None:
    parent = os.getpid()

    def observe(files: Sequence[SourceFile], t: Timings) -> tuple[list[Fact], list[Diagnostic]]:
        got = _observe(files, t)
        if os.getpid() != parent:
            os._exit(3)  # after writing some of its spool, the worker dies without its end
        return got

    files = [f for f in walk(corpus) if isinstance(f, SourceFile)]
    serial = _observe(files, Timings())
    batches, diags, _t = _streamed(files, observe, 2)
    assert [f for b in batches for f in b] == serial[0]
    assert diags == serial[1]


def test_streaming_stops_handing_on_when_told(corpus: Path) -> None:
    from scanner.scanning import _emitting

    files = [f for f in walk(corpus) if isinstance(f, SourceFile)]
    taken: list[Fact] = []

    def emit(fs: list[Fact]) -> bool:
        taken.extend(fs)
        return len(taken) < 10

    parallel.run(files, _observe, Timings(), 2, None, _emitting, emit)
    serial = _observe(files, Timings())[0]
    assert 10 <= len(taken) < len(serial)
    assert taken == serial[: len(taken)]

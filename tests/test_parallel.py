"""Parsing in worker processes gives exactly the serial result, and survives a worker dying."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

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

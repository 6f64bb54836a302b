"""The org scan's SQLite state (issue 8, "Incremental"): scanner/org/state.py."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.org.state import SCHEMA_VERSION, STATE_FILE, Result, StateStore

POLICY = "sha256:policy-a"
VERSION = "1.2.3"


def scanned(repo: str, pushed_at: str = "2024-05-01T00:00:00Z", **kw: object) -> Result:
    fields: dict[str, object] = {
        "repo": repo,
        "status": "scanned",
        "policy_hash": POLICY,
        "tether_version": VERSION,
        "commit": "c0ffee",
        "pushed_at": pushed_at,
    }
    fields.update(kw)
    return Result(**fields)  # type: ignore[arg-type]


def test_round_trip(tmp_path: Path) -> None:
    full = scanned(
        "org/a",
        reason="",
        counts_by_category={"drift": 2, "security": 1},
        counts_by_rule={"GHA003": 2, "K8S001": 1},
        layers="baseline team-x (topic: payments)",
        sarif_sha256="ab" * 32,
        uploaded_for="c0ffee",
        finished_at="2024-05-02T00:00:00Z",
    )
    with StateStore(tmp_path / "state") as state:
        run = state.resume_or_start(POLICY, VERSION)
        state.record(run, full)
        state.record(run, Result("org/b", "skipped", POLICY, VERSION, reason="archived"))
    with StateStore(tmp_path / "state") as state:
        got = state.last_result("org/a")
        assert got is not None
        assert got == Result(**{**full.__dict__, "run_id": run})
        skipped = state.last_result("org/b")
        assert skipped is not None and skipped.status == "skipped"
        assert skipped.reason == "archived" and skipped.finished_at  # defaulted to now
        assert skipped.commit is None and skipped.counts_by_rule == {}
        assert state.last_result("org/none") is None


def test_unchanged_only_when_pushed_at_policy_and_version_all_match(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        run = state.resume_or_start(POLICY, VERSION)
        state.record(run, scanned("org/a", "2024-05-01T00:00:00Z"))
        assert state.unchanged("org/a", "2024-05-01T00:00:00Z", POLICY, VERSION) is not None
        assert state.unchanged("org/a", "2024-05-02T00:00:00Z", POLICY, VERSION) is None
        assert state.unchanged("org/a", "2024-05-01T00:00:00Z", "sha256:other", VERSION) is None
        assert state.unchanged("org/a", "2024-05-01T00:00:00Z", POLICY, "1.2.4") is None
        assert state.unchanged("org/a", None, POLICY, VERSION) is None
        assert state.unchanged("org/b", "2024-05-01T00:00:00Z", POLICY, VERSION) is None


def test_unchanged_ignores_failed_and_skipped_but_only_trusts_the_newest_reusable(
    tmp_path: Path,
) -> None:
    when = "2024-05-01T00:00:00Z"
    with StateStore(tmp_path) as state:
        r1 = state.resume_or_start(POLICY, VERSION)
        state.record(r1, Result("org/f", "failed", POLICY, VERSION, pushed_at=when, reason="x"))
        state.finish(r1, "complete")
        assert state.unchanged("org/f", when, POLICY, VERSION) is None  # never scanned

        state.record(r1, scanned("org/a", when))
        r2 = state.resume_or_start("sha256:policy-b", VERSION)
        assert r2 != r1
        state.record(r2, scanned("org/a", when, policy_hash="sha256:policy-b"))
        # policy A's older result matches the key, but policy B's scan came after it
        assert state.unchanged("org/a", when, POLICY, VERSION) is None
        # an "unchanged" record carries the result forward
        state.finish(r2, "complete")
        r3 = state.resume_or_start("sha256:policy-b", VERSION)
        state.record(r3, scanned("org/a", when, policy_hash="sha256:policy-b", status="unchanged"))
        hit = state.unchanged("org/a", when, "sha256:policy-b", VERSION)
        assert hit is not None and hit.run_id == r3 and hit.status == "unchanged"
        # a later failure does not hide the last reusable result
        state.finish(r3, "complete")
        r4 = state.resume_or_start("sha256:policy-b", VERSION)
        state.record(r4, Result("org/a", "failed", "sha256:policy-b", VERSION, reason="later"))
        hit = state.unchanged("org/a", when, "sha256:policy-b", VERSION)
        assert hit is not None and hit.run_id == r3


def test_interrupted_run_resumes_with_finished_repos_done(tmp_path: Path) -> None:
    repos = [f"org/r{i}" for i in range(5)]
    state = StateStore(tmp_path)
    run = state.resume_or_start(POLICY, VERSION)
    for repo in repos[:2]:
        state.record(run, scanned(repo))
    del state  # dropped without finish() or close()
    gc.collect()

    with StateStore(tmp_path) as state:
        assert state.resume_or_start(POLICY, VERSION) == run
        assert state.done(run) == set(repos[:2])
        for repo in repos[2:]:
            state.record(run, scanned(repo))
        state.finish(run, "complete")
        info = state.run(run)
        assert info is not None and info.status == "complete" and info.finished_at
        # a finished run is never resumed
        assert state.resume_or_start(POLICY, VERSION) != run


def test_killed_process_keeps_every_recorded_repo(tmp_path: Path) -> None:
    """SIGKILL after two records: both were committed (one transaction per repository)."""
    code = f"""
import os, signal
from scanner.org.state import Result, StateStore
s = StateStore({str(tmp_path)!r})
run = s.resume_or_start({POLICY!r}, {VERSION!r})
for repo in ("org/a", "org/b"):
    s.record(run, Result(repo, "scanned", {POLICY!r}, {VERSION!r}, pushed_at="t"))
print(run, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = int(proc.stdout.strip())
    with StateStore(tmp_path) as state:
        assert state.resume_or_start(POLICY, VERSION) == run
        assert state.done(run) == {"org/a", "org/b"}


def test_new_policy_starts_a_new_run_and_closes_the_stale_one(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        old = state.resume_or_start(POLICY, VERSION)
        new = state.resume_or_start("sha256:policy-b", VERSION)
        assert new != old
        stale = state.run(old)
        assert stale is not None and stale.status == "failed" and stale.finished_at
        assert state.done(new) == set()


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    StateStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="newer than this tether"):
        StateStore(tmp_path)


def test_older_schema_version_is_rebuilt(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    db.execute("CREATE TABLE results (whatever TEXT)")
    db.commit()
    db.close()
    with StateStore(tmp_path) as state:
        run = state.resume_or_start(POLICY, VERSION)
        state.record(run, scanned("org/a"))
        assert state.last_result("org/a") is not None


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("CREATE TABLE notes (x TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="not a tether state database"):
        StateStore(tmp_path)


def test_directory_is_created_0700_and_file_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with StateStore(tmp_path / "a" / "state"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "state" / STATE_FILE).stat().st_mode) == 0o600


def test_history_is_ordered_by_run(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        runs = []
        for week in range(3):
            run = state.resume_or_start(POLICY, VERSION)
            runs.append(run)
            state.record(run, scanned("org/a", f"2024-05-0{week + 1}T00:00:00Z"))
            state.record(run, scanned("org/b"))
            state.finish(run, "complete")
        history = state.history("org/a")
        assert [r.run_id for r in history] == runs
        assert [r.pushed_at for r in history] == [f"2024-05-0{w}T00:00:00Z" for w in (1, 2, 3)]
        assert state.history("org/none") == []


def test_etag_round_trip(tmp_path: Path) -> None:
    url = "https://api.github.com/orgs/o/repos?page=1"
    body = b'[{"name": "a"}]\x00\xff'
    with StateStore(tmp_path) as state:
        assert state.etag(url) is None
        state.put_etag(url, 'W/"abc"', body)
    with StateStore(tmp_path) as state:
        assert state.etag(url) == ('W/"abc"', body)
        state.put_etag(url, '"def"', b"[]")
        assert state.etag(url) == ('"def"', b"[]")


def test_corrupted_database_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"this is not SQLite at all\n" * 200)
    with pytest.raises(ConfigError) as caught:
        StateStore(tmp_path)
    message = str(caught.value)
    assert STATE_FILE in message and "corrupted" in message and "--state" in message
    assert "Traceback" not in message


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        run = state.resume_or_start(POLICY, VERSION)
        errors: list[BaseException] = []

        def work(k: int) -> None:
            try:
                for i in range(20):
                    state.record(run, scanned(f"org/t{k}-{i}"))
                    state.etag(f"u{k}")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(state.done(run)) == 160


def test_bad_statuses_and_unknown_runs_are_rejected(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        run = state.resume_or_start(POLICY, VERSION)
        with pytest.raises(ValueError):
            state.record(run, scanned("org/a", status="maybe"))
        with pytest.raises(ValueError):
            state.finish(run, "interrupted")  # type: ignore[arg-type]
        with pytest.raises(KeyError):
            state.record(run + 100, scanned("org/a"))
        with pytest.raises(KeyError):
            state.finish(run + 100, "complete")
    with pytest.raises(RuntimeError):
        state.done(run)


def test_schema_3_migrates_to_4_keeping_runs_and_fix_prs_round_trip(tmp_path: Path) -> None:
    from scanner.org.state import FixPr

    with StateStore(tmp_path) as state:
        run = state.resume_or_start(POLICY, VERSION)
        state.record(run, scanned("org/a"))
    # as tether wrote it before fix pull requests: no fix_prs table, schema 3
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("DROP TABLE fix_prs")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="older than this tether"):
        StateStore(tmp_path, read_only=True)
    with StateStore(tmp_path) as state:
        assert set(state.results(run)) == {"org/a"}
        assert state.fix_pr("org/a") is None
        state.put_fix_pr(FixPr("org/a", "open", branch_sha="b" * 40, fix_key="k", pr_number=7))
    with StateStore(tmp_path, read_only=True) as state:  # report/triage keep reading it
        stored = state.fix_pr("org/a")
        assert stored is not None and stored.pr_number == 7 and stored.status == "open"
        assert stored.updated_at

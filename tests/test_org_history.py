"""The org state's history for the adoption report (issue 12): schema 3, its migration from
schema 2, and per-rule outcomes kept per run and repository (scanner/org/state.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.org import state as state_mod
from scanner.org.state import SCHEMA_VERSION, STATE_FILE, Result, RuleOutcome, StateStore

POLICY = "sha256:policy-a"
VERSION = "1.2.3"


def _v2_database(path: Path) -> None:
    """A schema-2 state as tether wrote it before schema 3: one finished run, two results,
    a stored SARIF and an ETag."""
    db = sqlite3.connect(path / STATE_FILE)
    db.executescript(state_mod._SCHEMA_V2)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute(
        "INSERT INTO runs (started_at, policy_hash, tether_version, finished_at, status)"
        " VALUES ('2026-11-01T00:00:00Z', ?, ?, '2026-11-01T01:00:00Z', 'complete')",
        (POLICY, VERSION),
    )
    for repo, status in (("acme/api", "scanned"), ("acme/old", "skipped")):
        db.execute(
            "INSERT INTO results (run_id, repo, commit_sha, pushed_at, policy_hash,"
            " tether_version, status, reason, counts_by_category, counts_by_rule, layers,"
            " sarif_sha256, uploaded_for, finished_at, valid_until, extra)"
            " VALUES (1, ?, 'c0ffee', '2026-10-30T00:00:00Z', ?, ?, ?, '', '{\"drift\": 1}',"
            " '{\"GHA003\": 1}', 'default', 'ab', NULL, '2026-11-01T00:30:00Z', NULL, '{}')",
            (repo, POLICY, VERSION, status),
        )
    db.execute("INSERT INTO sarifs VALUES ('ab', x'1f8b')")
    db.execute(
        "INSERT INTO etags VALUES ('https://api/orgs/acme/repos', 'W/1', x'5b5d', '2026-11-01')"
    )
    db.commit()
    db.close()


def _shape(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's and index's columns, types, constraints and keys."""
    db = sqlite3.connect(path)
    try:
        out: dict[str, list[tuple[object, ...]]] = {}
        for kind, name in db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ):
            if kind == "table":
                out[name] = [
                    *db.execute(f"PRAGMA table_info({name})").fetchall(),
                    *db.execute(f"PRAGMA foreign_key_list({name})").fetchall(),
                ]
            else:
                out[name] = db.execute(f"PRAGMA index_info({name})").fetchall()
        return out
    finally:
        db.close()


def test_a_schema_2_state_is_migrated_keeping_every_run(tmp_path: Path) -> None:
    _v2_database(tmp_path)
    with StateStore(tmp_path) as state:
        runs = state.runs()
        assert [(r.id, r.status, r.org, r.info) for r in runs] == [(1, "complete", None, {})]
        results = state.results(1)
        assert set(results) == {"acme/api", "acme/old"}
        api = results["acme/api"]
        assert api.counts_by_rule == {"GHA003": 1} and api.sarif_sha256 == "ab"
        assert api.team is None and api.team_source is None
        assert state.rule_outcomes(1) == {}  # schema 2 recorded none
        assert state.sarif("ab") == b"\x1f\x8b"
        assert state.etag("https://api/orgs/acme/repos") == ("W/1", b"[]")
        # the migrated state takes schema-3 records
        run = state.resume_or_start(POLICY, VERSION, org="acme", info={"levels": []})
        state.record(
            run,
            Result(
                "acme/api",
                "scanned",
                POLICY,
                VERSION,
                team="payments",
                team_source="custom property team",
                rules={"GHA003": RuleOutcome("fail", "drift", failed=1, versions_behind=2)},
            ),
        )
        assert state.rule_outcomes(run)["acme/api"]["GHA003"].versions_behind == 2
    db = sqlite3.connect(tmp_path / STATE_FILE)
    assert db.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    db.close()


def test_a_migrated_state_has_the_shape_of_a_new_one(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    _v2_database(tmp_path / "old")
    StateStore(tmp_path / "old").close()
    StateStore(tmp_path / "new").close()
    assert _shape(tmp_path / "old" / STATE_FILE) == _shape(tmp_path / "new" / STATE_FILE)


def test_a_failed_migration_leaves_the_state_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _v2_database(tmp_path)
    broken = state_mod.MIGRATIONS[2] + ";\nALTER TABLE no_such_table ADD COLUMN x TEXT"
    monkeypatch.setitem(state_mod.MIGRATIONS, 2, broken)
    with pytest.raises(ConfigError, match="could not migrate the state database from schema 2"):
        StateStore(tmp_path)
    db = sqlite3.connect(tmp_path / STATE_FILE)
    assert db.execute("SELECT value FROM meta").fetchone() == ("2",)
    assert db.execute("SELECT count(*) FROM results").fetchone() == (2,)
    columns = [r[1] for r in db.execute("PRAGMA table_info(results)")]
    assert "team" not in columns
    db.close()
    monkeypatch.undo()
    with StateStore(tmp_path) as state:  # and the real migration still runs afterwards
        assert set(state.results(1)) == {"acme/api", "acme/old"}


def test_rule_outcomes_are_replaced_with_their_result_and_pruned_with_their_run(
    tmp_path: Path,
) -> None:
    def result(**rules: RuleOutcome) -> Result:
        return Result("acme/api", "scanned", POLICY, VERSION, team="payments", rules=rules)

    with StateStore(tmp_path) as state:
        first = state.resume_or_start(POLICY, VERSION, org="acme")
        state.record(
            first,
            result(
                K8S001=RuleOutcome("fail", "bounded-autonomy", passed=2, failed=1),
                TF001=RuleOutcome("not_applicable", "bounded-autonomy"),
            ),
        )
        state.record(first, result(K8S001=RuleOutcome("excepted", "bounded-autonomy", excepted=1)))
        assert state.rule_outcomes(first) == {
            "acme/api": {"K8S001": RuleOutcome("excepted", "bounded-autonomy", excepted=1)}
        }
        assert state.results(first)["acme/api"].team == "payments"
        state.finish(first, "complete")
        second = state.resume_or_start(POLICY, VERSION, org="acme")
        state.record(second, result(K8S001=RuleOutcome("pass", "bounded-autonomy", passed=3)))
        state.prune(keep_runs=1)
        assert state.rule_outcomes(first) == {}
        assert state.rule_outcomes(second, "acme/api")["acme/api"]["K8S001"].outcome == "pass"
        assert [r.id for r in state.runs("acme")] == [second]


def test_runs_of_another_org_are_not_resumed(tmp_path: Path) -> None:
    with StateStore(tmp_path) as state:
        a = state.resume_or_start(POLICY, VERSION, org="acme", info={"levels": [{"name": "b"}]})
        b = state.resume_or_start(POLICY, VERSION, org="other")
        assert a != b
        run = state.run(a)
        assert run is not None and run.info == {"levels": [{"name": "b"}]} and run.org == "acme"


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rule outcome"):
        RuleOutcome.from_json({"outcome": "maybe", "category": "drift"})

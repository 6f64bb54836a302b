"""The org scan's state (issue 8, "Incremental"): one embedded SQLite file, `DIR/tether-org.sqlite`.

What it holds, and why each piece is safe to trust later:

* ``runs``: one row per org scan (policy hash, tether version, started/finished, status). A run
  killed mid-way (SIGTERM/SIGINT/SIGKILL) is never finished, so the next
  :meth:`StateStore.resume_or_start` with the same policy hash and version resumes it and
  :meth:`StateStore.done` lists the repositories it need not redo.
* ``results``: one row per (run, repository), committed as soon as the repository is done (WAL,
  ``synchronous=NORMAL``: a crash loses at most the repository in flight, never a finished one).
  A previous result is reused (:meth:`StateStore.unchanged`) only when the repository's
  ``pushed_at``, the policy hash and the tether version all match: GitHub verifies the first,
  the scan computes the other two, so the cache never decides a verdict on its own.
* ``etags``: listing bodies by URL with their ETag; the server verifies them (304) before reuse.
* ``rule_outcomes`` (schema 3): per run, repository and rule, the three-valued outcome the
  adoption report counts (pass, fail, excepted, not applicable), with the rule's category,
  whether it counts (``enable_later``) and the drift distance of its worst finding.
  ``results.team``/``team_source`` say which team owns the repository and where that came
  from; ``runs.org``/``runs.info`` the org and what of the run's policy a report needs later
  (maturity levels, rule titles and categories), so history reads without today's policy.
* ``fix_prs`` (schema 4): per repository, tether's fix pull request (``tether org --fix
  --open-prs``, org/fixpr.py): the commit tether last wrote to its branch, the pull request
  number, its status (open, closed, refused) and GitHub's reason for a refusal.
* ``meta``: the schema version. A newer (or unreadable) version is refused with
  :class:`~scanner.errors.ConfigError`; an older one is migrated step by step (``MIGRATIONS``)
  in one transaction, keeping every run. Versions before 2 held no history and are rebuilt
  (that costs one full scan, never a wrong verdict).

Threads: one connection guarded by one lock (``check_same_thread=False``); every public method
takes the lock, so concurrent writers from a thread pool are serialised. Other processes on the
same file are serialised by SQLite itself (``BEGIN IMMEDIATE`` and a busy timeout).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, cast, get_args

from ..errors import ConfigError

SCHEMA_VERSION = 4
STATE_FILE = "tether-org.sqlite"
BUSY_TIMEOUT_S = 30.0

ResultStatus = Literal["scanned", "unchanged", "skipped", "failed"]
Outcome = Literal["pass", "fail", "excepted", "not_applicable"]
RunStatus = Literal["complete", "failed"]
RESULT_STATUSES: tuple[str, ...] = get_args(ResultStatus)
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
REUSABLE: tuple[str, ...] = ("scanned", "unchanged")  # statuses whose outcome a rerun may reuse

_TABLES = ("fix_prs", "rule_outcomes", "results", "runs", "etags", "sarifs", "meta")
OUTCOMES = ("pass", "fail", "excepted", "not_applicable")
LEVELS = ("major", "minor", "patch")  # of a drift distance, largest first

# schema 2, the first to keep history: a new database is made as this, then migrated up, so
# a new database and a migrated one are the same by construction (a test compares them)
_SCHEMA_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    tether_version TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL
);
CREATE TABLE results (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    repo TEXT NOT NULL,
    commit_sha TEXT,
    pushed_at TEXT,
    policy_hash TEXT NOT NULL,
    tether_version TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    counts_by_category TEXT NOT NULL,
    counts_by_rule TEXT NOT NULL,
    layers TEXT NOT NULL,
    sarif_sha256 TEXT,
    uploaded_for TEXT,
    finished_at TEXT NOT NULL,
    valid_until TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, repo)
);
CREATE INDEX results_repo ON results (repo, run_id);
CREATE TABLE sarifs (
    sha256 TEXT PRIMARY KEY,
    gz BLOB NOT NULL
);
CREATE TABLE etags (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    body BLOB NOT NULL,
    stored_at TEXT NOT NULL
);
"""

_V2_TO_V3 = """
ALTER TABLE runs ADD COLUMN org TEXT;
ALTER TABLE runs ADD COLUMN info TEXT NOT NULL DEFAULT '{}';
ALTER TABLE results ADD COLUMN team TEXT;
ALTER TABLE results ADD COLUMN team_source TEXT;
CREATE TABLE rule_outcomes (
    run_id INTEGER NOT NULL,
    repo TEXT NOT NULL,
    rule TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'excepted', 'not_applicable')),
    category TEXT NOT NULL,
    counted INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    excepted INTEGER NOT NULL,
    not_applicable INTEGER NOT NULL,
    versions_behind INTEGER,
    behind_level TEXT CHECK (behind_level IN ('major', 'minor', 'patch')),
    days_behind INTEGER,
    PRIMARY KEY (run_id, repo, rule),
    FOREIGN KEY (run_id, repo) REFERENCES results (run_id, repo)
);
CREATE INDEX rule_outcomes_rule ON rule_outcomes (rule, run_id);
"""


# schema 4: the fix pull request tether keeps per repository (org/fixpr.py): the commit it
# last wrote to its branch (a branch head that is not this commit was pushed by someone
# else, and is never overwritten), the pull request, what the fix was (to do nothing when it
# is unchanged), and GitHub's refusal, if any (not retried unless asked)
_V3_TO_V4 = """
CREATE TABLE fix_prs (
    repo TEXT PRIMARY KEY,
    branch_sha TEXT,
    fix_key TEXT,
    pr_number INTEGER,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed', 'refused')),
    reason TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
"""


def _statements(script: str) -> list[str]:
    return [s for s in script.split(";") if s.strip()]


# version N -> the statements that take a database from N to N + 1
MIGRATIONS: dict[int, str] = {2: _V2_TO_V3, 3: _V3_TO_V4}


def _utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Result:
    """One repository's outcome in one run.

    ``commit`` is the scanned commit sha; ``pushed_at`` the repository's ``pushed_at`` from the
    listing that chose it; ``layers`` the applied policy layers and why (text, as the report
    prints it); ``sarif_sha256`` the hash of the SARIF written for it and ``uploaded_for`` the
    commit that SARIF was uploaded for (None: not uploaded). ``run_id`` is filled on read."""

    repo: str
    status: ResultStatus
    policy_hash: str
    tether_version: str
    commit: str | None = None
    pushed_at: str | None = None
    reason: str = ""
    counts_by_category: dict[str, int] = field(default_factory=dict)
    counts_by_rule: dict[str, int] = field(default_factory=dict)
    layers: str = ""
    sarif_sha256: str | None = None
    uploaded_for: str | None = None
    finished_at: str = ""
    run_id: int | None = None
    # the first day this result may differ although nothing was pushed (an exception
    # expires, a rule's enforce_from date comes): ISO date, None for never
    valid_until: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # delivery, layers, diagnostics
    team: str | None = None  # the owning team ("unowned" when no source named one)
    team_source: str | None = None  # where that came from, as the report shows it
    # rule id -> outcome (schema 3); written by `record`, read with `rule_outcomes`
    rules: Mapping[str, RuleOutcome] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's outcome in one repository, as the adoption report counts it: ``fail`` when
    a finding of it stands, ``excepted`` when every finding is covered by an exception,
    ``pass`` when it applied and found nothing, ``not_applicable`` when nothing it judges
    exists. The counts are the scan's (findings, not facts, for ``excepted``)."""

    outcome: Outcome
    category: str
    counted: bool = True  # False while a baseline stages the rule with enable_later
    passed: int = 0
    failed: int = 0
    excepted: int = 0
    not_applicable: int = 0
    # the worst finding's drift distance, for rules that measure it (`distance:`): versions
    # behind at the first level that differs, that level, and days where the baseline
    # records release dates
    versions_behind: int | None = None
    behind_level: str | None = None
    days_behind: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleOutcome:
        outcome = data.get("outcome")
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown rule outcome {outcome!r}")
        return cls(
            outcome=cast(Outcome, outcome),
            category=str(data.get("category", "")),
            counted=bool(data.get("counted", True)),
            passed=int(data.get("passed", 0)),
            failed=int(data.get("failed", 0)),
            excepted=int(data.get("excepted", 0)),
            not_applicable=int(data.get("not_applicable", 0)),
            versions_behind=_int_or_none(data.get("versions_behind")),
            behind_level=level if (level := data.get("behind_level")) in LEVELS else None,
            days_behind=_int_or_none(data.get("days_behind")),
        )


@dataclass(frozen=True)
class FixPr:
    """tether's fix pull request of one repository (schema 4): ``branch_sha`` the commit
    tether last wrote to its branch, ``fix_key`` what that commit changed (see
    org/fixpr.py), ``status`` open, closed or refused (GitHub refused a ref or pull request:
    ``reason`` says why, and later runs do not retry unless asked), ``updated_at`` when."""

    repo: str
    status: str
    branch_sha: str | None = None
    fix_key: str | None = None
    pr_number: int | None = None
    reason: str = ""
    updated_at: str = ""


@dataclass(frozen=True)
class Run:
    id: int
    started_at: str
    policy_hash: str
    tether_version: str
    finished_at: str | None
    status: str
    org: str | None = None
    # what a report needs of the run's policy: {"levels": [...], "rules": {id: {...}}}
    info: dict[str, Any] = field(default_factory=dict)


_RESULT_COLUMNS = (
    "run_id, repo, commit_sha, pushed_at, policy_hash, tether_version, status, reason,"
    " counts_by_category, counts_by_rule, layers, sarif_sha256, uploaded_for, finished_at,"
    " valid_until, extra, team, team_source"
)
_OUTCOME_COLUMNS = (
    "outcome, category, counted, passed, failed, excepted, not_applicable, versions_behind,"
    " behind_level, days_behind"
)


def _counts(text: str) -> dict[str, int]:
    value = json.loads(text)
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items()}


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _result(row: sqlite3.Row) -> Result:
    status = row["status"]
    if status not in RESULT_STATUSES:
        raise ValueError(f"unknown result status in state: {status!r}")
    return Result(
        repo=row["repo"],
        status=cast(ResultStatus, status),
        policy_hash=row["policy_hash"],
        tether_version=row["tether_version"],
        commit=row["commit_sha"],
        pushed_at=row["pushed_at"],
        reason=row["reason"],
        counts_by_category=_counts(row["counts_by_category"]),
        counts_by_rule=_counts(row["counts_by_rule"]),
        layers=row["layers"],
        sarif_sha256=row["sarif_sha256"],
        uploaded_for=row["uploaded_for"],
        finished_at=row["finished_at"],
        run_id=row["run_id"],
        valid_until=row["valid_until"],
        extra=_object(row["extra"]),
        team=row["team"],
        team_source=row["team_source"],
    )


def _rule_outcome(values: tuple[Any, ...]) -> RuleOutcome:
    """From a row's _OUTCOME_COLUMNS, in that order."""
    return RuleOutcome.from_json(
        dict(zip(_OUTCOME_COLUMNS.replace(" ", "").split(","), values, strict=True))
    )


def _run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        started_at=row["started_at"],
        policy_hash=row["policy_hash"],
        tether_version=row["tether_version"],
        finished_at=row["finished_at"],
        status=row["status"],
        org=row["org"],
        info=_object(row["info"]),
    )


def _make_dir(directory: Path) -> None:
    """Create the state directory 0700 (whatever the umask); an existing one is left as is."""
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True)
    os.chmod(directory, 0o700)


class StateStore:
    """The org scan's SQLite state in ``directory`` (see the module docstring).

    Use as a context manager (``with StateStore(dir) as state:``) or call :meth:`close`.
    ``clock`` returns the timestamps stored (ISO 8601 UTC by default; injectable for tests)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        clock: Callable[[], str] = _utcnow,
        read_only: bool = False,
    ) -> None:
        """``read_only``: for the commands that only read history (`tether report`, `tether
        triage`): nothing is migrated, rebuilt or written (SQLite may add its -shm file
        beside a WAL database); a state of another schema version is a ConfigError (`tether
        org` with this tether migrates it)."""
        self.directory = Path(directory)
        self.path = self.directory / STATE_FILE
        self._clock = clock
        self._lock = threading.Lock()
        self._read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise ConfigError(str(self.path), None, "no tether org state here")
        else:
            _make_dir(self.directory)
            if not self.path.exists():
                # create it 0600 before SQLite does (its -wal/-shm files copy the mode)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro" if read_only else self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
                uri=read_only,
            )
            if read_only:
                self._readable()
        except sqlite3.Error as exc:
            raise ConfigError(
                str(self.path), None, f"cannot open the state database: {exc}"
            ) from None
        self._db.row_factory = sqlite3.Row
        try:
            if read_only:
                self._check_version()
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._prepare()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ConfigError(
                str(self.path),
                None,
                f"not a readable tether state database ({exc}); it may be corrupted: "
                "delete it (the next scan is a full one) or point --state elsewhere",
            ) from None
        except ConfigError:
            self.close()
            raise

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:  # a dropped store must not keep the file open
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock, committed on success, rolled back on error."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the state store is closed")
        return self._db

    def _readable(self) -> None:
        """A WAL database opened read-only needs its -shm file, which SQLite cannot create in
        a directory this user may not write: without a -wal file (a state closed cleanly
        holds everything in the main file) it is read as immutable instead."""
        try:
            self._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.exists():
                raise ConfigError(
                    str(self.path),
                    None,
                    f"cannot read the state database ({exc}): its directory must be "
                    "writable while a -wal file is beside it",
                ) from None
            self._conn().close()
            self._db = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro&immutable=1",
                isolation_level=None,
                check_same_thread=False,
                uri=True,
            )

    def _check_version(self) -> None:
        """A read-only store reads only its own schema version."""
        db = self._conn()
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None
        version = _int_or_none(row[0] if row else None)
        if version is None:
            raise ConfigError(str(self.path), None, "not a tether state database")
        if version > SCHEMA_VERSION:
            raise ConfigError(
                str(self.path),
                None,
                f"the state database has schema version {version}, newer than this tether "
                f"understands ({SCHEMA_VERSION}); upgrade tether",
            )
        if version < SCHEMA_VERSION:
            raise ConfigError(
                str(self.path),
                None,
                f"the state database has schema version {version}, older than this tether's "
                f"({SCHEMA_VERSION}): the next `tether org ... --state` run migrates it",
            )

    def _prepare(self) -> None:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            } - {"sqlite_sequence"}
            if "meta" not in tables:
                if tables:
                    raise ConfigError(
                        str(self.path),
                        None,
                        "this SQLite file is not a tether state database (no schema version); "
                        "point --state at a directory of its own",
                    )
                self._create(db)
            else:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = _int_or_none(row[0] if row else None)
                if version is None:
                    raise ConfigError(
                        str(self.path), None, "the state database has no readable schema version"
                    )
                if version > SCHEMA_VERSION:
                    raise ConfigError(
                        str(self.path),
                        None,
                        f"the state database has schema version {version}, newer than this "
                        f"tether understands ({SCHEMA_VERSION}); upgrade tether or use a fresh "
                        "--state directory",
                    )
                if version < min(MIGRATIONS):
                    # before schema 2 the state held no history: a rebuild loses only a cache
                    for table in _TABLES:
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    self._create(db)
                elif version < SCHEMA_VERSION:
                    self._migrate(db, version, str(self.path))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        for statement in _statements(_SCHEMA_V2):
            db.execute(statement)
        db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '2')")
        StateStore._migrate(db, 2)

    @staticmethod
    def _migrate(db: sqlite3.Connection, version: int, where: str = STATE_FILE) -> None:
        """From ``version`` up to SCHEMA_VERSION, inside the caller's transaction (a failure
        leaves the database as it was)."""
        while version < SCHEMA_VERSION:
            try:
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
            except sqlite3.Error as exc:
                raise ConfigError(
                    where,
                    None,
                    f"could not migrate the state database from schema {version} to "
                    f"{version + 1} ({exc}); it was left as it was",
                ) from None
            version += 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))

    # -- runs -------------------------------------------------------------------------------

    def resume_or_start(
        self,
        policy_hash: str,
        tether_version: str,
        *,
        org: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> int:
        """The newest unfinished run with this policy hash and tether version, else a new one
        of ``org``, keeping ``info`` (what a report needs of the policy: see :class:`Run`).

        Unfinished runs with another policy or version can never be resumed (their results
        would not be reusable), so they are closed as failed when a new run starts."""
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM runs WHERE finished_at IS NULL AND policy_hash = ?"
                " AND tether_version = ? AND org IS ? ORDER BY id DESC LIMIT 1",
                (policy_hash, tether_version, org),
            ).fetchone()
            if row is not None:
                return int(row[0])
            now = self._clock()
            db.execute(
                "UPDATE runs SET finished_at = ?, status = 'failed' WHERE finished_at IS NULL",
                (now,),
            )
            cur = db.execute(
                "INSERT INTO runs (started_at, policy_hash, tether_version, status, org, info)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (
                    now,
                    policy_hash,
                    tether_version,
                    org,
                    json.dumps(dict(info or {}), sort_keys=True),
                ),
            )
            return int(cast(int, cur.lastrowid))

    def finish(self, run_id: int, status: RunStatus) -> None:
        """Close a run. Call it only when the run is over for good: a run interrupted by a
        signal is left unfinished, so the next one resumes it."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {RUN_STATUSES}, not {status!r}")
        with self._write() as db:
            cur = db.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE id = ?",
                (self._clock(), status, run_id),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no run {run_id}")

    def run(self, run_id: int) -> Run | None:
        with self._lock:
            row = self._conn().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return _run(row)

    def runs(self, org: str | None = None) -> list[Run]:
        """Every run (of ``org``, when given), oldest first."""
        with self._lock:
            if org is None:
                rows = self._conn().execute("SELECT * FROM runs ORDER BY id").fetchall()
            else:
                rows = (
                    self._conn()
                    .execute("SELECT * FROM runs WHERE org = ? ORDER BY id", (org,))
                    .fetchall()
                )
        return [_run(r) for r in rows]

    def done(self, run_id: int) -> set[str]:
        """The repositories already recorded in this run (any status)."""
        with self._lock:
            rows = self._conn().execute("SELECT repo FROM results WHERE run_id = ?", (run_id,))
            return {r[0] for r in rows}

    # -- results ----------------------------------------------------------------------------

    def record(self, run_id: int, result: Result) -> None:
        """Store one repository's result in ``run_id`` and commit it (a later record of the same
        repository in the same run replaces it). ``finished_at`` defaults to now."""
        if result.status not in RESULT_STATUSES:
            raise ValueError(f"result status must be one of {RESULT_STATUSES}")
        finished_at = result.finished_at or self._clock()
        with self._write() as db:
            # the rows that name the result go first (a replaced result must not orphan them)
            db.execute(
                "DELETE FROM rule_outcomes WHERE run_id = ? AND repo = ?", (run_id, result.repo)
            )
            try:
                db.execute(
                    f"INSERT OR REPLACE INTO results ({_RESULT_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        result.repo,
                        result.commit,
                        result.pushed_at,
                        result.policy_hash,
                        result.tether_version,
                        result.status,
                        result.reason,
                        json.dumps(result.counts_by_category, sort_keys=True),
                        json.dumps(result.counts_by_rule, sort_keys=True),
                        result.layers,
                        result.sarif_sha256,
                        result.uploaded_for,
                        finished_at,
                        result.valid_until,
                        json.dumps(result.extra, sort_keys=True),
                        result.team,
                        result.team_source,
                    ),
                )
            except sqlite3.IntegrityError:
                raise KeyError(f"no run {run_id}") from None
            db.executemany(
                f"INSERT INTO rule_outcomes (run_id, repo, rule, {_OUTCOME_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        result.repo,
                        rule,
                        o.outcome,
                        o.category,
                        int(o.counted),
                        o.passed,
                        o.failed,
                        o.excepted,
                        o.not_applicable,
                        o.versions_behind,
                        o.behind_level,
                        o.days_behind,
                    )
                    for rule, o in sorted(result.rules.items())
                ],
            )

    def last_result(self, repo: str) -> Result | None:
        """The repository's result in the newest run that has one (any status)."""
        with self._lock:
            row = (
                self._conn()
                .execute(
                    f"SELECT {_RESULT_COLUMNS} FROM results WHERE repo = ?"
                    " ORDER BY run_id DESC LIMIT 1",
                    (repo,),
                )
                .fetchone()
            )
        return None if row is None else _result(row)

    def last_reusable(self, repo: str) -> Result | None:
        """The repository's newest scanned or unchanged result, in any run."""
        marks = ", ".join("?" for _ in REUSABLE)
        with self._lock:
            row = (
                self._conn()
                .execute(
                    f"SELECT {_RESULT_COLUMNS} FROM results WHERE repo = ?"
                    f" AND status IN ({marks}) ORDER BY run_id DESC LIMIT 1",
                    (repo, *REUSABLE),
                )
                .fetchone()
            )
        return None if row is None else _result(row)

    def unchanged(
        self,
        repo: str,
        pushed_at: str | None,
        policy_hash: str,
        tether_version: str,
        today: str | None = None,
    ) -> Result | None:
        """The newest reusable (scanned or unchanged) result of ``repo`` if its ``pushed_at``,
        policy hash and tether version all equal these and, given ``today`` (ISO date), the
        result is still valid today (see :attr:`Result.valid_until`), else None. Only the
        newest reusable result is considered: an older match may predate a SARIF upload for
        another policy. An unknown ``pushed_at`` (None or empty) never matches."""
        if not pushed_at:
            return None
        marks = ", ".join("?" for _ in REUSABLE)
        with self._lock:
            row = (
                self._conn()
                .execute(
                    f"SELECT {_RESULT_COLUMNS} FROM results WHERE repo = ?"
                    f" AND status IN ({marks}) ORDER BY run_id DESC LIMIT 1",
                    (repo, *REUSABLE),
                )
                .fetchone()
            )
        if row is None:
            return None
        if (row["pushed_at"], row["policy_hash"], row["tether_version"]) != (
            pushed_at,
            policy_hash,
            tether_version,
        ):
            return None
        valid_until = row["valid_until"]
        if today is not None and valid_until is not None and today >= valid_until:
            return None
        return _result(row)

    def results(self, run_id: int) -> dict[str, Result]:
        """Every result recorded in ``run_id``, by repository."""
        with self._lock:
            rows = (
                self._conn()
                .execute(f"SELECT {_RESULT_COLUMNS} FROM results WHERE run_id = ?", (run_id,))
                .fetchall()
            )
        return {r["repo"]: _result(r) for r in rows}

    def history(self, repo: str) -> list[Result]:
        """Every recorded result of ``repo``, oldest run first."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {_RESULT_COLUMNS} FROM results WHERE repo = ? ORDER BY run_id",
                    (repo,),
                )
                .fetchall()
            )
        return [_result(r) for r in rows]

    def repos(self, run_id: int) -> frozenset[str]:
        """The repositories recorded in ``run_id`` (any status): names only."""
        with self._lock:
            rows = (
                self._conn()
                .execute("SELECT repo FROM results WHERE run_id = ?", (run_id,))
                .fetchall()
            )
        return frozenset(str(r[0]) for r in rows)

    def runs_with_outcomes(self) -> set[int]:
        """The runs that recorded at least one rule outcome."""
        with self._lock:
            rows = self._conn().execute("SELECT DISTINCT run_id FROM rule_outcomes").fetchall()
        return {int(r[0]) for r in rows}

    def rule_outcomes(
        self, run_id: int, repo: str | None = None
    ) -> dict[str, dict[str, RuleOutcome]]:
        """repository -> rule id -> outcome recorded in ``run_id`` (one repository's only,
        when ``repo`` is given)."""
        query = f"SELECT repo, rule, {_OUTCOME_COLUMNS} FROM rule_outcomes WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if repo is not None:
            query += " AND repo = ?"
            args += (repo,)
        with self._lock:
            cur = self._conn().cursor()
            cur.row_factory = None  # plain tuples: a report reads ~500k of these
            rows = cur.execute(query, args).fetchall()
        out: dict[str, dict[str, RuleOutcome]] = {}
        # outcomes repeat (most are a pass or a fail of one check): one frozen value for each
        made: dict[tuple[Any, ...], RuleOutcome] = {}
        for repo_name, rule, *values in rows:
            key = tuple(values)
            outcome = made.get(key)
            if outcome is None:
                outcome = made[key] = _rule_outcome(key)
            out.setdefault(repo_name, {})[rule] = outcome
        return out

    # -- SARIF logs --------------------------------------------------------------------------

    def put_sarif(self, sha256: str, gz: bytes) -> None:
        """Keep a gzip'd SARIF log by the SHA-256 of its uncompressed bytes (an unchanged
        repository's log is written to --out again from here, without a rescan)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO sarifs (sha256, gz) VALUES (?, ?)",
                (sha256, sqlite3.Binary(gz)),
            )

    def sarif(self, sha256: str) -> bytes | None:
        """The gzip'd SARIF log stored under ``sha256``."""
        with self._lock:
            row = (
                self._conn().execute("SELECT gz FROM sarifs WHERE sha256 = ?", (sha256,)).fetchone()
            )
        return None if row is None else bytes(row[0])

    def prune(self, keep_runs: int = 60) -> None:
        """Forget runs older than the newest ``keep_runs`` (their results with them), and
        every SARIF log no remaining result names."""
        with self._write() as db:
            cutoff = db.execute(
                "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", (keep_runs,)
            ).fetchone()
            if cutoff is not None:
                db.execute("DELETE FROM rule_outcomes WHERE run_id <= ?", (cutoff[0],))
                db.execute("DELETE FROM results WHERE run_id <= ?", (cutoff[0],))
                db.execute("DELETE FROM runs WHERE id <= ?", (cutoff[0],))
            db.execute(
                "DELETE FROM sarifs WHERE sha256 NOT IN"
                " (SELECT sarif_sha256 FROM results WHERE sarif_sha256 IS NOT NULL)"
            )

    # -- fix pull requests ------------------------------------------------------------------

    def fix_pr(self, repo: str) -> FixPr | None:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT repo, status, branch_sha, fix_key, pr_number, reason, updated_at"
                    " FROM fix_prs WHERE repo = ?",
                    (repo,),
                )
                .fetchone()
            )
        return None if row is None else FixPr(**dict(row))  # (columns named as its fields)

    def put_fix_pr(self, pr: FixPr) -> FixPr:
        """Store ``pr`` (its ``updated_at`` is now); returns what was stored."""
        stored = dataclasses.replace(pr, updated_at=self._clock())
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO fix_prs (repo, status, branch_sha, fix_key, pr_number,"
                " reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.repo,
                    stored.status,
                    stored.branch_sha,
                    stored.fix_key,
                    stored.pr_number,
                    stored.reason,
                    stored.updated_at,
                ),
            )
        return stored

    # -- listing ETags ----------------------------------------------------------------------

    def etag(self, url: str) -> tuple[str, bytes] | None:
        """The ETag and body last stored for ``url`` (to send as If-None-Match; the body is
        reused only when the server answers 304)."""
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT etag, body FROM etags WHERE url = ?", (url,))
                .fetchone()
            )
        return None if row is None else (str(row[0]), bytes(row[1]))

    def put_etag(self, url: str, etag: str, body: bytes) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO etags (url, etag, body, stored_at) VALUES (?, ?, ?, ?)",
                (url, etag, sqlite3.Binary(body), self._clock()),
            )


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None

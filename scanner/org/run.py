"""`tether org`: every repository of a GitHub organization judged against the golden path
that applies to it, with the same scan the CLI runs on a checkout.

One run: list the org (conditional requests: an unchanged listing page costs a 304), read
custom property values (one paginated listing) when the policy or a filter needs them, choose
this shard's repositories, then for each, on a small thread pool:

1. reuse: this run already finished it (a resumed run), or its ``pushed_at``, the policy hash
   and tether version equal a stored result that is still valid today: no API call;
2. else resolve the default branch's head; a stored result for that exact commit (a push to
   another branch) is reused too;
3. else download the tarball of that commit, extract configuration files safely, scan with
   :func:`scanner.pr.scan_repository` (the CLI's own entry point), write ``ORG/REPO.sarif``;
4. deliver: upload to code scanning, update the dashboard issue (both optional);
5. record the result in the state, committed at once (a killed run resumes from there).

A repository that fails ends as ``failed: <reason>`` and the run goes on. Nothing a
repository holds is executed; its files are read as data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..adoption.outcomes import outcomes_of
from ..errors import ConfigError
from ..github.client import GitHubClient, GitHubError, RepoInfo
from ..model import Diagnostic, Level, Report, Span
from ..policy import baseline as baseline_mod
from ..policy.operator import Policy, RepoFacts
from ..policy.rules import reuse_built_rules
from ..redact import clip, redact
from ..scanning import ScanOptions, kustomization_listed
from . import delivery as delivery_mod
from . import fetch, fixpr
from .select import Filters, PropertyValues, Selection, select
from .state import STATE_FILE, Result, StateStore
from .summary import RepoOutcome, Summary, sarif_path, write_atomic, write_summary
from .teams import attribute

MAX_DOWNLOAD = 1 << 30  # bytes of one repository's tar.gz
TMP_DIR = "tmp"  # inside --state: temporary trees, wiped at start (a SIGKILLed run's leftovers)


@dataclass(frozen=True)
class OrgOptions:
    org: str
    out: Path
    policy: Policy = field(default_factory=Policy)
    filters: Filters = field(default_factory=Filters)
    state_dir: Path | None = None
    jobs: int = 4
    upload: bool = False
    dashboard: bool = False
    dry_run: bool = False
    category: str | None = None  # default: tether-org/ORG
    upload_budget: int = 500  # uploads per rolling hour (the SARIF endpoint is rate limited)
    upload_wait: float = 120.0  # seconds to wait for code scanning to process one upload
    today: dt.date = field(default_factory=dt.date.today)
    # delivery signals beside adoption (org/delivery.py): costs API calls, so opt-in
    delivery: bool = False
    delivery_environment: str | None = "production"  # None: deployments to any environment
    rate_reserve: int = 50  # requests kept back: below it, wait for the reset
    max_rate_wait: float = 900.0  # longest wait for a reset before repositories fail instead
    # fix pull requests (org/fixpr.py): plan and check each repository's remedies; write
    # them to GitHub only with open_prs (and not dry_run), at most max_prs a run
    fix: bool = False
    open_prs: bool = False
    max_prs: int | None = None
    retry_refused: bool = False
    unsafe_fixes: bool = False  # also remedies that may change behaviour (FixEdit.safe)

    @property
    def run_category(self) -> str:
        return self.category or f"tether-org/{self.org}"


class Progress(Protocol):
    def start(self, total: int, reused: int) -> None: ...

    def done(self, outcome: RepoOutcome) -> None: ...

    def note(self, text: str) -> None: ...

    def finish(self) -> None: ...


class _Quiet:
    def start(self, total: int, reused: int) -> None:
        return None

    def done(self, outcome: RepoOutcome) -> None:
        return None

    def note(self, text: str) -> None:
        return None

    def finish(self) -> None:
        return None


ClientFactory = Callable[[], GitHubClient]


class Interrupted(Exception):
    """The run was stopped (SIGINT/SIGTERM): finished repositories are recorded; rerun the
    same command to resume."""


# ------------------------------------------------------------------------ policy hash


def policy_hash(policy: Policy, category: str) -> str:
    """SHA-256 over everything outside a repository that can change its verdict: the policy
    file, each baseline layer it names (as loaded: `extends` resolved), the central exception
    registries, the rule directories' files, and the SARIF category. tether's own rules and
    baselines change only with its version, which the state keys separately."""
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    add("category", category.encode())
    if policy.file:
        with contextlib.suppress(OSError):
            add("policy", Path(policy.file).read_bytes())
    add("policy-value", repr(_policy_shape(policy)).encode())
    names = {*policy.baselines, *policy.overlays.values()}
    for entry in policy.repos:
        names.update(entry.baselines)
    names.add("default")
    for name in sorted(names):
        data = baseline_mod.load([name]).data
        add(f"baseline:{name}", json.dumps(data, sort_keys=True, default=str).encode())
        for exc in data.get("_exception_files") or []:
            with contextlib.suppress(OSError):
                add(f"exceptions:{exc}", Path(exc).read_bytes())
    for exc in policy.exceptions:
        with contextlib.suppress(OSError):
            add(f"exceptions:{exc}", Path(exc).read_bytes())
    for directory in policy.rule_dirs:
        for path in sorted(Path(directory).rglob("*")):
            if path.is_file():  # a linked rule file is read by the loader: hashed too
                add(f"rules:{path.relative_to(directory).as_posix()}", path.read_bytes())
    return h.hexdigest()


def _policy_shape(policy: Policy) -> tuple[Any, ...]:
    return (
        policy.baselines,
        tuple(sorted(policy.overlays.items())),
        policy.excludes,
        policy.fail_on,
        policy.repo_config,
        tuple(sorted(policy.repo_allow)),
        tuple(sorted(policy.repo_self_service)),
        tuple(sorted(policy.approvers)),
        policy.ticket_pattern,
        policy.inline_ignores,
        tuple(sorted(policy.self_service)),
        tuple(
            (r.name, r.topic, tuple(sorted(r.properties.items())), r.baselines)
            for r in policy.repos
        ),
        policy.ownership,
        tuple(sorted(policy.team_aliases.items())),
        policy.levels,
    )


# --------------------------------------------------------------------------- the run


class _Clients:
    """One GitHub client per thread (PyGithub's requester is not shared across threads);
    every client is closed at the end and its request count kept."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._local = threading.local()
        self._all: list[GitHubClient] = []
        self._lock = threading.Lock()

    def get(self) -> GitHubClient:
        gh: GitHubClient | None = getattr(self._local, "client", None)
        if gh is None:
            gh = self._factory()
            self._local.client = gh
            with self._lock:
                self._all.append(gh)
        return gh

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(getattr(c, "requests_made", 0) for c in self._all)

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                c.close()
            self._all.clear()


class _Budget:
    """At most ``per_hour`` uploads in any rolling hour."""

    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_hour = per_hour
        self._clock = clock
        self._times: list[float] = []
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._times = [t for t in self._times if now - t < 3600]
            if len(self._times) >= self._per_hour:
                return False
            self._times.append(now)
            return True


@dataclass
class RunResult:
    summary: Summary
    requests: int  # HTTP requests sent to GitHub
    plan: list[str] = field(default_factory=list)  # --dry-run: what would be done
    fixes: list[str] = field(default_factory=list)  # --fix: one line per repository


def run_org(
    options: OrgOptions,
    clients: ClientFactory,
    progress: Progress | None = None,
    *,
    stop: threading.Event | None = None,
    clock: Callable[[], str] | None = None,
) -> RunResult:
    """One org scan (see the module docstring). Raises ConfigError for a bad credential or
    policy (before any repository is judged), :class:`Interrupted` when ``stop`` is set or
    the main thread is interrupted (finished repositories are recorded; the summary is not
    written)."""
    try:
        with reuse_built_rules():
            return _run_org(
                options, clients, progress or _Quiet(), stop or threading.Event(), clock
            )
    except KeyboardInterrupt:
        raise Interrupted() from None


def _run_org(
    options: OrgOptions,
    clients: ClientFactory,
    progress: Progress,
    stop: threading.Event,
    clock: Callable[[], str] | None,
) -> RunResult:
    now = clock or _now
    started = now()
    category = options.run_category
    phash = policy_hash(options.policy, category)
    info = _check_policy(options)
    pool = _Clients(clients)
    with contextlib.ExitStack() as stack:
        stack.callback(pool.close)
        state_dir = options.state_dir
        if options.dry_run:
            # a dry run reads a copy of the state (beside it: it holds SARIF logs of private
            # repositories) and writes nothing else, not even ETags
            existing = state_dir is not None and (state_dir / STATE_FILE).is_file()
            scratch = _scratch(stack, state_dir / "dry-run" if state_dir and existing else None)
            if state_dir is not None and existing:
                for suffix in ("", "-wal"):
                    src = state_dir / (STATE_FILE + suffix)
                    if src.is_file():
                        shutil.copyfile(src, scratch / (STATE_FILE + suffix))
            state_dir = scratch
        elif state_dir is None:
            # without --state, the run's state lives in --out/.tether-tmp, never in a shared
            # temporary directory, and is wiped at the next start if a kill left it behind
            state_dir = _scratch(stack, options.out / ".tether-tmp")
        # the run's clock dates its history too (tests replay weeks of scans)
        state = stack.enter_context(
            StateStore(state_dir) if clock is None else StateStore(state_dir, clock=clock)
        )
        tmp_root = state_dir / TMP_DIR
        shutil.rmtree(tmp_root, ignore_errors=True)
        tmp_root.mkdir(mode=0o700)
        stack.callback(shutil.rmtree, tmp_root, True)
        gh = pool.get()
        try:
            listing = gh.org_repos(options.org, cache=state)
        except GitHubError as e:
            if e.status in (403, 404):
                raise ConfigError(
                    options.org,
                    None,
                    f"GitHub at {gh.base_url} did not list organization {options.org} "
                    f"({e.message}): check the organization's name, --github-url (GitHub "
                    "Enterprise Server: https://HOST/api/v3) and that the credential can "
                    "see the organization",
                ) from None
            raise
        needs_props = (
            options.filters.needs_properties
            or any(e.properties for e in options.policy.repos)
            or any(s.startswith("property:") for s in options.policy.ownership)
        )
        props: dict[str, PropertyValues] = {}
        if needs_props:
            try:
                props = dict(gh.org_custom_properties(options.org, cache=state))
            except GitHubError as e:
                raise ConfigError(
                    "custom properties",
                    None,
                    f"the policy or --property needs the org's custom property values, and "
                    f"GitHub refused them ({e.message}); the credential needs the "
                    "organization's custom properties: read permission",
                ) from None
        chosen = select(listing, options.filters, props)
        if options.dry_run and options.fix:
            # a fix dry run scans (to say what it would change) on the copy of the state,
            # into a scratch --out, and writes nothing to GitHub
            options = dataclasses.replace(
                options,
                out=_scratch(stack, None),
                upload=False,
                dashboard=False,
                delivery=False,
                open_prs=False,
            )
        elif options.dry_run:
            return RunResult(
                _summary(options, phash, started, now(), chosen, {}),
                pool.requests,
                _plan(options, chosen, state, phash, props),
            )
        run_id = state.resume_or_start(phash, __version__, org=options.org, info=info)
        earlier = state.results(run_id)
        ctx = _Context(
            options,
            state,
            run_id,
            phash,
            props,
            tmp_root,
            _Budget(options.upload_budget),
            _deploy_workflow(options.policy) if options.delivery else None,
        )
        outcomes: dict[str, RepoOutcome] = {}
        reused = sum(
            1
            for r in chosen.selected
            if r.full_name in earlier and earlier[r.full_name].status != "failed"
        )
        progress.start(len(chosen.selected), reused)
        try:
            _judge_all(ctx, chosen, earlier, pool, progress, stop, outcomes)
            if options.fix:
                _fix_all(ctx, chosen, pool, stop, outcomes)
        except (KeyboardInterrupt, Interrupted):
            progress.finish()
            progress.note("interrupted: finished repositories are recorded; rerun to resume")
            # what was done is summarised (a merge of the shards still works); what was not
            # is listed as failed, so nothing looks judged that was not
            for r in chosen.selected:
                outcomes.setdefault(
                    r.full_name,
                    RepoOutcome(
                        r.full_name,
                        "failed",
                        "not judged: the run was interrupted first; rerun to resume",
                    ),
                )
            summary = _summary(options, phash, started, now(), chosen, outcomes)
            summary.interrupted = True
            with contextlib.suppress(OSError, ConfigError):
                write_summary(options.out, summary)
            raise Interrupted() from None
        progress.finish()
        summary = _summary(options, phash, started, now(), chosen, outcomes)
        write_summary(options.out, summary)
        state.finish(
            run_id, "failed" if any(o.status == "failed" for o in outcomes.values()) else "complete"
        )
        state.prune()
        fixes = [
            line
            for name, o in sorted(outcomes.items())
            for line in fixpr.describe(name, o.fix or {})
            if o.fix is not None and o.fix.get("status") != "nothing-to-fix"
        ]
        return RunResult(summary, pool.requests, fixes=fixes)


def _scratch(stack: contextlib.ExitStack, where: Path | None) -> Path:
    """A private scratch directory, removed when the run ends: `where` (wiped first: a run
    killed with SIGKILL could not remove it), else one in the system's temporary directory."""
    if where is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tether-state-")))
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(mode=0o700, parents=True)
    stack.callback(shutil.rmtree, where, True)
    return where


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_policy(options: OrgOptions) -> dict[str, Any]:
    """A bad policy fails the run before any repository (exit 2), not each repository.
    Returns what the adoption report needs of it, kept with the run (see state.Run.info):
    the maturity levels and every rule's title, category and pack."""
    from ..pr import scan_repository

    with tempfile.TemporaryDirectory(prefix="tether-policy-check-") as empty:
        report = scan_repository(Path(empty), _scan_options(options, None, {}))
        for entry in options.policy.repos:
            baseline_mod.load([*(options.policy.baselines or ["default"]), *entry.baselines])
    rules = {
        rid: {"title": r.title, "category": r.category.value, "pack": r.pack}
        for rid, r in sorted(report.rules.items())
    }
    # (the scan above refused levels that name no rule or pack)
    return {
        "levels": [{"name": lv.name, "rules": list(lv.rules)} for lv in options.policy.levels],
        "rules": rules,
    }


def _scan_options(options: OrgOptions, repo: RepoInfo | None, props: PropertyValues) -> ScanOptions:
    return ScanOptions(
        policy=options.policy,
        repo_name=repo.full_name if repo else None,
        repo_topics=repo.topics if repo else (),
        repo_properties=dict(props),
        jobs=1,  # repositories run in parallel already
        today=options.today,
    )


@dataclass
class _Context:
    options: OrgOptions
    state: StateStore
    run_id: int
    policy_hash: str
    props: Mapping[str, PropertyValues]
    tmp_root: Path
    budget: _Budget
    deploy_workflow: str | None = None  # the base baseline's actions.deploy_workflow
    # --fix: each repository's checked fix, planned on its tree while it was extracted
    proposals: dict[str, fixpr.Proposal] = field(default_factory=dict)

    def needs_tree(self, prev: Result) -> bool:
        """With --fix, a stored result cannot stand for a scan when the repository may have
        something to fix or a fix pull request to keep: its tree is needed."""
        if not self.options.fix:
            return False
        pr = self.state.fix_pr(prev.repo)
        # (a result stored before the count was kept has none: fetched)
        counted = prev.extra.get("fixable" if self.options.unsafe_fixes else "fixable_safe")
        return counted != 0 or (pr is not None and pr.status == "open")


def _judge_all(
    ctx: _Context,
    chosen: Selection,
    earlier: Mapping[str, Result],
    pool: _Clients,
    progress: Progress,
    stop: threading.Event,
    outcomes: dict[str, RepoOutcome],
) -> None:
    for skipped in chosen.skipped:
        outcomes[skipped.repo.full_name] = RepoOutcome(
            skipped.repo.full_name, "skipped", skipped.reason
        )
    pending = list(chosen.selected)
    executor = ThreadPoolExecutor(
        max_workers=max(1, ctx.options.jobs), thread_name_prefix="tether-org"
    )
    running: dict[Future[RepoOutcome], RepoInfo] = {}
    try:
        while pending or running:
            while pending and len(running) < max(1, ctx.options.jobs) and not stop.is_set():
                repo = pending.pop(0)
                running[
                    executor.submit(_judge_one, ctx, repo, earlier.get(repo.full_name), pool, stop)
                ] = repo
            if stop.is_set() and not running:
                raise Interrupted()
            finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in finished:
                repo = running.pop(fut)
                outcome = fut.result()
                outcomes[repo.full_name] = outcome
                progress.done(outcome)
            if stop.is_set() and pending:
                pending.clear()
        if stop.is_set():
            raise Interrupted()
    except BaseException:
        stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _fix_all(
    ctx: _Context,
    chosen: Selection,
    pool: _Clients,
    stop: threading.Event,
    outcomes: dict[str, RepoOutcome],
) -> None:
    """--fix: each judged repository's fix pull request, one repository at a time (GitHub
    asks for content creation to be serial; the client paces writes), in listing order so
    that --max-prs picks the same repositories each run."""
    opts = ctx.options
    budget = fixpr.PrBudget(opts.max_prs)
    gh = pool.get() if opts.open_prs else None
    for repo in chosen.selected:
        outcome = outcomes.get(repo.full_name)
        if outcome is None or outcome.status not in ("scanned", "unchanged"):
            continue
        if stop.is_set():
            raise Interrupted()
        outcome.fix = fixpr.deliver(
            gh,
            repo,
            ctx.proposals.get(repo.full_name),
            ctx.state,
            budget,
            open_prs=opts.open_prs and not opts.dry_run,
            retry_refused=opts.retry_refused,
        )


def _judge_one(
    ctx: _Context, repo: RepoInfo, earlier: Result | None, pool: _Clients, stop: threading.Event
) -> RepoOutcome:
    """One repository, never raising: a failure is an outcome."""
    try:
        outcome = _judge(ctx, repo, earlier, pool, stop)
    except Interrupted:
        raise
    except ConfigError as e:
        outcome = RepoOutcome(repo.full_name, "failed", f"configuration: {e}")
    except GitHubError as e:
        outcome = RepoOutcome(repo.full_name, "failed", f"GitHub: {e.message}")
    except OSError as e:
        outcome = RepoOutcome(repo.full_name, "failed", f"{type(e).__name__}: {e.strerror or e}")
    except Exception as e:  # noqa: BLE001 - one repository must not end the org scan
        outcome = RepoOutcome(repo.full_name, "failed", f"internal error: {type(e).__name__}: {e}")
    outcome.reason = clip(redact(outcome.reason), 500)
    if outcome.status == "failed":
        ctx.state.record(
            ctx.run_id,
            Result(
                repo=repo.full_name,
                status="failed",
                policy_hash=ctx.policy_hash,
                tether_version=__version__,
                pushed_at=_iso(repo.pushed_at),
                reason=outcome.reason,
                commit=outcome.commit if outcome.refused else None,
                extra={"refused": outcome.refused},
            ),
        )
    return outcome


def _refused(name: str, sha: str, why: str) -> RepoOutcome:
    """A snapshot tether will not judge (too large, hostile): the same commit is refused
    again by later runs without being downloaded again."""
    return RepoOutcome(
        name, "failed", f"snapshot of {sha[:12]} refused: {why}", commit=sha, refused=True
    )


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _judge(
    ctx: _Context, repo: RepoInfo, earlier: Result | None, pool: _Clients, stop: threading.Event
) -> RepoOutcome:
    opts = ctx.options
    name = repo.full_name
    pushed = _iso(repo.pushed_at)
    props = ctx.props.get(name, {})
    ident = identity(repo, props)
    today = opts.today.isoformat()

    def fresh(prev: Result | None) -> bool:
        """A stored result still says what a scan would say today: nothing pushed since,
        the same default branch, topics and properties (they choose layers), still valid."""
        return (
            prev is not None
            and prev.pushed_at == pushed
            and prev.extra.get("identity") == ident
            and (prev.valid_until is None or today < prev.valid_until)
        )

    # 1. finished in this run already (a resumed run), if nothing changed since
    if (
        earlier is not None
        and earlier.status != "failed"
        and fresh(earlier)
        and not ctx.needs_tree(earlier)
    ):
        reused = _reuse(ctx, earlier, ident, keep_status=True)
        if reused is not None:
            return reused
    # ... or unchanged since a stored result of another run
    prev = ctx.state.unchanged(name, pushed, ctx.policy_hash, __version__, today)
    if prev is not None and fresh(prev) and not ctx.needs_tree(prev):
        reused = _reuse(ctx, prev, ident, pool=pool)
        if reused is not None:
            return reused
    if stop.is_set():
        raise Interrupted()
    gh = pool.get()
    _pace(gh, opts, stop)
    try:
        sha = gh.branch_head(name, repo.default_branch)
    except GitHubError as e:
        if e.status == 409:  # GitHub's answer for a repository without commits
            return RepoOutcome(name, "skipped", f"empty: {e.message}")
        raise
    # a commit refused before costs no second download (under the same tether version)
    latest = ctx.state.last_result(name)
    if (
        latest is not None
        and latest.status == "failed"
        and latest.extra.get("refused")
        and latest.commit == sha
        and latest.tether_version == __version__
    ):
        return RepoOutcome(name, "failed", latest.reason, commit=sha, refused=True)
    # 2. the same commit judged before under the same policy (a push to another branch)
    last = ctx.state.last_reusable(name)
    if (
        last is not None
        and last.commit == sha
        and last.policy_hash == ctx.policy_hash
        and last.tether_version == __version__
        and last.extra.get("identity") == ident
        and (last.valid_until is None or today < last.valid_until)
        and not ctx.needs_tree(last)
    ):
        reused = _reuse(ctx, last, ident, pushed=pushed, pool=pool)
        if reused is not None:
            return reused
    # 3. fetch and scan
    with tempfile.TemporaryDirectory(prefix="repo-", dir=ctx.tmp_root) as tmp:
        archive = Path(tmp) / "snapshot.tar.gz"
        with open(archive, "wb") as fh:
            try:
                gh.download_tarball(name, sha, fh, max_bytes=MAX_DOWNLOAD)
            except GitHubError as e:
                if e.status in (403, 404):
                    raise GitHubError(
                        e.status,
                        f"{e.message} (does the credential have Contents: read on {name}?)",
                    ) from None
                raise
        if stop.is_set():
            raise Interrupted()
        tree = Path(tmp) / "tree"
        tree.mkdir(mode=0o700)
        with open(archive, "rb") as src:
            try:
                extracted = fetch.extract(src, tree, stop=stop.is_set)
            except InterruptedError:
                raise Interrupted() from None
            except (OSError, EOFError, tarfile.TarError) as e:
                return RepoOutcome(
                    name,
                    "failed",
                    f"the snapshot of {sha[:12]} is not a readable archive: "
                    f"{type(e).__name__}: {e}",
                )
        archive.unlink()
        if extracted.refused is not None:
            return _refused(name, sha, extracted.refused)
        if extracted.truncated:
            return _refused(
                name,
                sha,
                f"it holds more configuration than the org scan reads "
                f"({fetch.MAX_ARCHIVE_BYTES >> 20} MiB or {fetch.MAX_MEMBERS} entries); "
                "scan this repository from a checkout (tether scan, or the Action)",
            )
        # the archive is what the repository's .gitattributes lets `git archive` export:
        # checked and completed against the commit's own file list
        entries, listing_truncated = gh.commit_tree(name, sha)
        try:
            fetch.complete(
                tree,
                extracted,
                entries,
                listing_truncated,
                lambda oid, limit: gh.blob(name, oid, max_bytes=limit),
                listed=lambda root: kustomization_listed(root, list(extracted.sizes)),
            )
        except fetch.Refused as e:
            return _refused(name, sha, str(e))
        from ..pr import scan_repository
        from ..report import sarif

        report = scan_repository(tree, _scan_options(opts, repo, props))
        report.diagnostics.extend(_extraction_diagnostics(extracted))
        owner = attribute(opts.policy, opts.org, props, tree)
        log = sarif.build(
            report, category=opts.run_category, levels=report.levels, local_root=False
        )
        if opts.fix and fixpr.fixable(report, unsafe=opts.unsafe_fixes):
            # the remedies are written to this extracted copy and checked by a rescan with
            # the same options; what is kept leaves with the proposal (the tree does not)
            ctx.proposals[name] = fixpr.propose(
                name,
                sha,
                repo.default_branch,
                tree,
                report,
                lambda: scan_repository(tree, _scan_options(opts, repo, props)),
                entries,
                unsafe=opts.unsafe_fixes,
            )
    data = sarif.dumps(log).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    ctx.state.put_sarif(digest, gzip.compress(data, mtime=0))
    rel = sarif_path(name)
    write_atomic(opts.out / rel, data)
    outcome = _outcome(report, name, "scanned", sha, repo.default_branch, pushed, rel)
    outcome.team, outcome.team_source = owner.team, owner.source
    outcome.rules = outcomes_of(report)
    outcome.excepted_items = excepted_items(report)
    outcome.fixable = fixpr.fixable(report)
    outcome.fixable_safe = fixpr.fixable(report, unsafe=False)
    return _deliver(
        ctx, outcome, data, digest, ctx.state.last_reusable(name), ident, pool, log, repo.id
    )


def identity(repo: RepoInfo, props: PropertyValues) -> str:
    """What besides its commits decides a repository's verdict and does not move its
    ``pushed_at``: the default branch, topics and custom properties (they choose layers)."""
    data = {
        "id": repo.id,  # two repositories swapping names swap their results
        "default_branch": repo.default_branch,
        "topics": sorted(repo.topics),
        "properties": {k: props[k] for k in sorted(props)},
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _reuse(
    ctx: _Context,
    prev: Result,
    ident: str,
    *,
    keep_status: bool = False,
    pushed: str | None = None,
    pool: _Clients | None = None,
) -> RepoOutcome | None:
    """The stored result as this run's outcome, its SARIF written to --out again; None when
    the stored SARIF is gone (the repository is scanned again)."""
    stored = prev.extra.get("outcome")
    if not isinstance(stored, dict) or prev.sarif_sha256 is None or prev.run_id is None:
        return None
    # a result recorded before the state kept rule outcomes (schema 2) is scanned again,
    # once, so that the adoption report counts it
    rules = ctx.state.rule_outcomes(prev.run_id, prev.repo).get(prev.repo)
    if rules is None or prev.team is None:
        return None
    gz = ctx.state.sarif(prev.sarif_sha256)
    if gz is None:
        return None
    data = gzip.decompress(gz)
    outcome = RepoOutcome.from_json(stored)
    outcome.rules = dict(rules)
    outcome.team, outcome.team_source = prev.team, prev.team_source
    kept = prev.extra.get("excepted")
    outcome.excepted_items = (
        [e for e in kept if isinstance(e, dict)] if isinstance(kept, list) else []
    )
    outcome.status = prev.status if keep_status else "unchanged"
    outcome.reason = ""
    fixable, safe = prev.extra.get("fixable"), prev.extra.get("fixable_safe")
    outcome.fixable = fixable if isinstance(fixable, int) else None
    outcome.fixable_safe = safe if isinstance(safe, int) else None
    if pushed is not None:
        outcome.pushed_at = pushed
    rel = sarif_path(prev.repo)
    target = ctx.options.out / rel
    if not (
        target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == prev.sarif_sha256
    ):
        write_atomic(target, data)
    outcome.sarif = rel
    if keep_status:
        # recorded in this run already, deliveries (and delivery signals) included
        outcome.upload = prev.extra.get("upload")
        outcome.dashboard = prev.extra.get("dashboard")
        outcome.delivery = prev.extra.get("delivery")
        return outcome
    return _deliver(
        ctx, outcome, data, prev.sarif_sha256, prev, ident, pool, None, prev.extra.get("repo_id")
    )


def _outcome(
    report: Report,
    name: str,
    status: str,
    sha: str,
    branch: str,
    pushed: str | None,
    rel: str,
) -> RepoOutcome:
    by_category: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    by_level: dict[str, int] = {}
    for f in report.findings:
        by_category[f.category.value] = by_category.get(f.category.value, 0) + 1
        by_rule[f.rule_id] = by_rule.get(f.rule_id, 0) + 1
        if f.enforced:
            by_level[f.level.value] = by_level.get(f.level.value, 0) + 1
    return RepoOutcome(
        repo=name,
        status=status,
        commit=sha,
        default_branch=branch,
        pushed_at=pushed,
        layers=[_layer_name(n) for n in report.layers],
        matched=report.layers_matched,
        findings=len(report.findings),
        excepted=len(report.excepted),
        diagnostics=len(report.diagnostics),
        by_category=by_category,
        by_rule=by_rule,
        by_level=by_level,
        sarif=rel,
        valid_until=report.valid_until.isoformat() if report.valid_until else None,
    )


def _deploy_workflow(policy: Policy) -> str | None:
    """The golden deploy workflow the policy's base layers name (actions.deploy_workflow)."""
    data = baseline_mod.load(list(policy.baselines or ["default"])).data
    actions = data.get("actions") if isinstance(data, dict) else None
    value = actions.get("deploy_workflow") if isinstance(actions, dict) else None
    return value if isinstance(value, str) and value else None


def excepted_items(report: Report) -> list[dict[str, Any]]:
    """The findings an exception covered, and which record: what `tether triage` compares
    with code scanning's dismissals (repository text redacted and clipped)."""
    out = []
    for e in report.excepted:
        f, r = e.finding, e.record
        out.append(
            {
                "rule": f.rule_id,
                "path": f.path,
                "line": f.span.start_line,
                "subject": clip(redact(f.subject), 200),
                "record": {
                    "rule": clip(redact(r.rule), 100),
                    "origin": r.origin,
                    "file": clip(redact(r.file), 300),
                    "line": r.span.start_line,
                    "owner": clip(redact(r.owner), 100) if r.owner else None,
                    "expires": r.expires.isoformat() if r.expires else None,
                },
            }
        )
    return out


def _layer_name(name: str) -> str:
    """A baseline layer as the summary shows it: an embedded name, or the file's name."""
    return Path(name).name if ("/" in name or os.sep in name) else name


def _extraction_diagnostics(extracted: fetch.Extracted) -> list[Diagnostic]:
    out = [
        Diagnostic(path, Span(1, 1, 1, 1), "not-extracted", why, Level.WARNING)
        for path, why in extracted.notes
    ]
    if extracted.restored:
        shown = ", ".join(extracted.restored[:10])
        more = f" and {len(extracted.restored) - 10} more" if len(extracted.restored) > 10 else ""
        out.append(
            Diagnostic(
                extracted.restored[0],
                Span(1, 1, 1, 1),
                "read-from-commit",
                f"{len(extracted.restored)} files left out of GitHub's archive or rewritten in "
                f"it (.gitattributes export-ignore or export-subst) were read from the commit "
                f"instead: {shown}{more}",
                Level.NOTE,
            )
        )
    return out


def _pace(gh: GitHubClient, opts: OrgOptions, stop: threading.Event) -> None:
    """Keep ``rate_reserve`` requests back: below it, wait for the reset (at most
    ``max_rate_wait`` seconds, in steps that notice a stop), else fail the repository."""
    limit = gh.rate_limit()
    if limit.remaining < 0 or limit.remaining > opts.rate_reserve or limit.reset is None:
        return
    wait_s = (limit.reset - dt.datetime.now(dt.UTC)).total_seconds() + 1
    if wait_s <= 0:
        return
    if wait_s > opts.max_rate_wait:
        raise GitHubError(
            None,
            f"rate limit: {limit.remaining} requests left until {limit.reset:%H:%M:%S} UTC; "
            "the next run picks this repository up",
        )
    stop.wait(wait_s)
    if stop.is_set():
        raise Interrupted()


# ------------------------------------------------------------------------------ delivery


def _deliver(
    ctx: _Context,
    outcome: RepoOutcome,
    data: bytes,
    digest: str,
    prev: Result | None,
    ident: str,
    pool: _Clients | None,
    log: dict[str, Any] | None,
    repo_id: int | None,
) -> RepoOutcome:
    """Upload and update the dashboard issue as asked, then record the result. ``prev`` is
    the repository's last stored result (what was uploaded, what the issue shows), ignored
    when it belonged to another repository of the same name (renamed or transferred)."""
    from . import deliver

    opts = ctx.options
    if prev is not None and prev.extra.get("repo_id") != repo_id:
        prev = None
    extra = prev.extra if prev is not None else {}
    same_log = prev is not None and prev.sarif_sha256 == digest
    # an upload counts only once GitHub has processed it: a pending one is checked again
    uploaded_for = prev.uploaded_for if prev is not None and same_log else None
    pending = extra.get("pending_upload") if same_log else None
    if not (isinstance(pending, dict) and pending.get("commit") == outcome.commit):
        pending = None
    if opts.upload and pool is not None and outcome.commit:
        if uploaded_for == outcome.commit:
            outcome.upload = {"status": "already-uploaded"}
        elif pending is not None:
            outcome.upload = deliver.recheck(pool.get(), outcome, str(pending.get("id")))
        elif not ctx.budget.take():
            outcome.upload = {
                "status": "deferred",
                "reason": f"upload budget of {opts.upload_budget} an hour used; "
                "the next run uploads it",
            }
        else:
            outcome.upload = deliver.upload(
                pool.get(), outcome, data, outcome.default_branch or "", opts.upload_wait
            )
        status = outcome.upload["status"]
        if status in ("uploaded", "already-uploaded"):
            uploaded_for, pending = outcome.commit, None
        elif status == "pending":
            pending = {"id": outcome.upload.get("id"), "commit": outcome.commit}
        else:
            pending = None
    dashboard_for = extra.get("dashboard_for")
    checked = extra.get("dashboard_checked")
    known = (extra.get("dashboard") or {}).get("number") or extra.get("dashboard_number")
    if opts.dashboard and pool is not None:
        key = f"{digest}:{outcome.commit}"
        today = opts.today.isoformat()
        # the issue is read back once a day: a team may have closed or edited it
        if dashboard_for == key and checked == today:
            outcome.dashboard = {"status": "up-to-date"}
            if known:
                outcome.dashboard["number"] = int(known)
        else:
            sarif_log = log if log is not None else json.loads(data)
            outcome.dashboard = deliver.dashboard(
                pool.get(), outcome, sarif_log, opts.run_category, int(known) if known else None
            )
            if outcome.dashboard["status"] in (
                "created",
                "updated",
                "closed",
                "up-to-date",
                "clean",
            ):
                dashboard_for, checked = key, today
                known = outcome.dashboard.get("number", known)
    delivery_error = None
    if opts.delivery and pool is not None:
        try:
            outcome.delivery = delivery_mod.measure(
                pool.get(),
                outcome.repo,
                dt.datetime.combine(opts.today, dt.time(), dt.UTC),
                environment=opts.delivery_environment,
                workflow=ctx.deploy_workflow,
            ).to_json()
        except GitHubError as e:
            delivery_error = clip(redact(e.message), 300)
        except (ValueError, TypeError, OverflowError) as e:  # an answer not shaped as documented
            delivery_error = clip(redact(f"{type(e).__name__}: {e}"), 300)
    stored = outcome.to_json()
    stored.pop("upload", None)
    stored.pop("dashboard", None)
    ctx.state.record(
        ctx.run_id,
        Result(
            repo=outcome.repo,
            status="scanned" if outcome.status == "scanned" else "unchanged",
            policy_hash=ctx.policy_hash,
            tether_version=__version__,
            commit=outcome.commit,
            pushed_at=outcome.pushed_at,
            counts_by_category=outcome.by_category,
            counts_by_rule=outcome.by_rule,
            layers=", ".join(outcome.layers),
            sarif_sha256=digest,
            uploaded_for=uploaded_for,
            valid_until=outcome.valid_until,
            team=outcome.team,
            team_source=outcome.team_source,
            rules=outcome.rules,
            extra={
                "outcome": {**stored, "valid_until": outcome.valid_until},
                "identity": ident,
                "repo_id": repo_id,
                "pending_upload": pending,
                "dashboard_for": dashboard_for,
                "dashboard_checked": checked,
                "dashboard_number": known,
                "upload": outcome.upload,
                "dashboard": outcome.dashboard,
                "excepted": outcome.excepted_items,
                "delivery": outcome.delivery,
                "delivery_error": delivery_error,
                "fixable": outcome.fixable,
                "fixable_safe": outcome.fixable_safe,
            },
        ),
    )
    return outcome


# ------------------------------------------------------------------------------ summary


def _summary(
    options: OrgOptions,
    phash: str,
    started: str,
    finished: str,
    chosen: Selection,
    outcomes: Mapping[str, RepoOutcome],
) -> Summary:
    repos = list(outcomes.values()) or [
        RepoOutcome(s.repo.full_name, "skipped", s.reason) for s in chosen.skipped
    ]
    return Summary(
        org=options.org,
        tether_version=__version__,
        policy_file=options.policy.file,
        policy_hash=phash,
        category=options.run_category,
        started_at=started,
        finished_at=finished,
        shards=[str(options.filters.shard)],
        repos=repos,
    )


def _plan(
    options: OrgOptions,
    chosen: Selection,
    state: StateStore,
    phash: str,
    props: Mapping[str, PropertyValues],
) -> list[str]:
    lines = []
    today = options.today.isoformat()
    base = list(options.policy.baselines or ["default"])
    for repo in chosen.selected:
        extra, why = options.policy.layers_for(
            RepoFacts(repo.full_name, repo.topics, dict(props.get(repo.full_name, {})))
        )
        layers = ", ".join(_layer_name(n) for n in [*base, *extra])
        layers += f" ({why})" if why else ""
        prev = state.unchanged(repo.full_name, _iso(repo.pushed_at), phash, __version__, today)
        ident = identity(repo, props.get(repo.full_name, {}))
        if prev is not None and prev.extra.get("identity") == ident:
            what = "unchanged since the last scan: reuse its result"
            if options.upload and prev.uploaded_for != prev.commit:
                what += ", upload its SARIF"
        else:
            what = f"fetch {repo.default_branch} as a tarball, scan"
            if options.upload:
                what += ", upload to code scanning"
        if options.dashboard:
            what += ", update the dashboard issue"
        lines.append(f"{repo.full_name}: {what}; layers {layers}")
    lines += [f"{s.repo.full_name}: skip ({s.reason})" for s in chosen.skipped]
    if chosen.other_shards:
        lines.append(f"({chosen.other_shards} repositories belong to other shards)")
    return lines

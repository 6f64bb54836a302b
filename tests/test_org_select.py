"""Org scan selection, sharding, progress output and rate-limit pacing."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest

from scanner.github.client import GitHubError, RateLimit, RepoInfo
from scanner.org.progress import ConsoleProgress
from scanner.org.run import Interrupted, OrgOptions, _pace
from scanner.org.select import Filters, Shard, parse_property, parse_shard, select
from scanner.org.summary import RepoOutcome, Summary, markdown, missing_shards


def repo(name: str, **kw: Any) -> RepoInfo:
    base: dict[str, Any] = dict(
        full_name=f"acme/{name}",
        default_branch="main",
        archived=False,
        disabled=False,
        fork=False,
        size_kb=10,
        topics=(),
        pushed_at=None,
        visibility="private",
    )
    base.update(kw)
    return RepoInfo(**base)


def test_every_repository_lands_in_exactly_one_shard_and_stays_there() -> None:
    repos = [repo(f"svc-{i}") for i in range(300)]
    owners: dict[str, list[int]] = {}
    for k in range(1, 5):
        chosen = select(repos, Filters(shard=Shard(k, 4)))
        for r in chosen.selected:
            owners.setdefault(r.full_name, []).append(k)
        assert chosen.other_shards == 300 - len(chosen.selected)
        assert 40 < len(chosen.selected) < 110  # roughly even
    assert all(len(v) == 1 for v in owners.values()) and len(owners) == 300
    # adding repositories never moves the others
    more = select([*repos, *(repo(f"new-{i}") for i in range(50))], Filters(shard=Shard(2, 4)))
    before = {n for n, ks in owners.items() if ks == [2]}
    assert before <= {r.full_name for r in more.selected}


def test_skip_reasons_in_order() -> None:
    repos = [
        repo("gone", disabled=True, archived=True),
        repo("old", archived=True),
        repo("copy", fork=True),
        repo("blank", size_kb=0),
        repo("nobranch", default_branch=""),
        repo("api", topics=("java",)),
        repo("web"),
        repo("../evil"),
    ]
    props = {"acme/api": {"team": "payments"}, "acme/web": {"team": ["web", "payments"]}}
    got = select(repos, Filters(), props)
    reasons = {s.repo.full_name: s.reason for s in got.skipped}
    assert reasons["acme/gone"] == "disabled"
    assert reasons["acme/old"].startswith("archived")
    assert reasons["acme/copy"].startswith("fork")
    assert reasons["acme/blank"].startswith("empty") and reasons["acme/nobranch"].startswith(
        "empty"
    )
    assert reasons["acme/../evil"].startswith("not a valid repository name")
    assert [r.full_name for r in got.selected] == ["acme/api", "acme/web"]
    both = Filters(include_archived=True, include_forks=True)
    assert {r.full_name for r in select(repos, both).selected} >= {"acme/old", "acme/copy"}
    f = Filters(include=("a*",), exclude=("acme/api",))
    reasons = {s.repo.full_name: s.reason for s in select(repos, f).skipped}
    assert reasons["acme/api"] == "excluded by --exclude acme/api"
    assert reasons["acme/web"] == "not matched by --include a*"
    reasons = {s.repo.full_name: s.reason for s in select(repos, Filters(topics=("java",))).skipped}
    assert "acme/api" not in reasons and reasons["acme/web"].startswith("has none of the topics")
    f = Filters(properties=(("team", "payments"),))
    assert [r.full_name for r in select(repos, f, props).selected] == ["acme/api", "acme/web"]
    f = Filters(properties=(("team", "web"),))
    reasons = {s.repo.full_name: s.reason for s in select(repos, f, props).skipped}
    assert reasons["acme/api"] == "custom property team=web does not hold (team is 'payments')"


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "1", "2/2/2", "1/1001"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)


def test_shard_and_property_parsing() -> None:
    assert parse_shard(" 2 / 4 ") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    assert parse_property("team = payments") == ("team", "payments")
    with pytest.raises(ValueError):
        parse_property("team=")
    assert missing_shards(["1/3", "3/3"]) == ["2/3"] and missing_shards(["1/1"]) == []


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    p = ConsoleProgress(out, tty=False)
    p.start(2, 0)
    p.done(RepoOutcome("acme/a", "scanned", findings=3))
    p.done(RepoOutcome("acme/b", "failed", reason="GitHub: 502 ghp_" + "A1b2C3d4" * 5))
    p.finish()
    text = out.getvalue()
    assert "[1/2] acme/a: scanned, 3 findings\n" in text
    assert "[2/2] acme/b: failed: GitHub: 502 ghp_[REDACTED]" in text
    assert "\x1b" not in text and "\r" not in text
    monkeypatch.setenv("NO_COLOR", "1")
    tty = io.StringIO()
    p = ConsoleProgress(tty, tty=True)
    p.start(1, 0)
    p.done(RepoOutcome("acme/a", "scanned"))
    p.finish()
    assert "\r\x1b[2K" in tty.getvalue() and "\x1b[32m" not in tty.getvalue()
    monkeypatch.delenv("NO_COLOR")
    coloured = io.StringIO()
    p = ConsoleProgress(coloured, tty=True)
    p.start(1, 0)
    p.done(RepoOutcome("acme/a", "failed", reason="x"))
    assert "\x1b[31mfailed\x1b[0m" in coloured.getvalue()


class _Limited:
    def __init__(self, remaining: int, reset_in: float) -> None:
        self.limit = RateLimit(
            remaining,
            5000,
            dt.datetime.now(dt.UTC) + dt.timedelta(seconds=reset_in),
        )

    def rate_limit(self) -> RateLimit:
        return self.limit


def test_pacing_keeps_a_reserve_and_never_waits_past_the_bound(tmp_path: Any) -> None:
    opts = OrgOptions(org="acme", out=tmp_path, rate_reserve=50, max_rate_wait=2)
    stop = threading.Event()
    _pace(_Limited(4000, 3000), opts, stop)  # plenty left: no wait  # type: ignore[arg-type]
    t = dt.datetime.now()
    _pace(_Limited(10, 0.2), opts, stop)  # type: ignore[arg-type]
    assert (dt.datetime.now() - t).total_seconds() >= 0.2
    with pytest.raises(GitHubError, match="rate limit: 10 requests left"):
        _pace(_Limited(10, 3000), opts, stop)  # type: ignore[arg-type]
    stop.set()
    with pytest.raises(Interrupted):
        _pace(_Limited(10, 1), opts, stop)  # type: ignore[arg-type]


def test_summary_markdown_fits_an_issue() -> None:
    repos = [RepoOutcome(f"acme/r{i}", "failed", reason="x" * 400) for i in range(400)]
    s = Summary("acme", "0", None, "0" * 64, "tether-org/acme", "t", "t", ["1/1"], repos)
    text = markdown(s)
    assert len(text) <= 60_000 and "summary.json lists every repository" in text

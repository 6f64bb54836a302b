"""scanner.github.client against tests/github_fake.py, through the real PyGithub client."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.errors import ConfigError
from scanner.github import (
    MAX_ISSUE_BODY,
    EtagCache,
    GitHubClient,
    GitHubError,
    IssueInfo,
    RepoInfo,
    RetryPolicy,
    SarifStatus,
)
from tests.github_fake import PREFIX, SECONDARY_LIMIT, FakeGitHub

FAST = RetryPolicy(
    total=3,
    backoff_factor=0,
    backoff_jitter=0,
    secondary_rate_wait=0,
    max_wait=5,
    seconds_between_requests=0,
    seconds_between_writes=0,
)
ORG = "acme"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        for i in range(5):
            server.add_repo(f"{ORG}/svc-{i}", topics=["java-service"] if i % 2 else [])
        server.add_repo(f"{ORG}/old", archived=True)
        server.add_repo(f"{ORG}/forked", fork=True, visibility="internal")
        server.add_repo(f"{ORG}/blank", size=0, pushed_at=None)
        server.add_repo("other/elsewhere")
        yield server


def client(fake: FakeGitHub, token: str | None = None) -> GitHubClient:
    env = {"GITHUB_TOKEN": fake.token if token is None else token}
    return GitHubClient.from_env(env, base_url=fake.url, retry=FAST)


def test_org_repos_is_one_paginated_walk_of_plain_dataclasses(fake: FakeGitHub) -> None:
    with client(fake) as gh:
        repos = gh.org_repos(ORG)
    assert len(repos) == 8
    assert all(type(r) is RepoInfo for r in repos)
    by_name = {r.full_name: r for r in repos}
    assert "other/elsewhere" not in by_name
    assert by_name[f"{ORG}/old"].archived
    assert by_name[f"{ORG}/forked"].fork and by_name[f"{ORG}/forked"].visibility == "internal"
    assert by_name[f"{ORG}/blank"].empty and by_name[f"{ORG}/blank"].pushed_at is None
    svc1 = by_name[f"{ORG}/svc-1"]
    assert svc1.topics == ("java-service",) and svc1.default_branch == "main"
    assert svc1.pushed_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert not svc1.empty and not svc1.disabled
    # 8 repositories, 3 a page on the fake: 3 pages, each asked exactly once, nothing else
    assert fake.routes() == [f"/orgs/{ORG}/repos"] * 3
    pages = [r.path for r in fake.requests]
    assert "per_page=100" in pages[0] and "type=all" in pages[0]
    assert ["page=2" in pages[1], "page=3" in pages[2]] == [True, True]


def test_listing_follows_the_link_header_whatever_the_page_size(fake: FakeGitHub) -> None:
    fake.page_size = 1
    with client(fake) as gh:
        assert len(gh.org_repos(ORG)) == 8
    assert len(fake.requests) == 8


def test_authorization_header_is_sent(fake: FakeGitHub) -> None:
    with client(fake) as gh:
        gh.repo_info(f"{ORG}/svc-0")
    assert fake.requests[-1].headers["authorization"] == f"token {fake.token}"


def test_org_custom_properties_one_paginated_listing(fake: FakeGitHub) -> None:
    for i in range(8):
        fake.properties[f"{ORG}/svc-{i}"] = [
            {"property_name": "team", "value": "payments" if i < 3 else "search"},
            {"property_name": "stack", "value": ["java", "k8s"]},
            {"property_name": "unset", "value": None},
        ]
    fake.properties["other/elsewhere"] = [{"property_name": "team", "value": "x"}]
    with client(fake) as gh:
        props = gh.org_custom_properties(ORG)
    assert sorted(props) == [f"{ORG}/svc-{i}" for i in range(8)]
    assert props[f"{ORG}/svc-0"] == {"team": "payments", "stack": ["java", "k8s"]}
    assert props[f"{ORG}/svc-4"]["team"] == "search"
    assert fake.routes() == [f"/orgs/{ORG}/properties/values"] * 3


def test_repo_info_and_branch_head(fake: FakeGitHub) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    fake.branches[(f"{ORG}/svc-2", "main")] = sha
    fake.branches[(f"{ORG}/svc-2", "release/1.x")] = "f" * 40
    with client(fake) as gh:
        info = gh.repo_info(f"{ORG}/svc-2")
        assert info.full_name == f"{ORG}/svc-2" and info.size_kb == 120
        assert gh.branch_head(f"{ORG}/svc-2", "main") == sha
        assert gh.branch_head(f"{ORG}/svc-2", "release/1.x") == "f" * 40
        with pytest.raises(GitHubError) as missing:
            gh.branch_head(f"{ORG}/svc-2", "nope")
        assert missing.value.status == 404
        with pytest.raises(ValueError):
            gh.repo_info("no-slash")
    assert fake.routes()[:3] == [
        f"/repos/{ORG}/svc-2",
        f"/repos/{ORG}/svc-2/branches/main",
        f"/repos/{ORG}/svc-2/branches/release/1.x",
    ]


def _all_text(exc: BaseException) -> str:
    return str(exc) + repr(exc.args) + "".join(traceback.format_exception(exc))


def test_bad_token_is_a_config_error_without_retries_or_the_token(fake: FakeGitHub) -> None:
    bad = "ghp_WrongToken9876543210zyxwvuZYXWVU98765"
    with client(fake, bad) as gh, pytest.raises(ConfigError) as err:
        gh.org_repos(ORG)
    assert "401" in str(err.value) and "GITHUB_TOKEN" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    text = _all_text(err.value)
    assert bad not in text and bad[4:] not in text
    assert len(fake.requests) == 1  # a 401 is not retried


def test_missing_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        GitHubClient.from_env({}, base_url="http://127.0.0.1:1/api/v3")


@pytest.mark.parametrize(
    "url",
    ["http://ghe.example.com/api/v3", "ftp://x", "https://u:p@ghe.example.com/api/v3", "nope"],
)
def test_unsafe_or_bad_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        GitHubClient.from_env({"GITHUB_TOKEN": "t"}, base_url=url)


def test_ghes_base_url_is_kept() -> None:
    gh = GitHubClient.from_env({"GITHUB_TOKEN": "t"}, base_url="https://ghe.example.com/api/v3/")
    assert gh.base_url == "https://ghe.example.com/api/v3"
    gh.close()


def test_secondary_rate_limit_with_retry_after_is_waited_then_retried(fake: FakeGitHub) -> None:
    fake.fail_next(f"/orgs/{ORG}/repos", 403, SECONDARY_LIMIT, {"Retry-After": "1"})
    started = time.monotonic()
    with client(fake) as gh:
        assert len(gh.org_repos(ORG)) == 8
    assert time.monotonic() - started >= 0.9  # Retry-After honoured
    assert fake.routes() == [f"/orgs/{ORG}/repos"] * 4  # the refused page once more


def test_secondary_rate_limit_message_without_retry_after_is_retried(fake: FakeGitHub) -> None:
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, SECONDARY_LIMIT)
    with client(fake) as gh:
        assert gh.repo_info(f"{ORG}/svc-0").full_name == f"{ORG}/svc-0"
    assert len(fake.requests) == 2


def test_plain_403_is_not_retried(fake: FakeGitHub) -> None:
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, {"message": "Resource not accessible"})
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.repo_info(f"{ORG}/svc-0")
    assert err.value.status == 403 and "Resource not accessible" in str(err.value)
    assert len(fake.requests) == 1


def test_502_once_then_success_mid_listing(fake: FakeGitHub) -> None:
    fake.fail_next(f"/orgs/{ORG}/repos", 502, {"message": "Server Error"})
    with client(fake) as gh:
        assert len(gh.org_repos(ORG)) == 8
    assert len(fake.requests) == 4


def test_5xx_retries_are_bounded_and_the_token_stays_out(fake: FakeGitHub) -> None:
    for _ in range(10):
        fake.fail_next(f"/repos/{ORG}/svc-0", 502, {"message": "Server Error"})
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.repo_info(f"{ORG}/svc-0")
    assert len(fake.requests) == FAST.total + 1
    assert f"/repos/{ORG}/svc-0" in str(err.value)
    assert fake.token not in _all_text(err.value)


def test_retry_after_longer_than_max_wait_is_not_slept(fake: FakeGitHub) -> None:
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, SECONDARY_LIMIT, {"Retry-After": "3600"})
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, SECONDARY_LIMIT, {"Retry-After": "3600"})
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, SECONDARY_LIMIT, {"Retry-After": "3600"})
    fake.fail_next(f"/repos/{ORG}/svc-0", 403, SECONDARY_LIMIT, {"Retry-After": "3600"})
    policy = dataclasses.replace(FAST, max_wait=0)
    started = time.monotonic()
    with (
        GitHubClient.from_env({"GITHUB_TOKEN": fake.token}, base_url=fake.url, retry=policy) as gh,
        pytest.raises(GitHubError),
    ):
        gh.repo_info(f"{ORG}/svc-0")
    assert time.monotonic() - started < 5


def test_rate_limit_is_exposed(fake: FakeGitHub) -> None:
    with client(fake) as gh:
        first = gh.rate_limit()  # nothing seen yet: asks /rate_limit
        assert fake.routes() == ["/rate_limit"]
        assert first.limit == 5000 and first.remaining == 5000
        gh.repo_info(f"{ORG}/svc-0")
        after = gh.rate_limit()  # from the last response's headers: no request
    assert after.remaining == 4998 and after.limit == 5000
    assert after.reset == datetime.fromtimestamp(1_900_000_000, UTC)
    assert len(fake.requests) == 2


# ------------------------------------------------------------------------- GitHub App


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[str, str]:
    return _rsa_pair()


def test_app_auth_mints_an_installation_token(fake: FakeGitHub, rsa_pair: tuple[str, str]) -> None:
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    with GitHubClient.from_app(1234, private, ORG, base_url=fake.url, retry=FAST) as gh:
        assert len(gh.org_repos(ORG)) == 8
    assert fake.routes()[:3] == [
        f"/orgs/{ORG}/installation",
        "/app",
        "/app/installations/77/access_tokens",
    ]
    assert fake.requests[0].headers["authorization"].startswith("Bearer ")
    assert fake.requests[2].method == "POST"
    assert len(fake.minted) == 1
    listing = [r for r in fake.requests if r.route == f"/orgs/{ORG}/repos"]
    assert len(listing) == 3
    assert all(r.headers["authorization"] == f"token {fake.minted[0]}" for r in listing)


def test_app_installation_token_is_renewed_near_expiry(
    fake: FakeGitHub, rsa_pair: tuple[str, str]
) -> None:
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    fake.token_lifetime = timedelta(seconds=5)  # inside PyGithub's 20 s refresh threshold
    with GitHubClient.from_app("1234", private, ORG, base_url=fake.url, retry=FAST) as gh:
        gh.repo_info(f"{ORG}/svc-0")
        gh.repo_info(f"{ORG}/svc-1")
    assert len(fake.minted) == 2
    used = [r.headers["authorization"] for r in fake.requests if r.route.startswith("/repos/")]
    assert used == [f"token {fake.minted[0]}", f"token {fake.minted[1]}"]


def test_app_with_long_lived_token_mints_once(fake: FakeGitHub, rsa_pair: tuple[str, str]) -> None:
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    with GitHubClient.from_app(1234, private, ORG, base_url=fake.url, retry=FAST) as gh:
        for i in range(3):
            gh.repo_info(f"{ORG}/svc-{i}")
    assert len(fake.minted) == 1


def test_app_not_installed_on_org_is_a_config_error(
    fake: FakeGitHub, rsa_pair: tuple[str, str]
) -> None:
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {"someone-else": 5}
    with pytest.raises(ConfigError, match="not installed on organization acme"):
        GitHubClient.from_app(1234, private, ORG, base_url=fake.url, retry=FAST)


def test_app_with_wrong_key_is_a_config_error_without_the_key(
    fake: FakeGitHub, rsa_pair: tuple[str, str]
) -> None:
    _, public = rsa_pair
    other_private, _ = _rsa_pair()
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    with pytest.raises(ConfigError) as err:
        GitHubClient.from_app(1234, other_private, ORG, base_url=fake.url, retry=FAST)
    text = _all_text(err.value)
    assert "401" in text and "GitHub App 1234" in text
    assert "PRIVATE KEY" not in text and other_private.splitlines()[1] not in text
    assert len(fake.requests) == 1


def test_app_key_that_is_not_pem_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not PEM"):
        GitHubClient.from_app(1, "not a key", ORG, base_url="http://127.0.0.1:1/api/v3")


def test_app_key_that_cannot_sign_is_a_config_error(fake: FakeGitHub) -> None:
    broken = "-----BEGIN RSA PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(ConfigError, match="cannot sign") as err:
        GitHubClient.from_app(1, broken, ORG, base_url=fake.url, retry=FAST)
    assert "Z2FyYmFnZQ" not in _all_text(err.value)
    assert fake.requests == []


def test_tarball_download_then_safe_extraction_then_scan(fake: FakeGitHub, tmp_path: Path) -> None:
    """One API request for the archive of an exact commit, answered by a redirect; the
    download host gets no API credential; the archive feeds the same scan()."""
    import io
    import tarfile

    from scanner.org.fetch import extract
    from scanner.scanning import ScanOptions, scan

    sha = "a" * 40
    pod = (
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        b"    - name: c\n      image: evil.example/x:1\n"
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"acme-svc-0-{sha[:7]}/k8s/pod.yaml")
        info.size = len(pod)
        tar.addfile(info, io.BytesIO(pod))
    fake.tarballs[(f"{ORG}/svc-0", sha)] = buf.getvalue()
    archive = tmp_path / "a.tar.gz"
    with client(fake) as gh, archive.open("wb") as fh:
        n = gh.download_tarball(f"{ORG}/svc-0", sha, fh)
    assert n == len(buf.getvalue())
    download = [r for r in fake.requests if r.path.startswith("/codeload/")]
    assert len(download) == 1 and "authorization" not in download[0].headers
    dest = tmp_path / "repo"
    dest.mkdir()
    with archive.open("rb") as fh:
        extract(fh, dest)
    assert "K8S001" in [f.rule_id for f in scan(dest, ScanOptions()).findings]
    with client(fake) as gh, pytest.raises(GitHubError) as e, (tmp_path / "b").open("wb") as fh:
        gh.download_tarball(f"{ORG}/svc-0", sha, fh, max_bytes=10)
    assert "token=" not in str(e.value)


# ----------------------------------------------------------------- conditional listings


class MemoryCache:
    """An EtagCache in a dict, counting what it is asked."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.asked: list[str] = []

    def etag(self, url: str) -> tuple[str, bytes] | None:
        self.asked.append(url)
        return self.pages.get(url)

    def put_etag(self, url: str, etag: str, body: bytes) -> None:
        self.pages[url] = (etag, body)


def test_etag_round_trip_second_walk_is_all_304_and_free(fake: FakeGitHub) -> None:
    cache: EtagCache = MemoryCache()
    with client(fake) as gh:
        first = gh.org_repos(ORG, cache=cache)
        assert gh.requests_made == 3
        remaining = fake.rate_remaining
        second = gh.org_repos(ORG, cache=cache)
        assert gh.requests_made == 6
    assert second == first and len(first) == 8
    walk1, walk2 = fake.requests[:3], fake.requests[3:]
    assert all("if-none-match" not in r.headers for r in walk1)
    assert [r.path for r in walk2] == [r.path for r in walk1]
    assert all(r.headers["if-none-match"].startswith('"') for r in walk2)
    assert fake.rate_remaining == remaining  # GitHub does not count authorized 304s
    # keys: the URL path and query as sent, no scheme or host
    assert isinstance(cache, MemoryCache)
    assert sorted(cache.pages) == sorted(PREFIX + r.path for r in walk1)
    stored = json.loads(cache.pages[PREFIX + walk1[0].path][1])
    assert len(stored["items"]) == 3 and "page=2" in stored["next"]
    assert json.loads(cache.pages[PREFIX + walk1[2].path][1])["next"] is None


def test_a_changed_page_is_answered_again_and_stored(fake: FakeGitHub) -> None:
    cache = MemoryCache()
    with client(fake) as gh:
        gh.org_repos(ORG, cache=cache)
        fake.repos[f"{ORG}/svc-1"]["archived"] = True  # page 2: svc-0, svc-1, svc-2
        before = fake.rate_remaining
        changed = {r.full_name: r for r in gh.org_repos(ORG, cache=cache)}
        assert fake.rate_remaining == before - 1  # pages 1 and 3: 304; page 2: 200
        again = {r.full_name: r for r in gh.org_repos(ORG, cache=cache)}
        assert fake.rate_remaining == before - 1  # the new page 2 was stored: all 304
    assert changed[f"{ORG}/svc-1"].archived and again == changed and len(again) == 8
    assert len(fake.requests) == 9
    assert all("if-none-match" in r.headers for r in fake.requests[3:])


def test_a_304_page_still_continues_the_walk(fake: FakeGitHub) -> None:
    """Pages 1 and 2 are unchanged (304, no body) while a repository is added on page 3:
    the next links stored with them carry the walk on to the page that changed."""
    cache = MemoryCache()
    with client(fake) as gh:
        gh.org_repos(ORG, cache=cache)
        fake.add_repo(f"{ORG}/zz-new")
        before = fake.rate_remaining
        repos = gh.org_repos(ORG, cache=cache)
    assert f"{ORG}/zz-new" in {r.full_name for r in repos} and len(repos) == 9
    assert [r.path for r in fake.requests[3:]] == [r.path for r in fake.requests[:3]]
    assert fake.rate_remaining == before - 1


def test_a_page_added_after_a_full_last_page_is_found(fake: FakeGitHub) -> None:
    """9 repositories, 3 a page: the last page is full. A 10th repository makes a 4th page
    while page 3's body (and ETag) stays the same: page 3 is asked again unconditionally to
    learn its Link header."""
    fake.add_repo(f"{ORG}/svc-5")
    cache = MemoryCache()
    with client(fake) as gh:
        assert len(gh.org_repos(ORG, cache=cache)) == 9
        fake.add_repo(f"{ORG}/zz-new")
        assert len(gh.org_repos(ORG, cache=cache)) == 10
        assert len(gh.org_repos(ORG, cache=cache)) == 10
    assert len(fake.requests) == 3 + 5 + 4


def test_a_corrupt_cache_entry_is_a_miss(fake: FakeGitHub) -> None:
    cache = MemoryCache()
    with client(fake) as gh:
        gh.org_repos(ORG, cache=cache)
        for url, (etag, _) in list(cache.pages.items()):
            cache.pages[url] = (etag, b"not json")
        assert len(gh.org_repos(ORG, cache=cache)) == 8
    assert all("if-none-match" not in r.headers for r in fake.requests[3:])
    assert all(json.loads(body)["items"] for _, body in cache.pages.values())


def test_custom_properties_conditional_with_the_state_store(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    from scanner.org.state import StateStore

    for i in range(5):
        fake.properties[f"{ORG}/svc-{i}"] = [{"property_name": "team", "value": f"t{i}"}]
    with StateStore(tmp_path) as state, client(fake) as gh:
        first = gh.org_custom_properties(ORG, cache=state)
        second = gh.org_custom_properties(ORG, cache=state)
    assert first == second and first[f"{ORG}/svc-4"] == {"team": "t4"}
    assert [r.headers.get("if-none-match") is not None for r in fake.requests] == [
        False,
        False,
        True,
        True,
    ]


def test_requests_made_counts_retries_mints_and_downloads(
    fake: FakeGitHub, rsa_pair: tuple[str, str], tmp_path: Path
) -> None:
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    sha = "b" * 40
    fake.tarballs[(f"{ORG}/svc-0", sha)] = b"x" * 10
    fake.fail_next(f"/repos/{ORG}/svc-1", 502, {"message": "Server Error"})
    with GitHubClient.from_app(1234, private, ORG, base_url=fake.url, retry=FAST) as gh:
        gh.org_repos(ORG)
        gh.repo_info(f"{ORG}/svc-1")
        with (tmp_path / "t").open("wb") as fh:
            gh.download_tarball(f"{ORG}/svc-0", sha, fh)
        # installation, app, mint, 3 pages, 502 + retry, tarball API + download
        assert gh.requests_made == len(fake.requests) == 10


# ------------------------------------------------------------------------ code scanning

SHA = "0123456789abcdef0123456789abcdef01234567"
SARIF = {
    "version": "2.1.0",
    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    "runs": [{"tool": {"driver": {"name": "tether", "rules": []}}, "results": []}],
}


def test_upload_sarif_happy_path_and_wait(fake: FakeGitHub) -> None:
    sleeps: list[float] = []
    with client(fake) as gh:
        sarif_id = gh.upload_sarif(
            f"{ORG}/svc-0", SHA, "refs/heads/main", json.dumps(SARIF).encode()
        )
        status = gh.wait_sarif(f"{ORG}/svc-0", sarif_id, sleep=sleeps.append)
    [upload] = fake.uploads
    assert upload.id == sarif_id and upload.repo == f"{ORG}/svc-0"
    assert (upload.commit_sha, upload.ref, upload.sarif) == (SHA, "refs/heads/main", SARIF)
    post = fake.requests[0]
    assert post.method == "POST" and post.route == f"/repos/{ORG}/svc-0/code-scanning/sarifs"
    assert status == SarifStatus("complete", (), status.analyses_url)
    assert status.analyses_url and sarif_id in status.analyses_url
    assert sleeps == [2]  # one pending poll, then complete
    assert fake.routes()[1:] == [f"/repos/{ORG}/svc-0/code-scanning/sarifs/{sarif_id}"] * 2


def test_upload_fields_as_github_documents_them(fake: FakeGitHub) -> None:
    """The fake checks what GitHub documents (a 40-hex commit_sha, a full ref, base64 of
    gzip of SARIF 2.1.0) and refuses anything else."""
    with client(fake) as gh:
        gh.upload_sarif(
            f"{ORG}/svc-0", SHA.upper(), "refs/pull/7/merge", json.dumps(SARIF).encode()
        )
        with pytest.raises(GitHubError) as err:
            gh.upload_sarif(f"{ORG}/svc-0", SHA, "refs/heads/main", b'{"version": "2.0.0"}')
    assert (fake.uploads[0].commit_sha, fake.uploads[0].ref) == (SHA, "refs/pull/7/merge")
    assert err.value.status == 422 and len(fake.uploads) == 1


def test_failed_processing_reports_the_errors(fake: FakeGitHub) -> None:
    fake.sarif_failures[f"{ORG}/svc-1"] = ["locationFromSarifResult: expected artifact location"]
    fake.processing_polls = 0
    with client(fake) as gh:
        sarif_id = gh.upload_sarif(
            f"{ORG}/svc-1", SHA, "refs/heads/main", json.dumps(SARIF).encode()
        )
        status = gh.wait_sarif(f"{ORG}/svc-1", sarif_id, sleep=lambda _: None)
    assert status.processing_status == "failed" and not status.pending
    assert status.errors == ("locationFromSarifResult: expected artifact location",)
    assert status.analyses_url is None


def test_wait_sarif_is_bounded(fake: FakeGitHub) -> None:
    fake.processing_polls = 10**6
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with client(fake) as gh:
        sarif_id = gh.upload_sarif(
            f"{ORG}/svc-0", SHA, "refs/heads/main", json.dumps(SARIF).encode()
        )
        status = gh.wait_sarif(
            f"{ORG}/svc-0", sarif_id, timeout=5, interval=2, sleep=sleep, clock=lambda: now[0]
        )
        assert status.pending and now[0] == 5  # slept 2, 2, then the 1 left
        with pytest.raises(ValueError):
            gh.wait_sarif(f"{ORG}/svc-0", sarif_id, interval=0)
    assert len(fake.requests) == 1 + 4


def test_upload_over_10_mb_gzipped_is_refused_before_sending(fake: FakeGitHub) -> None:
    incompressible = os.urandom(10 * 1024 * 1024 + 1024)
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.upload_sarif(f"{ORG}/svc-0", SHA, "refs/heads/main", incompressible)
    assert "over 10 MB gzipped" in str(err.value) and err.value.status is None
    assert fake.requests == []


@pytest.mark.parametrize(
    ("sha", "ref"), [("abc", "refs/heads/main"), ("g" * 40, "refs/heads/main"), (SHA, "main")]
)
def test_upload_needs_a_full_sha_and_ref(fake: FakeGitHub, sha: str, ref: str) -> None:
    with client(fake) as gh, pytest.raises(ValueError):
        gh.upload_sarif(f"{ORG}/svc-0", sha, ref, b"{}")
    assert fake.requests == []


@pytest.mark.parametrize("status", [403, 404])
def test_code_scanning_not_enabled_is_classified_by_status(
    fake: FakeGitHub, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.code_scanning_disabled[f"{ORG}/svc-0"] = status
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.upload_sarif(f"{ORG}/svc-0", SHA, "refs/heads/main", json.dumps(SARIF).encode())
    assert err.value.status == status
    if status == 403:
        assert "Advanced Security must be enabled" in str(err.value)
    assert f"/repos/{ORG}/svc-0/code-scanning/sarifs" in str(err.value)
    assert len(fake.requests) == 1  # neither is retried
    assert fake.token not in _all_text(err.value) and fake.token not in caplog.text
    assert fake.uploads == []


def test_sarif_status_of_an_unknown_upload_is_404(fake: FakeGitHub) -> None:
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.sarif_status(f"{ORG}/svc-0", "no-such-id")
    assert err.value.status == 404


# ------------------------------------------------------------------------------ issues


def test_issues_create_list_update(fake: FakeGitHub) -> None:
    with client(fake) as gh:
        number = gh.create_issue(f"{ORG}/svc-0", "Tether dashboard", "## findings", ["tether"])
        assert gh.issues_with_label(f"{ORG}/svc-0", "tether") == [
            IssueInfo(number, "open", "Tether dashboard", "## findings", "tether-bot", ("tether",))
        ]
        gh.update_issue(f"{ORG}/svc-0", number, body="## none left", state="closed")
        gh.update_issue(f"{ORG}/svc-0", number)  # nothing to change: no request
        [closed] = gh.issues_with_label(f"{ORG}/svc-0", "tether")
        assert gh.issues_with_label(f"{ORG}/svc-0", "other") == []
    assert (closed.state, closed.body, closed.title) == (
        "closed",
        "## none left",
        "Tether dashboard",
    )
    assert fake.labels[f"{ORG}/svc-0"] == {"tether"}  # created on the fly, as GitHub does
    post, listing, patch = fake.requests[0], fake.requests[1], fake.requests[2]
    assert post.method == "POST" and patch.method == "PATCH"
    assert patch.route == f"/repos/{ORG}/svc-0/issues/{number}"
    assert "labels=tether" in listing.path and "state=all" in listing.path
    assert len(fake.requests) == 5


def test_issue_listing_leaves_out_pull_requests_and_pages(fake: FakeGitHub) -> None:
    repo = f"{ORG}/svc-1"
    for i in range(5):
        fake.add_issue(repo, f"issue {i}", None, ["tether"], state="closed" if i % 2 else "open")
    fake.add_issue(repo, "a PR", "x", ["tether"], pull_request=True)
    fake.add_issue(repo, "unlabelled", "x")
    cache = MemoryCache()
    with client(fake) as gh:
        issues = gh.issues_with_label(repo, "tether", cache=cache)
        again = gh.issues_with_label(repo, "tether", cache=cache)
    assert [i.title for i in issues] == [f"issue {i}" for i in (4, 3, 2, 1, 0)]
    assert issues == again and all(i.body == "" and i.author == "someone" for i in issues)
    assert {i.state for i in issues} == {"open", "closed"}
    # 6 labelled entries, 3 a page: two pages; then two 304s, and the full last page asked
    # again without its ETag (a third page could have appeared behind it)
    assert [r.headers.get("if-none-match") is not None for r in fake.requests] == [
        False,
        False,
        True,
        True,
        False,
    ]


def test_issue_body_over_github_limit_is_refused(fake: FakeGitHub) -> None:
    with client(fake) as gh:
        with pytest.raises(ValueError, match="65536"):
            gh.create_issue(f"{ORG}/svc-0", "t", "x" * (MAX_ISSUE_BODY + 1))
        with pytest.raises(ValueError):
            gh.update_issue(f"{ORG}/svc-0", 1, body="x" * (MAX_ISSUE_BODY + 1))
        with pytest.raises(ValueError):
            gh.update_issue(f"{ORG}/svc-0", 1, state="merged")
        with pytest.raises(ValueError):
            gh.issues_with_label(f"{ORG}/svc-0", "a,b")
        assert gh.create_issue(f"{ORG}/svc-0", "t", "x" * MAX_ISSUE_BODY) == 1
    assert len(fake.requests) == 1


def test_issues_disabled_is_a_410(fake: FakeGitHub) -> None:
    fake.issues_disabled.add(f"{ORG}/svc-0")
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.create_issue(f"{ORG}/svc-0", "t", "b")
    assert err.value.status == 410 and "Issues are disabled" in str(err.value)


def test_creating_an_issue_is_not_repeated_after_a_5xx(fake: FakeGitHub) -> None:
    fake.fail_next(f"/repos/{ORG}/svc-0/issues", 502, {"message": "Server Error"})
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.create_issue(f"{ORG}/svc-0", "t", "b")
    assert err.value.status == 502
    assert [r.method for r in fake.requests] == ["POST"]


def test_an_html_error_page_keeps_its_status(fake: FakeGitHub) -> None:
    fake.fail_next(f"/repos/{ORG}/svc-0/issues", 502, "<html><body>Bad gateway</body></html>")
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.create_issue(f"{ORG}/svc-0", "t", "b")
    assert err.value.status == 502 and f"POST /repos/{ORG}/svc-0/issues" in str(err.value)


def test_writes_wait_out_secondary_rate_limits(fake: FakeGitHub) -> None:
    fake.add_issue(f"{ORG}/svc-0", "old", "b", ["tether"])
    fake.fail_next(f"/repos/{ORG}/svc-0/issues", 403, SECONDARY_LIMIT, {"Retry-After": "0"})
    fake.fail_next(f"/repos/{ORG}/svc-0/issues/1", 403, SECONDARY_LIMIT, {"Retry-After": "0"})
    fake.fail_next(f"/repos/{ORG}/svc-0/issues/1", 502, {"message": "Server Error"})
    with client(fake) as gh:
        assert gh.create_issue(f"{ORG}/svc-0", "new", "b") == 2
        gh.update_issue(f"{ORG}/svc-0", 1, title="renamed")  # an edit may be repeated
        assert gh.requests_made == 5
    assert [r.method for r in fake.requests] == ["POST", "POST", "PATCH", "PATCH", "PATCH"]
    assert fake.issues[f"{ORG}/svc-0"][0]["title"] == "renamed"
    assert len(fake.issues[f"{ORG}/svc-0"]) == 2


def test_writes_are_paced_by_seconds_between_writes(fake: FakeGitHub) -> None:
    policy = dataclasses.replace(FAST, seconds_between_writes=0.3)
    started = time.monotonic()
    with GitHubClient.from_env({"GITHUB_TOKEN": fake.token}, base_url=fake.url, retry=policy) as gh:
        gh.create_issue(f"{ORG}/svc-0", "a", "b")
        gh.create_issue(f"{ORG}/svc-0", "c", "d")
    assert time.monotonic() - started >= 0.3


def test_viewer_login_for_a_token_and_an_app(fake: FakeGitHub, rsa_pair: tuple[str, str]) -> None:
    with client(fake) as gh:
        assert gh.viewer_login() == "tether-bot"
        assert gh.viewer_login() == "tether-bot"  # asked once
    assert fake.routes() == ["/user"]
    private, public = rsa_pair
    fake.app_id, fake.app_public_key, fake.installations = 1234, public, {ORG: 77}
    with GitHubClient.from_app(1234, private, ORG, base_url=fake.url, retry=FAST) as gh:
        # an App acts as "<slug>[bot]", looked up with its JWT when the client is built
        assert gh.viewer_login() == "tether-app[bot]"
        number = gh.create_issue(f"{ORG}/svc-0", "t", "b", ["tether"])
        [issue] = gh.issues_with_label(f"{ORG}/svc-0", "tether")
    assert issue.number == number and issue.author == gh.viewer_login()
    assert [r.route for r in fake.requests].count("/user") == 1
    # an installation token handed in as GITHUB_TOKEN: GET /user is 403, the login unknown
    minted = fake.minted[-1]
    with client(fake, token=minted) as gh:
        assert gh.viewer_login() is None
    assert [r.route for r in fake.requests].count("/user") == 2  # the 403 is not retried


def test_viewer_login_other_errors_raise(fake: FakeGitHub) -> None:
    fake.fail_next("/user", 404, {"message": "Not Found"})
    with client(fake) as gh, pytest.raises(GitHubError) as err:
        gh.viewer_login()
    assert err.value.status == 404


def test_token_stays_out_of_errors_and_logs(
    fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.issues_disabled.add(f"{ORG}/svc-0")
    fake.code_scanning_disabled[f"{ORG}/svc-1"] = 403
    errors: list[BaseException] = []
    with client(fake) as gh:
        for call in (
            lambda: gh.create_issue(f"{ORG}/svc-0", "t", "b"),
            lambda: gh.update_issue(f"{ORG}/svc-0", 1, state="closed"),
            lambda: gh.upload_sarif(f"{ORG}/svc-1", SHA, "refs/heads/main", b"{}"),
            lambda: gh.sarif_status(f"{ORG}/svc-1", "x"),
            lambda: gh.issues_with_label("nobody/here", "tether"),
        ):
            with pytest.raises(GitHubError) as err:
                call()
            errors.append(err.value)
    assert [e.status for e in errors if isinstance(e, GitHubError)] == [410, 410, 403, 403, 404]
    assert "PATCH" in caplog.text  # PyGithub did log the requests, with the header masked
    for exc in errors:
        assert fake.token not in _all_text(exc)
    assert fake.token not in caplog.text and fake.token[4:] not in caplog.text

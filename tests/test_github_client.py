"""scanner.github.client against tests/github_fake.py, through the real PyGithub client."""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.errors import ConfigError
from scanner.github import GitHubClient, GitHubError, RepoInfo, RetryPolicy
from tests.github_fake import SECONDARY_LIMIT, FakeGitHub

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
    assert svc1.pushed_at == datetime(2026, 11, 30, 10, tzinfo=timezone.utc)
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
    assert after.reset == datetime.fromtimestamp(1_900_000_000, timezone.utc)
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
    assert fake.routes()[:2] == [f"/orgs/{ORG}/installation", "/app/installations/77/access_tokens"]
    assert fake.requests[0].headers["authorization"].startswith("Bearer ")
    assert fake.requests[1].method == "POST"
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
    from scanner.scan import ScanOptions, scan

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

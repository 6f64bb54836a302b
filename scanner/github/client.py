"""One small typed client over PyGithub: authentication, retries, rate limits, and the few
reads the org scan needs. This is the only module that imports ``github``; callers get plain
dataclasses and two exception types, never PyGithub objects.

Credentials: a token is read from ``GITHUB_TOKEN`` in the environment mapping handed in
(never a parameter a flag could fill), or a GitHub App's id and private key. Neither ever
appears in a message: messages are built from status, method and path, and redacted.

Listings are raw paginated walks (``Link: rel="next"``) through PyGithub's requester rather
than PyGithub's object lists: a PyGithub object whose listing lacked an attribute fetches
the object again on first access, which would turn one listing into a call per repository.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import IO, Any, Final

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry

from ..errors import ConfigError
from ..redact import clip, redact

__all__ = [
    "DEFAULT_API_URL",
    "TOKEN_ENV",
    "GitHubClient",
    "GitHubError",
    "RateLimit",
    "RepoInfo",
    "RetryPolicy",
]

DEFAULT_API_URL: Final = "https://api.github.com"
TOKEN_ENV: Final = "GITHUB_TOKEN"
_SHA: Final = re.compile(r"[0-9a-f]{40}")
PER_PAGE: Final = 100  # the maximum GitHub serves: fewest listing pages
MAX_PAGES: Final = 10_000  # a server that links pages in a circle cannot hold a scan forever
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_NEXT_LINK: Final = re.compile(r'<([^<>]+)>\s*;\s*rel="?next"?')


class GitHubError(Exception):
    """A GitHub request that failed after retries (or was not worth retrying): ``status`` is
    the HTTP status, or ``None`` when no response came. The message holds the method, path
    and GitHub's message, redacted; never a credential."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = clip(redact(message), 300)
        super().__init__(self.message)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before a request fails. Secondary rate limits (403/429 with
    Retry-After or a rate-limit message) and 5xx are retried with exponential backoff and
    jitter, at most ``total`` times; no single wait exceeds ``max_wait`` seconds (a longer
    Retry-After or primary reset fails the request instead of stalling a weekly scan)."""

    total: int = 6
    backoff_factor: float = 1.0
    backoff_max: float = 60.0
    backoff_jitter: float = 1.0
    secondary_rate_wait: float = 60.0
    max_wait: float = 900.0
    # PyGithub's own pacing between any two requests of one client (its default); a scan
    # that runs several clients in parallel multiplies it
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0


@dataclass(frozen=True)
class RateLimit:
    """The core REST budget as the last response reported it."""

    remaining: int
    limit: int
    reset: datetime | None


@dataclass(frozen=True)
class RepoInfo:
    """What the org listing says about one repository."""

    full_name: str
    default_branch: str
    archived: bool
    disabled: bool
    fork: bool
    size_kb: int
    topics: tuple[str, ...]
    pushed_at: datetime | None
    visibility: str

    @property
    def empty(self) -> bool:
        """GitHub reports no "empty" flag; a size of 0 KB is how an empty repository shows
        in a listing (a repository pushed seconds ago may briefly show 0 too)."""
        return self.size_kb == 0


@dataclass
class _Context:
    base_url: str
    credential: str  # what to name in a 401 message: where the credential came from
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: int = 30


class GitHubClient:
    """Reads from one GitHub (github.com or a GHES ``…/api/v3``) with one credential.

    Build it with :meth:`from_env` or :meth:`from_app`; close it (or use ``with``)."""

    def __init__(self, github: Github, context: _Context) -> None:
        self._gh = github
        self._ctx = context

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        timeout: int = 30,
    ) -> GitHubClient:
        """A client authenticated by the token in ``env[GITHUB_TOKEN]`` (``os.environ`` when
        ``env`` is None). No request is made here; a bad token surfaces as
        :class:`ConfigError` on the first call."""
        source = os.environ if env is None else env
        token = source.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(TOKEN_ENV, None, f"{TOKEN_ENV} is not set (or empty)")
        ctx = _Context(
            _check_base_url(base_url), f"the token in {TOKEN_ENV}", retry or RetryPolicy(), timeout
        )
        return cls(_github(ctx, Auth.Token(token)), ctx)

    @classmethod
    def from_app(
        cls,
        app_id: int | str,
        private_key_pem: str,
        org: str,
        *,
        base_url: str = DEFAULT_API_URL,
        retry: RetryPolicy | None = None,
        timeout: int = 30,
    ) -> GitHubClient:
        """A client authenticated as the GitHub App's installation on ``org``: the
        installation is looked up now (one request, signed with a JWT) and its token minted
        on the first call. PyGithub's ``AppInstallationAuth`` mints a fresh installation
        token whenever the current one is within 20 seconds of expiring, so a scan longer
        than the token's hour keeps working."""
        ctx = _Context(
            _check_base_url(base_url), f"GitHub App {app_id}", retry or RetryPolicy(), timeout
        )
        if "PRIVATE KEY" not in private_key_pem:
            raise ConfigError("app private key", None, "the GitHub App private key is not PEM text")
        try:
            app_auth = Auth.AppAuth(app_id, private_key_pem)
        except (AssertionError, ValueError) as exc:
            raise ConfigError(
                "app private key", None, f"bad App id or key: {type(exc).__name__}"
            ) from None
        integration = GithubIntegration(
            auth=app_auth,
            base_url=ctx.base_url,
            retry=_retry(ctx.retry),
            timeout=ctx.timeout,
            seconds_between_requests=ctx.retry.seconds_between_requests,
            seconds_between_writes=ctx.retry.seconds_between_writes,
        )
        try:
            with _translated(ctx, "GET", f"/orgs/{org}/installation"):
                installation = integration.get_org_installation(org)
                installation_id = int(installation.id)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:  # a key that cannot sign
            raise ConfigError(
                ctx.credential, None, f"the private key cannot sign: {type(exc).__name__}"
            ) from None
        except GitHubError as exc:
            if exc.status == 404:
                raise ConfigError(
                    ctx.credential, None, f"the GitHub App is not installed on organization {org}"
                ) from None
            raise
        finally:
            integration.close()
        auth = app_auth.get_installation_auth(installation_id)
        return cls(_github(ctx, auth), ctx)

    def close(self) -> None:
        self._gh.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return self._ctx.base_url

    # ----------------------------------------------------------------------- reads

    def org_repos(self, org: str) -> list[RepoInfo]:
        """Every repository of ``org`` (archived, forks and all): one paginated listing."""
        return [
            _repo_info(item) for item in self._paginate(f"/orgs/{_q(org)}/repos", {"type": "all"})
        ]

    def org_custom_properties(self, org: str) -> dict[str, dict[str, str | list[str]]]:
        """Custom property values of every repository of ``org`` that has any, by full name:
        one paginated listing of ``GET /orgs/{org}/properties/values``. Unset (null)
        values are left out."""
        out: dict[str, dict[str, str | list[str]]] = {}
        for item in self._paginate(f"/orgs/{_q(org)}/properties/values", {}):
            values: dict[str, str | list[str]] = {}
            for prop in item.get("properties") or []:
                name, value = prop.get("property_name"), prop.get("value")
                if not isinstance(name, str):
                    continue
                if isinstance(value, str):
                    values[name] = value
                elif isinstance(value, list):
                    values[name] = [str(v) for v in value]
            out[str(item["repository_full_name"])] = values
        return out

    def repo_info(self, full_name: str) -> RepoInfo:
        """One repository, by ``owner/name``."""
        _, data = self._get(f"/repos/{_full_name(full_name)}")
        return _repo_info(data)

    def branch_head(self, full_name: str, branch: str) -> str:
        """The commit SHA at the head of ``branch`` of ``owner/name``."""
        _, data = self._get(f"/repos/{_full_name(full_name)}/branches/{urllib.parse.quote(branch)}")
        try:
            return str(data["commit"]["sha"])
        except (KeyError, TypeError):
            raise GitHubError(None, f"{full_name}@{branch}: no commit in the answer") from None

    def download_tarball(
        self, full_name: str, sha: str, dest: IO[bytes], *, max_bytes: int = 1 << 30
    ) -> int:
        """Stream the tar.gz of ``owner/name`` at commit ``sha`` into ``dest`` (one API
        request, answered with a redirect to a download URL that carries its own short-lived
        token: that URL is never logged, and the API credential is not sent to it). Returns
        the bytes written; more than ``max_bytes`` is a GitHubError."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a full commit SHA: {sha[:60]!r}")
        path = f"/repos/{_full_name(full_name)}/tarball/{sha}"
        headers, _ = self._get(path)
        location = headers.get("location") or ""
        where = urllib.parse.urlsplit(location)
        if where.scheme != "https" and not (where.scheme == "http" and where.hostname in _LOOPBACK):
            raise GitHubError(None, f"GET {path}: no usable download location")
        written = 0
        try:
            with requests.get(location, stream=True, timeout=self._ctx.timeout) as resp:
                if resp.status_code != 200:
                    raise GitHubError(resp.status_code, f"download of {full_name}@{sha[:12]}")
                for chunk in resp.iter_content(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise GitHubError(
                            None, f"{full_name}@{sha[:12]}: archive over {max_bytes} bytes"
                        )
                    dest.write(chunk)
        except requests.exceptions.RequestException as e:
            # the exception text would name the download URL and its token
            raise GitHubError(
                None, f"download of {full_name}@{sha[:12]}: {type(e).__name__}"
            ) from None
        return written

    def rate_limit(self) -> RateLimit:
        """The core budget as the last response reported it; asks ``GET /rate_limit``
        (which costs nothing) only when no response has reported it yet."""
        requester = self._gh.requester
        remaining, limit = requester.rate_limiting
        if limit < 0:
            _, data = self._get("/rate_limit")
            core = (data.get("resources") or {}).get("core") or data.get("rate") or {}
            reset = core.get("reset")
            return RateLimit(
                int(core.get("remaining", -1)),
                int(core.get("limit", -1)),
                datetime.fromtimestamp(int(reset), timezone.utc) if reset else None,
            )
        resettime = requester.rate_limiting_resettime
        return RateLimit(
            remaining, limit, datetime.fromtimestamp(resettime, timezone.utc) if resettime else None
        )

    # ------------------------------------------------------------------- transport

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        with _translated(self._ctx, "GET", path):
            return self._gh.requester.requestJsonAndCheck("GET", path, parameters=params)

    def _paginate(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            headers, data = self._get(url, query)
            if not isinstance(data, list):
                raise GitHubError(None, f"GET {path}: expected a list, got {type(data).__name__}")
            for item in data:
                if isinstance(item, dict):
                    yield item
            # the next link carries the query (page, per_page) itself
            url, query = _next_link(headers.get("link", "")), None
        raise GitHubError(None, f"GET {path}: more than {MAX_PAGES} pages")


# ---------------------------------------------------------------------- helpers


def _github(ctx: _Context, auth: Auth.Auth) -> Github:
    return Github(
        auth=auth,
        base_url=ctx.base_url,
        retry=_retry(ctx.retry),
        timeout=ctx.timeout,
        per_page=PER_PAGE,
        seconds_between_requests=ctx.retry.seconds_between_requests,
        seconds_between_writes=ctx.retry.seconds_between_writes,
        lazy=True,
    )


def _retry(policy: RetryPolicy) -> GithubRetry:
    return GithubRetry(
        secondary_rate_wait=policy.secondary_rate_wait,
        max_rate_limit_wait=policy.max_wait,
        total=policy.total,
        backoff_factor=policy.backoff_factor,
        backoff_max=policy.backoff_max,
        backoff_jitter=policy.backoff_jitter,
        retry_after_max=int(policy.max_wait),
    )


def _check_base_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError("github url", None, f"not an http(s) URL: {url}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # a token sent in clear text is a token given away
        raise ConfigError(
            "github url", None, f"plain http is refused for {parts.hostname}; use https"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("github url", None, "the GitHub URL must be a plain base URL")
    return url


class _translated:
    """Turns PyGithub and requests failures into ConfigError (401) or GitHubError, with
    messages built from status, method and path only, and no chained cause."""

    def __init__(self, ctx: _Context, verb: str, path: str) -> None:
        self._ctx = ctx
        self._what = f"{verb} {urllib.parse.urlsplit(path).path}"

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, GithubException):
            if exc.status == 401:
                raise ConfigError(
                    self._ctx.credential,
                    None,
                    f"GitHub at {self._ctx.base_url} rejected {self._ctx.credential} "
                    f"(401 {_message(exc)}): check the credential and its expiry",
                ) from None
            raise GitHubError(exc.status, f"{self._what}: {exc.status} {_message(exc)}") from None
        if isinstance(exc, requests.exceptions.RetryError):
            raise GitHubError(
                None, f"{self._what}: still failing after {self._ctx.retry.total} retries"
            ) from None
        if isinstance(exc, requests.exceptions.RequestException):
            raise GitHubError(None, f"{self._what}: {type(exc).__name__}") from None


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return exc.message or "no message"


def _next_link(link: str) -> str | None:
    match = _NEXT_LINK.search(link)
    return match.group(1) if match else None


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _full_name(full_name: str) -> str:
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"not an owner/name: {full_name!r}")
    return f"{_q(owner)}/{_q(name)}"


def _repo_info(data: Any) -> RepoInfo:
    if not isinstance(data, dict) or not isinstance(data.get("full_name"), str):
        raise GitHubError(None, "a repository without a full_name in GitHub's answer")
    pushed = data.get("pushed_at")
    topics = data.get("topics") or []
    return RepoInfo(
        full_name=data["full_name"],
        default_branch=str(data.get("default_branch") or ""),
        archived=bool(data.get("archived")),
        disabled=bool(data.get("disabled")),
        fork=bool(data.get("fork")),
        size_kb=int(data.get("size") or 0),
        topics=tuple(str(t) for t in topics),
        pushed_at=_timestamp(pushed) if isinstance(pushed, str) else None,
        visibility=str(data.get("visibility") or ("private" if data.get("private") else "public")),
    )


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None

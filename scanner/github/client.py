"""One small typed client over PyGithub: authentication, retries, rate limits, and the few
reads the org scan needs. This is the only module that imports ``github``; callers get plain
dataclasses and two exception types, never PyGithub objects.

Credentials: a token is read from ``GITHUB_TOKEN`` in the environment mapping handed in
(never a parameter a flag could fill), or a GitHub App's id and private key. Neither ever
appears in a message: messages are built from status, method and path, and redacted.

Listings are raw paginated walks (``Link: rel="next"``) through PyGithub's requester rather
than PyGithub's object lists: a PyGithub object whose listing lacked an attribute fetches
the object again on first access, which would turn one listing into a call per repository.
A listing may be walked with an :class:`EtagCache`: each page is asked with ``If-None-Match``
and a 304 (free: GitHub does not count it against the rate limit) reuses the stored page,
its next link included, so the walk goes on.

Writes (SARIF uploads, dashboard issues) go through the same requester, which paces them
(``seconds_between_writes``). A request that creates something (an issue) is never repeated
after a 5xx or a lost answer, since GitHub may have acted on it; a secondary rate limit, which
GitHub answers before acting, is waited out and retried like any other.
"""

from __future__ import annotations

import base64
import contextvars
import gzip
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Final, Protocol

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.Requester import Requester
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from ..errors import ConfigError
from ..redact import clip, redact

__all__ = [
    "DEFAULT_API_URL",
    "AlertInfo",
    "MAX_ISSUE_BODY",
    "MAX_SARIF_GZIP_BYTES",
    "TOKEN_ENV",
    "EtagCache",
    "GitHubClient",
    "GitCommit",
    "GitHubError",
    "IssueInfo",
    "PullInfo",
    "RateLimit",
    "RepoInfo",
    "RetryPolicy",
    "SarifStatus",
    "TreeEntry",
]

# PyGithub logs a warning for every 4xx it raises ("Request POST ... failed with 403"), even
# for answers the caller expects and reports itself (code scanning not enabled); with no
# logging configured Python would print them bare on stderr. Its debug records name download
# URLs with their tokens: nothing here turns them on.
logging.getLogger("github").addHandler(logging.NullHandler())

DEFAULT_API_URL: Final = "https://api.github.com"
TOKEN_ENV: Final = "GITHUB_TOKEN"
_SHA: Final = re.compile(r"[0-9a-f]{40}")
PER_PAGE: Final = 100  # the maximum GitHub serves: fewest listing pages
MAX_PAGES: Final = 10_000  # a server that links pages in a circle cannot hold a scan forever
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_NEXT_LINK: Final = re.compile(r'<([^<>]+)>\s*;\s*rel="?next"?')
_COMMIT: Final = re.compile(r"[0-9a-fA-F]{40}")
# GitHub refuses a SARIF upload over 10 MB once gzipped
MAX_SARIF_GZIP_BYTES: Final = 10 * 1024 * 1024
# the longest issue body GitHub accepts, in characters
MAX_ISSUE_BODY: Final = 65_536
_ISSUE_STATES: Final = frozenset({"open", "closed"})
# set while a request that creates something is in flight: no retry after a 5xx or a lost
# answer (GitHub may have acted on it)
_SINGLE_SHOT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tether_github_single_shot", default=False
)


class EtagCache(Protocol):
    """Where listing pages are kept between runs, by the page's URL path and query (no
    host): the ETag GitHub sent and the page as this client stored it.
    ``scanner.org.state.StateStore`` is one."""

    def etag(self, url: str) -> tuple[str, bytes] | None: ...

    def put_etag(self, url: str, etag: str, body: bytes) -> None: ...


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
    id: int | None = None  # stable across renames and transfers, unlike the name

    @property
    def empty(self) -> bool:
        """GitHub reports no "empty" flag; a size of 0 KB is how an empty repository shows
        in a listing (a repository pushed seconds ago may briefly show 0 too)."""
        return self.size_kb == 0


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a commit's recursive tree: ``type`` blob, tree or commit (a submodule);
    ``mode`` 100644/100755 (file), 120000 (symbolic link), 160000, 040000."""

    path: str
    mode: str
    type: str
    sha: str
    size: int | None


@dataclass(frozen=True)
class SarifStatus:
    """GitHub's processing of one SARIF upload: ``processing_status`` is ``pending``,
    ``complete`` or ``failed``; ``errors`` says why it failed; ``analyses_url`` lists the
    analyses it produced once complete."""

    processing_status: str
    errors: tuple[str, ...]
    analyses_url: str | None

    @property
    def pending(self) -> bool:
        return self.processing_status == "pending"


@dataclass(frozen=True)
class IssueInfo:
    """One issue as GitHub lists it (``author`` is None for a deleted account)."""

    number: int
    state: str
    title: str
    body: str
    author: str | None
    labels: tuple[str, ...]


@dataclass(frozen=True)
class GitCommit:
    """One commit as the Git Data API shows it (``GET /repos/{o}/{r}/git/commits/{sha}``)."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class PullInfo:
    """One pull request as GitHub lists it (``author`` is None for a deleted account)."""

    number: int
    state: str
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    author: str | None
    url: str | None


@dataclass(frozen=True)
class AlertInfo:
    """One code scanning alert as GitHub lists it: its rule, state (``open``, ``dismissed``,
    ``fixed``), where its most recent instance is, and who dismissed it, when and why."""

    number: int
    state: str
    rule: str
    path: str | None
    line: int | None
    category: str | None
    url: str | None
    dismissed_by: str | None = None
    dismissed_at: str | None = None
    dismissed_reason: str | None = None
    dismissed_comment: str | None = None
    fixed_at: str | None = None


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self, n: int = 1) -> None:
        with self._lock:
            self._value += n

    @property
    def value(self) -> int:
        with self._lock:
            return self._value


class _CountingRetry(GithubRetry):
    """PyGithub's retry, counting what is sent and refusing to repeat a creating request.

    urllib3 asks ``is_retry`` once for every response it receives (retried ones included) and
    calls ``increment`` with an error and no response when the answer was lost; together they
    count every request that reached the server. ``new`` (a copy per retry) keeps the counter.
    """

    def __init__(self, counter: _Counter | None = None, **kwargs: Any) -> None:
        self.counter = counter if counter is not None else _Counter()
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> _CountingRetry:
        kw["counter"] = self.counter
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        self.counter.add()
        if status_code >= 500 and _SINGLE_SHOT.get():
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        if response is None and isinstance(error, (ReadTimeoutError, ProtocolError)):
            # sent, and the answer lost (a refused connection never reached the server)
            self.counter.add()
            if _SINGLE_SHOT.get():
                raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


@dataclass
class _Context:
    base_url: str
    credential: str  # what to name in a 401 message: where the credential came from
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: int = 30
    counter: _Counter = field(default_factory=_Counter)
    app_login: str | None = None  # a GitHub App acts as "<slug>[bot]"


class GitHubClient:
    """Reads from one GitHub (github.com or a GHES ``…/api/v3``) with one credential.

    Build it with :meth:`from_env` or :meth:`from_app`; close it (or use ``with``)."""

    def __init__(self, github: Github, context: _Context) -> None:
        self._gh = github
        self._ctx = context
        self._prefix = urllib.parse.urlsplit(context.base_url).path.rstrip("/")
        self._viewer: tuple[str | None] | None = None  # (login,) once asked

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
        permissions: Mapping[str, str] | None = None,
    ) -> GitHubClient:
        """A client authenticated as the GitHub App's installation on ``org``: the
        installation is looked up now (one request, signed with a JWT) and its token minted
        on the first call. PyGithub's ``AppInstallationAuth`` mints a fresh installation
        token whenever the current one is within 20 seconds of expiring, so a scan longer
        than the token's hour keeps working. ``permissions`` narrows each minted token to
        what the scan needs (e.g. ``{"contents": "read", "metadata": "read"}``)."""
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
            retry=_retry(ctx.retry, ctx.counter),
            timeout=ctx.timeout,
            seconds_between_requests=ctx.retry.seconds_between_requests,
            seconds_between_writes=ctx.retry.seconds_between_writes,
        )
        try:
            with _translated(ctx, "GET", f"/orgs/{org}/installation"):
                installation = integration.get_org_installation(org)
                installation_id = int(installation.id)
            with _translated(ctx, "GET", "/app"):
                slug = integration.get_app().slug
            ctx.app_login = f"{slug}[bot]" if isinstance(slug, str) and slug else None
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
        auth = app_auth.get_installation_auth(
            installation_id, dict(permissions) if permissions else None
        )
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

    @property
    def requests_made(self) -> int:
        """Every HTTP request this client has sent and got an answer to (or lost it): retries,
        304s, App token mints and tarball downloads included. Thread-safe."""
        return self._ctx.counter.value

    # ----------------------------------------------------------------------- reads

    def org_repos(self, org: str, *, cache: EtagCache | None = None) -> list[RepoInfo]:
        """Every repository of ``org`` (archived, forks and all): one paginated listing,
        each page asked conditionally when a ``cache`` is given."""
        pages = self._paginate(f"/orgs/{_q(org)}/repos", {"type": "all"}, cache)
        return [_repo_info(item) for item in pages]

    def org_custom_properties(
        self, org: str, *, cache: EtagCache | None = None
    ) -> dict[str, dict[str, str | list[str]]]:
        """Custom property values of every repository of ``org`` that has any, by full name:
        one paginated listing of ``GET /orgs/{org}/properties/values`` (conditional when a
        ``cache`` is given). Unset (null) values are left out."""
        out: dict[str, dict[str, str | list[str]]] = {}
        for item in self._paginate(f"/orgs/{_q(org)}/properties/values", {}, cache):
            out[str(item["repository_full_name"])] = _property_values(item.get("properties") or [])
        return out

    def commit_tree(self, full_name: str, sha: str) -> tuple[list[TreeEntry], bool]:
        """Every entry of the tree of commit ``sha`` (``GET /repos/{o}/{r}/git/trees/{sha}
        ?recursive=1``: one request), and whether GitHub truncated the listing (it lists at
        most 100,000 entries)."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a full commit SHA: {sha[:60]!r}")
        _, data = self._get(f"/repos/{_full_name(full_name)}/git/trees/{sha}", {"recursive": "1"})
        if not isinstance(data, dict) or not isinstance(data.get("tree"), list):
            raise GitHubError(None, f"{full_name}@{sha[:12]}: no tree in the answer")
        entries = []
        for item in data["tree"]:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                continue
            size = item.get("size")
            entries.append(
                TreeEntry(
                    path=item["path"],
                    mode=str(item.get("mode", "")),
                    type=str(item.get("type", "")),
                    sha=str(item.get("sha", "")),
                    size=int(size) if isinstance(size, int) else None,
                )
            )
        return entries, bool(data.get("truncated"))

    def blob(self, full_name: str, sha: str, *, max_bytes: int = 10 << 20) -> bytes:
        """The content of blob ``sha`` (``GET /repos/{o}/{r}/git/blobs/{sha}``); a blob over
        ``max_bytes`` is a GitHubError (ask for its size in the tree first)."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a blob SHA: {sha[:60]!r}")
        _, data = self._get(f"/repos/{_full_name(full_name)}/git/blobs/{sha}")
        if not isinstance(data, dict) or data.get("encoding") != "base64":
            raise GitHubError(None, f"{full_name} blob {sha[:12]}: no base64 content")
        text = str(data.get("content") or "")
        try:
            content = base64.b64decode(text, validate=False)
        except ValueError:
            raise GitHubError(None, f"{full_name} blob {sha[:12]}: bad base64") from None
        if len(content) > max_bytes:
            raise GitHubError(None, f"{full_name} blob {sha[:12]}: over {max_bytes} bytes")
        return content

    def repo_custom_properties(self, full_name: str) -> dict[str, str | list[str]]:
        """The custom property values of one repository (``GET /repos/{o}/{r}/properties/
        values``); unset (null) values are left out."""
        _, data = self._get(f"/repos/{_full_name(full_name)}/properties/values")
        return _property_values(data if isinstance(data, list) else [])

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
                self._ctx.counter.add(1 + len(resp.history))
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
            if isinstance(e, requests.exceptions.ReadTimeout):
                self._ctx.counter.add()
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
                datetime.fromtimestamp(int(reset), UTC) if reset else None,
            )
        resettime = requester.rate_limiting_resettime
        return RateLimit(
            remaining, limit, datetime.fromtimestamp(resettime, UTC) if resettime else None
        )

    def viewer_login(self) -> str | None:
        """The login the credential acts as: ``<slug>[bot]`` for a GitHub App (looked up when
        the client was built), else ``GET /user`` (asked once; None when GitHub answers 403,
        as it does for an installation token handed in as GITHUB_TOKEN)."""
        if self._ctx.app_login is not None:
            return self._ctx.app_login
        if self._viewer is None:
            try:
                _, data = self._get("/user")
            except GitHubError as exc:
                if exc.status != 403:
                    raise
                data = None
            login = data.get("login") if isinstance(data, dict) else None
            self._viewer = (login if isinstance(login, str) and login else None,)
        return self._viewer[0]

    # --------------------------------------------------------------- code scanning

    def upload_sarif(self, full_name: str, commit_sha: str, ref: str, sarif: bytes) -> str:
        """Upload a SARIF log for ``commit_sha`` on ``ref`` (``refs/heads/…``,
        ``refs/pull/N/merge``…) to ``owner/name``'s code scanning: gzipped, base64, one
        ``POST /repos/{owner}/{repo}/code-scanning/sarifs``. Returns the upload's id, for
        :meth:`sarif_status`. Over 10 MB gzipped is a GitHubError before anything is sent;
        code scanning not enabled, or no access, is a GitHubError with status 403 or 404."""
        if not _COMMIT.fullmatch(commit_sha):
            raise ValueError(f"not a full commit SHA: {commit_sha[:60]!r}")
        if not ref.startswith("refs/") or len(ref) <= len("refs/"):
            raise ValueError(f"not a full Git ref (refs/...): {ref[:100]!r}")
        path = f"/repos/{_full_name(full_name)}/code-scanning/sarifs"
        packed = gzip.compress(sarif, mtime=0)
        if len(packed) > MAX_SARIF_GZIP_BYTES:
            raise GitHubError(
                None,
                f"POST {path}: the SARIF is {len(packed)} bytes gzipped, over 10 MB gzipped "
                "(GitHub's limit); not sent",
            )
        body = {
            "commit_sha": commit_sha.lower(),
            "ref": ref,
            "sarif": base64.b64encode(packed).decode("ascii"),
        }
        data = self._write("POST", path, body)
        sarif_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(sarif_id, str) or not sarif_id:
            raise GitHubError(None, f"POST {path}: no upload id in the answer")
        return sarif_id

    def sarif_status(self, full_name: str, sarif_id: str) -> SarifStatus:
        """How far GitHub got with processing the upload ``sarif_id``."""
        path = f"/repos/{_full_name(full_name)}/code-scanning/sarifs/{_q(sarif_id)}"
        _, data = self._get(path)
        if not isinstance(data, dict) or not isinstance(data.get("processing_status"), str):
            raise GitHubError(None, f"GET {path}: no processing_status in the answer")
        errors = data.get("errors") or []
        analyses = data.get("analyses_url")
        return SarifStatus(
            processing_status=data["processing_status"],
            errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (str(errors),),
            analyses_url=analyses if isinstance(analyses, str) else None,
        )

    def wait_sarif(
        self,
        full_name: str,
        sarif_id: str,
        *,
        timeout: float = 120,
        interval: float = 2,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SarifStatus:
        """Poll :meth:`sarif_status` every ``interval`` seconds until the upload is no longer
        pending or ``timeout`` seconds have passed; returns the last status (still
        ``pending`` when time ran out)."""
        if interval <= 0 or timeout < 0:
            raise ValueError("wait_sarif needs interval > 0 and timeout >= 0")
        deadline = clock() + timeout
        while True:
            status = self.sarif_status(full_name, sarif_id)
            left = deadline - clock()
            if not status.pending or left <= 0:
                return status
            sleep(min(interval, left))

    def code_scanning_alerts(self, full_name: str, tool_name: str) -> list[AlertInfo]:
        """Every code scanning alert of ``owner/name`` that ``tool_name`` raised, in any
        state: one paginated listing (GitHub answers 404 when code scanning has no analysis
        of the repository, 403 when it is not enabled: both a GitHubError)."""
        path = f"/repos/{_full_name(full_name)}/code-scanning/alerts"
        return [
            _alert_info(item)
            for item in self._paginate(path, {"tool_name": tool_name})
            if isinstance(item, dict)
        ]

    # ------------------------------------------------------------------ delivery

    def deployments(
        self, full_name: str, environment: str | None, since: datetime, limit: int = 100
    ) -> list[tuple[int, datetime]]:
        """The deployments of ``owner/name`` (to ``environment``, when given) created since
        ``since``, newest first, at most ``limit``: (id, created_at). GitHub lists newest
        first, so the walk stops at the first older one."""
        path = f"/repos/{_full_name(full_name)}/deployments"
        params = {"environment": environment} if environment else {}
        out: list[tuple[int, datetime]] = []
        for item in self._paginate(path, params):
            created = _timestamp(str(item.get("created_at") or ""))
            ident = item.get("id")
            if created is None or not isinstance(ident, int) or isinstance(ident, bool):
                continue
            if created < since or len(out) >= limit:
                break
            out.append((ident, created))
        return out

    def deployment_state(self, full_name: str, deployment_id: int) -> str | None:
        """The state of a deployment's latest status (success, failure, error, inactive,
        in_progress, queued, pending), None when it has none."""
        path = f"/repos/{_full_name(full_name)}/deployments/{int(deployment_id)}/statuses"
        _, data = self._get(path, {"per_page": 1})
        if isinstance(data, list) and data and isinstance(data[0], dict):
            state = data[0].get("state")
            return state if isinstance(state, str) else None
        return None

    def workflow_runs(
        self, full_name: str, since: datetime, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Completed workflow runs of ``owner/name`` created since ``since`` (at most
        ``limit``), each as {"conclusion", "referenced": [reusable workflow paths, no @ref]}."""
        path = f"/repos/{_full_name(full_name)}/actions/runs"
        params = {"created": f">={since.date().isoformat()}", "status": "completed"}
        out: list[dict[str, Any]] = []
        for page_item in self._paginate(path, params, items_key="workflow_runs"):
            refs = page_item.get("referenced_workflows")
            referenced = [
                str(r.get("path") or "").split("@", 1)[0]
                for r in (refs if isinstance(refs, list) else [])
                if isinstance(r, dict)
            ]
            out.append({"conclusion": page_item.get("conclusion"), "referenced": referenced})
            if len(out) >= limit:
                break
        return out

    # ---------------------------------------------------------------------- issues

    def issues_with_label(
        self, full_name: str, label: str, *, cache: EtagCache | None = None
    ) -> list[IssueInfo]:
        """Every issue of ``owner/name``, open or closed, that carries ``label`` (pull
        requests, which GitHub lists with issues, left out): one paginated listing,
        conditional when a ``cache`` is given."""
        if not label or "," in label:
            raise ValueError(f"not a single label name: {label[:100]!r}")
        path = f"/repos/{_full_name(full_name)}/issues"
        pages = self._paginate(path, {"labels": label, "state": "all"}, cache)
        return [_issue_info(item) for item in pages if "pull_request" not in item]

    def create_issue(
        self, full_name: str, title: str, body: str, labels: Sequence[str] = ()
    ) -> int:
        """Open an issue on ``owner/name`` (GitHub creates labels that do not exist yet);
        returns its number. Sent once: a 5xx or a lost answer is a GitHubError, never a
        second issue."""
        if not title.strip():
            raise ValueError("an issue needs a title")
        _check_body(body)
        return self._create(
            f"/repos/{_full_name(full_name)}/issues",
            {"title": title, "body": body, "labels": list(labels)},
            "issue",
        )

    def _create(self, path: str, body: dict[str, Any], what: str) -> int:
        """POST an issue or a pull request (sent once); its number."""
        data = self._write("POST", path, body, once=True)
        number = data.get("number") if isinstance(data, dict) else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise GitHubError(None, f"POST {path}: no {what} number in the answer")
        return number

    def update_issue(
        self,
        full_name: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> None:
        """Edit the title, body or state (``open``/``closed``) of an issue; only what is
        given is sent, and nothing at all when nothing is."""
        self._edit(f"/repos/{_full_name(full_name)}/issues/{int(number)}", title, body, state)

    def _edit(self, path: str, title: str | None, body: str | None, state: str | None) -> None:
        """PATCH an issue's or a pull request's title, body or state (what is given)."""
        edit: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise ValueError("an issue or pull request needs a title")
            edit["title"] = title
        if body is not None:
            _check_body(body)
            edit["body"] = body
        if state is not None:
            if state not in _ISSUE_STATES:
                raise ValueError(f"a state is open or closed, not {state[:20]!r}")
            edit["state"] = state
        if edit:
            self._write("PATCH", path, edit)

    # --------------------------------------------- git data and pull requests (writes)
    # Fix pull requests (org/fixpr.py) are written through the Git Data API: blobs, one
    # tree on top of the base commit's tree, one commit, one ref; no clone, no credential
    # in a URL. Paths are the ones PyGithub's Repository/GitRef/PullRequest send.

    def git_commit(self, full_name: str, sha: str) -> GitCommit:
        """``GET /repos/{o}/{r}/git/commits/{sha}``."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a full commit SHA: {sha[:60]!r}")
        _, data = self._get(f"/repos/{_full_name(full_name)}/git/commits/{sha}")
        return _git_commit(data, f"{full_name}@{sha[:12]}")

    def create_blob(self, full_name: str, content: bytes) -> str:
        """A blob holding exactly ``content`` (sent base64: no newline or encoding is
        touched); returns its SHA. Creating the same blob twice is harmless."""
        path = f"/repos/{_full_name(full_name)}/git/blobs"
        body = {"content": base64.b64encode(content).decode("ascii"), "encoding": "base64"}
        return _sha_of(self._write("POST", path, body), f"POST {path}")

    def create_tree(
        self, full_name: str, base_tree: str, entries: Sequence[tuple[str, str, str]]
    ) -> str:
        """A tree that is ``base_tree`` with ``entries`` (path, mode, blob sha) replaced;
        every other entry is kept as it is. Returns its SHA."""
        if not _SHA.fullmatch(base_tree):
            raise ValueError(f"not a tree SHA: {base_tree[:60]!r}")
        path = f"/repos/{_full_name(full_name)}/git/trees"
        tree = [{"path": p, "mode": m, "type": "blob", "sha": sha} for p, m, sha in entries]
        return _sha_of(
            self._write("POST", path, {"base_tree": base_tree, "tree": tree}), f"POST {path}"
        )

    def create_commit(
        self, full_name: str, message: str, tree: str, parents: Sequence[str]
    ) -> GitCommit:
        """One commit of ``tree`` on ``parents``, authored by the credential's account."""
        path = f"/repos/{_full_name(full_name)}/git/commits"
        body = {"message": message, "tree": tree, "parents": list(parents)}
        return _git_commit(self._write("POST", path, body), f"POST {path}")

    def branch_ref(self, full_name: str, branch: str) -> str | None:
        """The commit SHA ``refs/heads/{branch}`` points at, None when there is no such
        branch (``GET /repos/{o}/{r}/git/ref/heads/{branch}``: GitHub's singular ``ref``)."""
        path = f"/repos/{_full_name(full_name)}/git/ref/heads/{_branch(branch)}"
        try:
            _, data = self._get(path)
        except GitHubError as e:
            if e.status == 404:
                return None
            raise
        obj = data.get("object") if isinstance(data, dict) else None
        sha = obj.get("sha") if isinstance(obj, dict) else None
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise GitHubError(None, f"GET {path}: no object sha in the answer")
        return sha

    def create_branch(self, full_name: str, branch: str, sha: str) -> None:
        """``POST /repos/{o}/{r}/git/refs`` with ``refs/heads/{branch}``."""
        path = f"/repos/{_full_name(full_name)}/git/refs"
        self._write("POST", path, {"ref": f"refs/heads/{_branch(branch)}", "sha": sha}, once=True)

    def move_branch(self, full_name: str, branch: str, sha: str, *, force: bool) -> None:
        """``PATCH /repos/{o}/{r}/git/refs/heads/{branch}`` (plural ``refs``, as PyGithub's
        GitRef.edit sends it)."""
        path = f"/repos/{_full_name(full_name)}/git/refs/heads/{_branch(branch)}"
        self._write("PATCH", path, {"sha": sha, "force": force})

    def delete_branch(self, full_name: str, branch: str) -> None:
        """``DELETE /repos/{o}/{r}/git/refs/heads/{branch}``."""
        path = f"/repos/{_full_name(full_name)}/git/refs/heads/{_branch(branch)}"
        self._request("DELETE", path)

    def pulls(self, full_name: str, head: str, state: str = "open") -> list[PullInfo]:
        """The pull requests whose head is ``head`` (``owner:branch``) in ``state``."""
        if state not in ("open", "closed", "all"):
            raise ValueError(f"a pull request state is open, closed or all, not {state[:20]!r}")
        path = f"/repos/{_full_name(full_name)}/pulls"
        return [_pull_info(item) for item in self._paginate(path, {"head": head, "state": state})]

    def create_pull(self, full_name: str, title: str, body: str, head: str, base: str) -> int:
        """Open a pull request of ``head`` (a branch of the repository) into ``base``;
        returns its number. Sent once, like an issue."""
        if not title.strip():
            raise ValueError("a pull request needs a title")
        _check_body(body)
        return self._create(
            f"/repos/{_full_name(full_name)}/pulls",
            {"title": title, "body": body, "head": head, "base": base},
            "pull request",
        )

    def update_pull(
        self,
        full_name: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
    ) -> None:
        """Edit a pull request's title, body or state (``open``/``closed``)."""
        self._edit(f"/repos/{_full_name(full_name)}/pulls/{int(number)}", title, body, state)

    # ------------------------------------------------------------------- transport

    def _request(
        self,
        verb: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, dict[str, Any], Any]:
        """One request through PyGithub's requester (auth, pacing, retries): the status, the
        lower-cased headers and the decoded JSON (None when empty). A status of 400 or more
        is a GitHubError (401: ConfigError); 304 is returned like any other answer."""
        with _translated(self._ctx, verb, url):
            # the requester adds the Authorization header to the dict it is given: a fresh one
            status, answer_headers, output = self._gh.requester.requestJson(
                verb, url, params, dict(headers or {}), body
            )
            if status >= 400:
                # an error page from a proxy in front of GitHub may not be JSON
                error = _json(output, verb, url, lenient=True)
                raise Requester.createException(
                    status, answer_headers, error if isinstance(error, dict) else {}
                )
            return status, answer_headers, _json(output, verb, url)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        _, headers, data = self._request("GET", path, params=params)
        return headers, data

    def _write(self, verb: str, path: str, body: dict[str, Any], *, once: bool = False) -> Any:
        """A POST or PATCH (paced by the requester's ``seconds_between_writes``); ``once``:
        the request creates something, so it is not repeated after a 5xx or a lost answer."""
        token = _SINGLE_SHOT.set(once)
        try:
            return self._request(verb, path, body=body)[2]
        finally:
            _SINGLE_SHOT.reset(token)

    def _paginate(
        self,
        path: str,
        params: dict[str, Any],
        cache: EtagCache | None = None,
        items_key: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The items of a paginated listing; ``items_key``: a listing whose pages are objects
        with the items under that key (workflow runs), not bare lists."""
        url: str | None = Requester.add_parameters_to_url(path, {**params, "per_page": PER_PAGE})
        largest = 0  # the longest page of this walk so far
        for _ in range(MAX_PAGES):
            if url is None:
                return
            items, url = self._page(url, path, cache, largest or PER_PAGE, items_key)
            largest = max(largest, len(items))
            yield from items
        raise GitHubError(None, f"GET {path}: more than {MAX_PAGES} pages")

    def _page(
        self,
        url: str,
        what: str,
        cache: EtagCache | None,
        full: int,
        items_key: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One listing page and the URL of the next (the Link header's, which carries the
        query itself). With a cache, the page is asked with the stored ETag and a 304 reuses
        the stored items and next link. A stored last page that was full is asked again
        without its ETag: a page may have been added after it while its own body, and so
        its ETag, stayed the same."""
        key = self._page_key(url)
        stored = cache.etag(key) if cache is not None else None
        kept = _stored_page(stored[1]) if stored is not None else None
        conditional = {"If-None-Match": stored[0]} if stored and kept is not None else None
        status, headers, data = self._request("GET", url, headers=conditional)
        if status == 304 and kept is not None:
            items, next_url = kept
            if next_url is not None or len(items) < full:
                return items, next_url
            status, headers, data = self._request("GET", url)
        if items_key is not None and isinstance(data, dict):
            data = data.get(items_key)
        if not isinstance(data, list):
            raise GitHubError(
                None, f"GET {what}: expected a list, got {status} {type(data).__name__}"
            )
        items = [item for item in data if isinstance(item, dict)]
        next_url = _next_link(headers.get("link", ""))
        etag = headers.get("etag")
        if cache is not None and isinstance(etag, str) and etag:
            page = {"items": items, "next": next_url}
            cache.put_etag(key, etag, json.dumps(page, separators=(",", ":")).encode())
        return items, next_url

    def _page_key(self, url: str) -> str:
        """The URL path and query as the requester sends them (base path included, query
        sorted), without scheme or host."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path if parts.netloc else self._prefix + parts.path
        return Requester.add_parameters_to_url(
            path + (f"?{parts.query}" if parts.query else ""), {}
        )


# ---------------------------------------------------------------------- helpers


def _github(ctx: _Context, auth: Auth.Auth) -> Github:
    return Github(
        auth=auth,
        base_url=ctx.base_url,
        retry=_retry(ctx.retry, ctx.counter),
        timeout=ctx.timeout,
        per_page=PER_PAGE,
        seconds_between_requests=ctx.retry.seconds_between_requests,
        seconds_between_writes=ctx.retry.seconds_between_writes,
        lazy=True,
    )


def _retry(policy: RetryPolicy, counter: _Counter) -> GithubRetry:
    return _CountingRetry(
        counter,
        # PATCH too: an edit is idempotent, and a secondary rate limit must be waited out
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"},
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


def _json(output: str, verb: str, url: str, *, lenient: bool = False) -> Any:
    if not output:
        return None
    try:
        return json.loads(output)
    except ValueError:
        if lenient:
            return None
        where = urllib.parse.urlsplit(url).path
        raise GitHubError(None, f"{verb} {where}: the answer is not JSON") from None


def _stored_page(body: bytes) -> tuple[list[dict[str, Any]], str | None] | None:
    """A page as :meth:`GitHubClient._page` stored it, or None when it is not one."""
    try:
        page = json.loads(body)
    except ValueError:
        return None
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        return None
    next_url = page.get("next")
    if next_url is not None and not isinstance(next_url, str):
        return None
    return [item for item in page["items"] if isinstance(item, dict)], next_url


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
        id=data["id"] if isinstance(data.get("id"), int) else None,
    )


def _branch(branch: str) -> str:
    """A branch name as a path tail: its slashes kept (GitHub reads them as the ref's),
    everything else percent-encoded; a name git would refuse is a ValueError."""
    parts = branch.split("/")
    if not branch or any(p in ("", ".", "..") or p.endswith(".lock") for p in parts):
        raise ValueError(f"not a branch name: {branch[:100]!r}")
    return "/".join(_q(p) for p in parts)


def _sha_of(data: Any, what: str) -> str:
    sha = data.get("sha") if isinstance(data, dict) else None
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise GitHubError(None, f"{what}: no sha in the answer")
    return sha


def _git_commit(data: Any, what: str) -> GitCommit:
    sha = _sha_of(data, what)
    tree = data.get("tree")
    tree_sha = _sha_of(tree, what + " (tree)")
    parents = data.get("parents") or []
    return GitCommit(
        sha=sha,
        tree=tree_sha,
        parents=tuple(
            str(p["sha"]) for p in parents if isinstance(p, dict) and isinstance(p.get("sha"), str)
        ),
        message=str(data.get("message") or ""),
    )


def _pull_info(data: dict[str, Any]) -> PullInfo:
    number = data.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise GitHubError(None, "a pull request without a number in GitHub's answer")
    head = data.get("head")
    head = head if isinstance(head, dict) else {}
    base = data.get("base")
    base = base if isinstance(base, dict) else {}
    user = data.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    url = data.get("html_url")
    return PullInfo(
        number=number,
        state=str(data.get("state") or ""),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        head_ref=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        base_ref=str(base.get("ref") or ""),
        author=login if isinstance(login, str) else None,
        url=url if isinstance(url, str) else None,
    )


def _check_body(body: str) -> None:
    if len(body) > MAX_ISSUE_BODY:
        raise ValueError(
            f"an issue body is at most {MAX_ISSUE_BODY} characters (GitHub's limit), "
            f"this one is {len(body)}"
        )


def _issue_info(data: dict[str, Any]) -> IssueInfo:
    number = data.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise GitHubError(None, "an issue without a number in GitHub's answer")
    user = data.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    labels: list[str] = []
    for label in data.get("labels") or []:
        # GitHub documents a label as an object with a name, or a plain name
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str):
            labels.append(name)
    return IssueInfo(
        number=number,
        state=str(data.get("state") or ""),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        author=login if isinstance(login, str) else None,
        labels=tuple(labels),
    )


def _alert_info(data: dict[str, Any]) -> AlertInfo:
    def text(value: Any, limit: int = 1000) -> str | None:
        # repository-controlled or user-written: redacted, one line, bounded
        return clip(redact(value), limit) if isinstance(value, str) and value else None

    number = data.get("number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise GitHubError(None, "a code scanning alert without a number in GitHub's answer")

    def obj(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    rule = obj(data.get("rule"))
    instance = obj(data.get("most_recent_instance"))
    location = obj(instance.get("location"))
    line = location.get("start_line")
    by = data.get("dismissed_by")
    return AlertInfo(
        number=number,
        state=str(data.get("state") or ""),
        rule=str(rule.get("id") or "")[:100],
        # matched against finding paths: kept as GitHub wrote it (shown through the console's
        # redaction), only bounded
        path=path
        if isinstance(path := location.get("path"), str) and 0 < len(path) <= 4096
        else None,
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
        category=text(instance.get("category")),
        url=text(data.get("html_url")),
        dismissed_by=text(by.get("login"), 100) if isinstance(by, dict) else None,
        dismissed_at=text(data.get("dismissed_at"), 40),
        dismissed_reason=text(data.get("dismissed_reason"), 40),
        dismissed_comment=text(data.get("dismissed_comment"), 280),
        fixed_at=text(data.get("fixed_at"), 40),
    )


def _timestamp(text: str) -> datetime | None:
    """An ISO 8601 time; one without an offset is taken as UTC (GitHub writes Z, a server
    in front of it may not)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    except ValueError:
        return None


def _property_values(items: list[Any]) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {}
    for prop in items:
        if not isinstance(prop, dict):
            continue
        name, value = prop.get("property_name"), prop.get("value")
        if not isinstance(name, str):
            continue
        if isinstance(value, str):
            values[name] = value
        elif isinstance(value, list):
            values[name] = [str(v) for v in value]
    return values

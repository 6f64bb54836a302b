"""A local HTTP server speaking the subset of the GitHub REST API tether uses, for tests that
drive the real PyGithub client (no network).

Served under ``/api/v3`` (a GHES-shaped base URL): ``/orgs/{org}/repos`` and
``/orgs/{org}/properties/values`` (paginated with ``Link`` headers, ``page_size`` items a
page), ``/repos/{o}/{r}``, ``/repos/{o}/{r}/properties/values``,
``/repos/{o}/{r}/branches/{b}``, ``/rate_limit``, ``/user``,
code scanning SARIF uploads (``POST /repos/{o}/{r}/code-scanning/sarifs`` and
``GET …/sarifs/{id}``), issues (``GET``/``POST /repos/{o}/{r}/issues``, ``PATCH
…/issues/{n}``), the Git Data API a fix pull request is written with (``POST …/git/blobs``,
``POST …/git/trees`` with ``base_tree``, ``POST``/``GET …/git/commits``, ``GET
…/git/ref/heads/{b}`` (singular, as GitHub and PyGithub have it), ``POST …/git/refs``,
``PATCH``/``DELETE …/git/refs/heads/{b}``), pull requests (``GET``/``POST …/pulls`` with
the ``head`` and ``state`` filters, ``PATCH …/pulls/{n}``), and for a GitHub App
``/app/installations``, ``/orgs/{org}/installation`` and
``/app/installations/{id}/access_tokens`` (JWTs verified with the App's public key).

Listing pages carry a strong ETag computed from the page body; a matching ``If-None-Match``
is answered 304 with no body and, like GitHub, does not count against ``rate_remaining``.
Every request is recorded (method, path with query, headers). Faults are queued with
:meth:`FakeGitHub.fail_next` and served once each, before the real answer.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

PREFIX = "/api/v3"
BAD_CREDENTIALS = {"message": "Bad credentials", "documentation_url": "https://docs.github.com"}
SECONDARY_LIMIT = {
    "message": "You have exceeded a secondary rate limit. "
    "Please wait a few minutes before you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # without the /api/v3 prefix, with the query
    headers: dict[str, str]  # header names lower-cased

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]


@dataclass(frozen=True)
class Upload:
    """A SARIF upload the fake accepted, its SARIF decoded."""

    repo: str
    commit_sha: str
    ref: str
    sarif: dict[str, Any]
    id: str


@dataclass
class Fault:
    route: re.Pattern[str]
    status: int
    body: dict[str, Any] | str  # a str is sent as it is, as an HTML error page
    headers: dict[str, str]
    method: str | None = None  # None: any


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_json(full_name: str, **overrides: Any) -> dict[str, Any]:
    """A repository as GitHub lists it (the fields tether reads, and a few it does not)."""
    owner, name = full_name.split("/")
    data: dict[str, Any] = {
        "id": abs(hash(full_name)) % 10**8,
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner, "type": "Organization"},
        "private": False,
        "visibility": "public",
        "fork": False,
        "archived": False,
        "disabled": False,
        "size": 120,
        "default_branch": "main",
        "topics": [],
        "pushed_at": "2026-11-30T10:00:00Z",
    }
    data.update(overrides)
    return data


@dataclass
class FakeGitHub:
    """The server's state: tests fill it, then read ``requests``."""

    token: str = "ghp_FakeToken0123456789abcdefABCDEF0123"
    page_size: int = 3
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)
    properties: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    branches: dict[tuple[str, str], str] = field(default_factory=dict)
    # (full_name, sha) -> tar.gz bytes served from the download host after a 302
    tarballs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    # (full_name, commit sha) -> recursive tree entries as GitHub lists them, and
    # (full_name, blob sha) -> content; a tree longer than tree_limit is served truncated
    trees: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    tree_limit: int = 100_000
    # GitHub App: id, public key PEM, installations by org, minted token lifetime
    app_id: int | None = None
    app_public_key: str | None = None
    installations: dict[str, int] = field(default_factory=dict)
    token_lifetime: timedelta = timedelta(hours=1)
    minted: list[str] = field(default_factory=list)
    minted_permissions: list[dict[str, str]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rate_remaining: int = 5000
    # who the PAT is (GET /user, issue authors); minted App tokens act as app_login
    login: str = "tether-bot"
    app_login: str = "tether-app[bot]"
    # code scanning: accepted uploads; repos where it is off (-> that status); polls of an
    # upload answered "pending" before it completes; upload ids or repos whose processing
    # fails, with these errors
    uploads: list[Upload] = field(default_factory=list)
    code_scanning_disabled: dict[str, int] = field(default_factory=dict)
    processing_polls: int = 1
    sarif_failures: dict[str, list[str]] = field(default_factory=dict)
    # code scanning alerts by repo, as GitHub lists them (GET .../code-scanning/alerts); a
    # repo with none and no upload answers 404 ("no analysis found"), as GitHub does
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # delivery: deployments by repo (newest first, as GitHub lists them), each deployment's
    # statuses (newest first), workflow runs by repo
    deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # issues (and pull requests, which GitHub lists with them) by repo; labels that exist
    # by repo; repos whose issues are disabled (410 on create and edit)
    issues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, set[str]] = field(default_factory=dict)
    issues_disabled: set[str] = field(default_factory=set)
    # git objects: commits by (repo, sha) as {"tree", "parents", "message", "author"}; trees
    # by (repo, sha) as a flat map path -> (mode, blob sha) of every file (a fake tree id:
    # a hash of that map); a branch's head is in ``branches``
    commits: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    git_trees: dict[tuple[str, str], dict[str, tuple[str, str]]] = field(default_factory=dict)
    # pull requests by (repo, number): {"head", "base", "title", "body", "state", "user"};
    # their numbers are shared with issues (each has an entry there too, as on GitHub)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _polls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeGitHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def origin(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """The base URL to hand the client (GHES-shaped)."""
        return self.origin + PREFIX

    # --------------------------------------------------------------------- set-up

    def add_repo(self, full_name: str, **overrides: Any) -> None:
        self.repos[full_name] = repo_json(full_name, **overrides)

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str | None = "",
        labels: tuple[str, ...] | list[str] = (),
        *,
        state: str = "open",
        author: str | None = None,
        pull_request: bool = False,
    ) -> int:
        """An existing issue (or, with ``pull_request``, a pull request) on ``repo``;
        returns its number."""
        with self._lock:
            return self._new_issue(
                repo, title, body, list(labels), author or "someone", state, pull_request
            )

    def fail_next(
        self,
        route: str,
        status: int,
        body: dict[str, Any] | str | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next request whose path (no prefix, no query) fully matches the regex
        ``route`` (and, when given, whose method is ``method``) with ``status`` once."""
        self.faults.append(
            Fault(re.compile(route), status, body or {"message": "fault"}, headers or {}, method)
        )

    def add_commit(
        self, repo: str, sha: str, files: dict[str, tuple[str, str]], parents: list[str]
    ) -> str:
        """A commit whose tree holds ``files`` (path -> (mode, blob sha)); returns the tree
        id."""
        tree = self._tree_id(files)
        with self._lock:
            self.git_trees[(repo, tree)] = dict(files)
            self.commits[(repo, sha)] = {
                "tree": tree,
                "parents": list(parents),
                "message": "change",
                "author": "someone",
            }
        return tree

    def commit_files(self, repo: str, sha: str) -> dict[str, bytes]:
        """Every file of a commit, with its content."""
        tree = self.git_trees[(repo, self.commits[(repo, sha)]["tree"])]
        return {path: self.blobs[(repo, blob)] for path, (_mode, blob) in tree.items()}

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    # -------------------------------------------------------------------- serving

    def take_fault(self, route: str, method: str | None = None) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.route.fullmatch(route) and fault.method in (None, method):
                    return self.faults.pop(i)
        return None

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, Any, dict[str, str]]:
        route, _, query = path.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        auth = headers.get("authorization", "")
        if (
            route == "/app"
            or route.startswith("/app/")
            or re.fullmatch(r"/orgs/[^/]+/installation", route)
        ):
            if not self._valid_jwt(auth):
                return 401, BAD_CREDENTIALS, {}
            return self._app(method, route, body)
        if not self._valid_token(auth):
            return 401, BAD_CREDENTIALS, {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/code-scanning/sarifs(?:/([^/]+))?", route):
            return self._code_scanning(method, m.group(1), m.group(2), body)
        if method == "GET" and (
            m := re.fullmatch(r"/repos/([^/]+/[^/]+)/code-scanning/alerts", route)
        ):
            return self._alerts(route, m.group(1), params, headers)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues(?:/(\d+))?", route):
            number = int(m.group(2)) if m.group(2) else None
            return self._issues(method, m.group(1), number, route, params, headers, body, auth)
        git = re.fullmatch(r"/repos/([^/]+/[^/]+)/git/(blobs|trees|commits|refs?)(?:/(.+))?", route)
        if git and (method != "GET" or git.group(2) in ("commits", "ref")):
            return self._git(method, git.group(1), git.group(2), git.group(3), body, auth)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls(?:/(\d+))?", route):
            number = int(m.group(2)) if m.group(2) else None
            return self._pulls(method, m.group(1), number, route, params, headers, body, auth)
        if method != "GET":
            return 404, {"message": "Not Found"}, {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/deployments", route):
            env = params.get("environment")
            items = [
                d
                for d in self.deployments.get(m.group(1), [])
                if env is None or d.get("environment") == env
            ]
            return self._page(route, params, items, headers)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses", route):
            return self._page(
                route, params, self.deployment_statuses.get(int(m.group(2)), []), headers
            )
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/actions/runs", route):
            since = params.get("created", ">=0000-00-00")[2:]
            items = [
                r
                for r in self.runs.get(m.group(1), [])
                if r.get("created_at", "")[:10] >= since
                and r.get("status") == params.get("status", r.get("status"))
            ]
            status, page, answer = self._page(route, params, items, headers)
            return status, {"total_count": len(items), "workflow_runs": page}, answer
        if route == "/user":
            if self._is_app_token(auth):
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, {"login": self.login, "id": 1, "type": "User"}, {}
        if m := re.fullmatch(r"/orgs/([^/]+)/repos", route):
            org = m.group(1)
            items = [r for n, r in sorted(self.repos.items()) if n.split("/")[0] == org]
            return self._page(route, params, items, headers)
        if m := re.fullmatch(r"/orgs/([^/]+)/properties/values", route):
            org = m.group(1)
            items = [
                {
                    "repository_id": self.repos.get(n, {}).get("id", 0),
                    "repository_name": n.split("/")[1],
                    "repository_full_name": n,
                    "properties": props,
                }
                for n, props in sorted(self.properties.items())
                if n.split("/")[0] == org
            ]
            return self._page(route, params, items, headers)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/tarball/([0-9a-f]{40})", route):
            if (m.group(1), m.group(2)) not in self.tarballs:
                return 404, {"message": "Not Found"}, {}
            # like codeload: the download URL carries its own short-lived token
            where = (
                f"{self.origin}/codeload/{m.group(1)}/tar.gz/{m.group(2)}?token=DL{m.group(2)[:8]}"
            )
            return 302, None, {"Location": where}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/git/trees/([0-9a-f]{40})", route):
            entries = self.trees.get((m.group(1), m.group(2)))
            if entries is None:
                return 404, {"message": "Not Found"}, {}
            truncated = len(entries) > self.tree_limit
            body = {
                "sha": m.group(2),
                "url": f"{self.url}{route}",
                "tree": entries[: self.tree_limit],
                "truncated": truncated,
            }
            return 200, body, {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/git/blobs/([0-9a-f]{40})", route):
            data = self.blobs.get((m.group(1), m.group(2)))
            if data is None:
                return 404, {"message": "Not Found"}, {}
            encoded = base64.encodebytes(data).decode()  # GitHub wraps at 60 characters
            return (
                200,
                {"sha": m.group(2), "size": len(data), "encoding": "base64", "content": encoded},
                {},
            )
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/properties/values", route):
            if m.group(1) not in self.repos:
                return 404, {"message": "Not Found"}, {}
            return 200, self.properties.get(m.group(1), []), {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/branches/(.+)", route):
            sha = self.branches.get((m.group(1), m.group(2)))
            if sha is None:
                return 404, {"message": "Branch not found"}, {}
            return 200, {"name": m.group(2), "commit": {"sha": sha}, "protected": False}, {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)", route):
            repo = self.repos.get(m.group(1))
            return (200, repo, {}) if repo else (404, {"message": "Not Found"}, {})
        if route == "/rate_limit":
            core = {"limit": 5000, "remaining": self.rate_remaining, "reset": 1_900_000_000}
            return 200, {"resources": {"core": core}, "rate": core}, {}
        return 404, {"message": "Not Found"}, {}

    def _page(
        self,
        route: str,
        params: dict[str, str],
        items: list[dict[str, Any]],
        headers: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        page = int(params.get("page", "1"))
        last = max(1, -(-len(items) // self.page_size))
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        # the other query parameters (filters) travel in the links, as GitHub's do
        keep = "".join(f"&{k}={v}" for k, v in sorted(params.items()) if k != "page")
        links = []
        if page < last:
            links.append(f'<{self.url}{route}?page={page + 1}{keep}>; rel="next"')
            links.append(f'<{self.url}{route}?page={last}{keep}>; rel="last"')
        if page > 1:
            links.append(f'<{self.url}{route}?page=1{keep}>; rel="first"')
        # a strong ETag of the body alone (as the Link header is not part of it, a page
        # after a full last page can appear without changing that page's ETag)
        etag = '"' + hashlib.sha256(json.dumps(chunk).encode()).hexdigest()[:40] + '"'
        answer = {"ETag": etag}
        if links:
            answer["Link"] = ", ".join(links)
        asked = [t.strip() for t in headers.get("if-none-match", "").split(",")]
        if etag in asked or f"W/{etag}" in asked:
            return 304, None, answer
        return 200, chunk, answer

    # -------------------------------------------------------------- code scanning

    def _code_scanning(
        self, method: str, repo: str, sarif_id: str | None, body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}
        if repo in self.code_scanning_disabled:
            status = self.code_scanning_disabled[repo]
            message = (
                "Not Found"
                if status == 404
                else "Advanced Security must be enabled for this repository to use code scanning."
            )
            return status, {"message": message}, {}
        if method == "POST" and sarif_id is None:
            return self._upload(repo, body)
        if method == "GET" and sarif_id is not None:
            with self._lock:
                upload = next((u for u in self.uploads if u.id == sarif_id), None)
                if upload is None or upload.repo != repo:
                    return 404, {"message": "Not Found"}, {}
                polls = self._polls[sarif_id] = self._polls.get(sarif_id, 0) + 1
            if polls <= self.processing_polls:
                return 200, {"processing_status": "pending", "analyses_url": None}, {}
            errors = self.sarif_failures.get(sarif_id, self.sarif_failures.get(repo))
            if errors is not None:
                return 200, {"processing_status": "failed", "errors": errors}, {}
            analyses = f"{self.url}/repos/{repo}/code-scanning/analyses?sarif_id={sarif_id}"
            return 200, {"processing_status": "complete", "analyses_url": analyses}, {}
        return 404, {"message": "Not Found"}, {}

    def _alerts(
        self, route: str, repo: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}
        if repo in self.code_scanning_disabled:
            return self.code_scanning_disabled[repo], {"message": "code scanning is off"}, {}
        with self._lock:
            alerts = list(self.alerts.get(repo, []))
            analysed = repo in self.alerts or any(u.repo == repo for u in self.uploads)
        if not analysed:
            return 404, {"message": "no analysis found"}, {}
        tool = params.get("tool_name")
        if tool is not None:
            alerts = [a for a in alerts if (a.get("tool") or {}).get("name") == tool]
        return self._page(route, params, alerts, headers)

    def _upload(self, repo: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        def invalid(why: str) -> tuple[int, Any, dict[str, str]]:
            return 422, {"message": "Invalid request.", "errors": [why]}, {}

        try:
            data = json.loads(body)
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        if not isinstance(data, dict):
            return 400, {"message": "Problems parsing JSON"}, {}
        sha, ref, packed = data.get("commit_sha"), data.get("ref"), data.get("sarif")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{40}", sha):
            return invalid("commit_sha is not a 40-character SHA")
        if not isinstance(ref, str) or not ref.startswith("refs/"):
            return invalid("ref is not a full Git reference")
        if not isinstance(packed, str):
            return invalid("sarif is not a string")
        try:
            sarif = json.loads(gzip.decompress(base64.b64decode(packed, validate=True)))
        except (binascii.Error, OSError, EOFError, ValueError):
            return invalid("sarif is not base64 of gzip of JSON")
        if not isinstance(sarif, dict) or sarif.get("version") != "2.1.0":
            return invalid("sarif is not SARIF 2.1.0")
        upload = Upload(repo, sha, ref, sarif, str(uuid.uuid4()))
        with self._lock:
            self.uploads.append(upload)
        url = f"{self.url}/repos/{repo}/code-scanning/sarifs/{upload.id}"
        return 202, {"id": upload.id, "url": url}, {}

    # --------------------------------------------------------------------- issues

    def _issues(
        self,
        method: str,
        repo: str,
        number: int | None,
        route: str,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        auth: str,
    ) -> tuple[int, Any, dict[str, str]]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}
        if method == "GET" and number is None:
            state = params.get("state", "open")
            if state not in ("open", "closed", "all"):
                return 422, {"message": "Validation Failed"}, {}
            wanted = {x for x in params.get("labels", "").split(",") if x}
            with self._lock:
                items = [
                    dict(issue)
                    for issue in sorted(self.issues.get(repo, []), key=lambda i: -int(i["number"]))
                    if (state == "all" or issue["state"] == state)
                    and wanted <= {label["name"] for label in issue["labels"]}
                ]
            return self._page(route, params, items, headers)
        if method == "GET":
            found = self._find_issue(repo, number)
            return (200, found, {}) if found else (404, {"message": "Not Found"}, {})
        if repo in self.issues_disabled:
            return 410, {"message": "Issues are disabled for this repo"}, {}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        if not isinstance(data, dict):
            return 400, {"message": "Problems parsing JSON"}, {}
        text = data.get("body")
        if isinstance(text, str) and len(text) > 65536:
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}, {}
        author = self.app_login if self._is_app_token(auth) else self.login
        if method == "POST" and number is None:
            title, labels = data.get("title"), data.get("labels") or []
            if not isinstance(title, str) or not title:
                return 422, {"message": "Validation Failed", "errors": ["title missing"]}, {}
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                return 422, {"message": "Validation Failed", "errors": ["labels"]}, {}
            with self._lock:
                new = self._new_issue(repo, title, text, labels, author, "open", False)
            return 201, self._find_issue(repo, new), {}
        if method == "PATCH" and number is not None:
            with self._lock:
                issue = next((i for i in self.issues.get(repo, []) if i["number"] == number), None)
                if issue is None:
                    return 404, {"message": "Not Found"}, {}
                if "state" in data and data["state"] not in ("open", "closed"):
                    return 422, {"message": "Validation Failed", "errors": ["state"]}, {}
                for key in ("title", "body", "state"):
                    if key in data:
                        issue[key] = data[key]
                closed = issue["state"] == "closed"
                issue["closed_at"] = "2026-12-01T10:00:00Z" if closed else None
                issue["state_reason"] = "completed" if closed else None
                issue["updated_at"] = "2026-12-01T10:00:00Z"
                return 200, dict(issue), {}
        return 404, {"message": "Not Found"}, {}

    # ------------------------------------------------------------ git data, pulls

    @staticmethod
    def _tree_id(files: dict[str, tuple[str, str]]) -> str:
        return hashlib.sha1(json.dumps(sorted(files.items())).encode()).hexdigest()

    def _commit_json(self, repo: str, sha: str) -> dict[str, Any]:
        c = self.commits[(repo, sha)]
        return {
            "sha": sha,
            "url": f"{self.url}/repos/{repo}/git/commits/{sha}",
            "message": c["message"],
            "author": {"name": c["author"], "email": f"{c['author']}@example.com"},
            "tree": {"sha": c["tree"], "url": f"{self.url}/repos/{repo}/git/trees/{c['tree']}"},
            "parents": [
                {"sha": p, "url": f"{self.url}/repos/{repo}/git/commits/{p}"} for p in c["parents"]
            ],
        }

    def _ref_json(self, repo: str, branch: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": "REF_fake",
            # PyGithub's GitRef edits and deletes through this url: GitHub's plural refs
            "url": f"{self.url}/repos/{repo}/git/refs/heads/{branch}",
            "object": {"sha": self.branches[(repo, branch)], "type": "commit"},
        }

    def _git(
        self, method: str, repo: str, kind: str, rest: str | None, body: bytes, auth: str
    ) -> tuple[int, Any, dict[str, str]]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}
        if method != "GET" and self.repos[repo].get("archived"):
            return 403, {"message": "Repository was archived so is read-only."}, {}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        invalid = (422, {"message": "Invalid request."}, {})
        with self._lock:
            if kind == "blobs" and method == "POST" and rest is None:
                content, encoding = data.get("content"), data.get("encoding", "utf-8")
                if not isinstance(content, str) or encoding not in ("utf-8", "base64"):
                    return invalid
                raw = base64.b64decode(content) if encoding == "base64" else content.encode()
                sha = git_blob_sha(raw)
                self.blobs[(repo, sha)] = raw
                return 201, {"sha": sha, "url": f"{self.url}/repos/{repo}/git/blobs/{sha}"}, {}
            if kind == "trees" and method == "POST" and rest is None:
                base = data.get("base_tree")
                files = dict(self.git_trees.get((repo, base), {})) if base else {}
                if base and (repo, base) not in self.git_trees:
                    return 422, {"message": "base_tree is not a tree"}, {}
                for entry in data.get("tree") or []:
                    path, mode = entry.get("path"), entry.get("mode")
                    if not isinstance(path, str) or mode not in ("100644", "100755", "120000"):
                        return invalid
                    if entry.get("type", "blob") != "blob":
                        return invalid
                    if "content" in entry:
                        raw = str(entry["content"]).encode()
                        self.blobs[(repo, git_blob_sha(raw))] = raw
                        files[path] = (mode, git_blob_sha(raw))
                    elif entry.get("sha") is None:
                        files.pop(path, None)
                    elif (repo, entry["sha"]) in self.blobs:
                        files[path] = (mode, entry["sha"])
                    else:
                        return 422, {"message": f"tree.sha {entry['sha']} is not a blob"}, {}
                tree = self._tree_id(files)
                self.git_trees[(repo, tree)] = files
                listed = [
                    {"path": p, "mode": m, "type": "blob", "sha": b} for p, (m, b) in files.items()
                ]
                return 201, {"sha": tree, "tree": listed, "truncated": False}, {}
            if kind == "commits" and method == "POST" and rest is None:
                tree, parents, message = data.get("tree"), data.get("parents"), data.get("message")
                if (repo, tree) not in self.git_trees or not isinstance(message, str):
                    return invalid
                if not isinstance(parents, list) or any(
                    (repo, p) not in self.commits for p in parents
                ):
                    return invalid
                sha = hashlib.sha1(json.dumps([tree, parents, message, len(self.commits)]).encode())
                sha_hex = sha.hexdigest()
                author = self.app_login if self._is_app_token(auth) else self.login
                self.commits[(repo, sha_hex)] = {
                    "tree": tree,
                    "parents": parents,
                    "message": message,
                    "author": author,
                }
                return 201, self._commit_json(repo, sha_hex), {}
            if kind == "commits" and method == "GET" and rest is not None:
                if (repo, rest) not in self.commits:
                    return 404, {"message": "Not Found"}, {}
                return 200, self._commit_json(repo, rest), {}
            if kind == "ref" and method == "GET" and rest and rest.startswith("heads/"):
                branch = rest[len("heads/") :]
                if (repo, branch) not in self.branches:
                    return 404, {"message": "Not Found"}, {}
                return 200, self._ref_json(repo, branch), {}
            if kind == "refs" and method == "POST" and rest is None:
                ref, sha = data.get("ref"), data.get("sha")
                if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
                    return invalid
                branch = ref[len("refs/heads/") :]
                if (repo, branch) in self.branches:
                    return 422, {"message": "Reference already exists"}, {}
                if (repo, sha) not in self.commits:
                    return 422, {"message": "Object does not exist"}, {}
                self.branches[(repo, branch)] = sha
                return 201, self._ref_json(repo, branch), {}
            if kind == "refs" and rest and rest.startswith("heads/"):
                branch = rest[len("heads/") :]
                if (repo, branch) not in self.branches:
                    return 422, {"message": "Reference does not exist"}, {}
                if method == "DELETE":
                    del self.branches[(repo, branch)]
                    return 204, None, {}
                if method == "PATCH":
                    sha = data.get("sha")
                    if (repo, sha) not in self.commits:
                        return 422, {"message": "Object does not exist"}, {}
                    old = self.branches[(repo, branch)]
                    if not data.get("force") and not self._descends(repo, sha, old):
                        return 422, {"message": "Update is not a fast forward"}, {}
                    self.branches[(repo, branch)] = sha
                    return 200, self._ref_json(repo, branch), {}
        return 404, {"message": "Not Found"}, {}

    def _descends(self, repo: str, sha: str, ancestor: str) -> bool:
        todo, seen = [sha], set()
        while todo:
            c = todo.pop()
            if c == ancestor:
                return True
            if c in seen or (repo, c) not in self.commits:
                continue
            seen.add(c)
            todo += self.commits[(repo, c)]["parents"]
        return False

    def _pull_json(self, repo: str, number: int) -> dict[str, Any]:
        pr = self.pulls[(repo, number)]
        owner = repo.split("/")[0]
        return {
            "number": number,
            "url": f"{self.url}/repos/{repo}/pulls/{number}",
            "html_url": f"{self.origin}/{repo}/pull/{number}",
            "state": pr["state"],
            "title": pr["title"],
            "body": pr["body"],
            "user": {"login": pr["user"]},
            "head": {
                "ref": pr["head"],
                "label": f"{owner}:{pr['head']}",
                "sha": self.branches.get((repo, pr["head"]), ""),
            },
            "base": {"ref": pr["base"], "label": f"{owner}:{pr['base']}"},
        }

    def _pulls(
        self,
        method: str,
        repo: str,
        number: int | None,
        route: str,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        auth: str,
    ) -> tuple[int, Any, dict[str, str]]:
        if repo not in self.repos:
            return 404, {"message": "Not Found"}, {}
        owner = repo.split("/")[0]
        if method == "GET" and number is None:
            state = params.get("state", "open")
            head = params.get("head")
            with self._lock:
                items = [
                    self._pull_json(repo, n)
                    for (r, n), pr in sorted(self.pulls.items())
                    if r == repo
                    and (state == "all" or pr["state"] == state)
                    and (head is None or head == f"{owner}:{pr['head']}")
                ]
            return self._page(route, params, items, headers)
        if method == "GET":
            with self._lock:
                if (repo, number) not in self.pulls:
                    return 404, {"message": "Not Found"}, {}
                return 200, self._pull_json(repo, number), {}
        if self.repos[repo].get("archived"):
            return 403, {"message": "Repository was archived so is read-only."}, {}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return 400, {"message": "Problems parsing JSON"}, {}
        text = data.get("body")
        if isinstance(text, str) and len(text) > 65536:
            return 422, {"message": "Validation Failed", "errors": ["body is too long"]}, {}
        with self._lock:
            if method == "POST" and number is None:
                head, base, title = data.get("head"), data.get("base"), data.get("title")
                if not isinstance(title, str) or not title:
                    return 422, {"message": "Validation Failed", "errors": ["title"]}, {}
                if (repo, head) not in self.branches or (repo, base) not in self.branches:
                    return 422, {"message": "Validation Failed", "errors": ["head or base"]}, {}
                if any(  # one open pull request per head and base, as GitHub allows
                    r == repo
                    and pr["head"] == head
                    and pr["base"] == base
                    and pr["state"] == "open"
                    for (r, _), pr in self.pulls.items()
                ):
                    message = f"A pull request already exists for {owner}:{head}."
                    return 422, {"message": "Validation Failed", "errors": [message]}, {}
                author = self.app_login if self._is_app_token(auth) else self.login
                new = self._new_issue(repo, title, text, [], author, "open", True)
                self.pulls[(repo, new)] = {
                    "head": head,
                    "base": base,
                    "title": title,
                    "body": text,
                    "state": "open",
                    "user": author,
                }
                return 201, self._pull_json(repo, new), {}
            if method == "PATCH" and number is not None:
                pr = self.pulls.get((repo, number))
                if pr is None:
                    return 404, {"message": "Not Found"}, {}
                if "state" in data and data["state"] not in ("open", "closed"):
                    return 422, {"message": "Validation Failed", "errors": ["state"]}, {}
                for key in ("title", "body", "state"):
                    if key in data:
                        pr[key] = data[key]
                return 200, self._pull_json(repo, number), {}
        return 404, {"message": "Not Found"}, {}

    def _new_issue(
        self,
        repo: str,
        title: str,
        body: str | None,
        labels: list[str],
        author: str,
        state: str,
        pull_request: bool,
    ) -> int:
        """Under the lock. Numbers are shared by issues and pull requests, as on GitHub;
        labels that do not exist yet are created."""
        existing = self.issues.setdefault(repo, [])
        number = max((int(i["number"]) for i in existing), default=0) + 1
        known = self.labels.setdefault(repo, set())
        known.update(labels)
        issue: dict[str, Any] = {
            "id": abs(hash((repo, number))) % 10**9,
            "node_id": f"I_fake{number}",
            "number": number,
            "url": f"{self.url}/repos/{repo}/issues/{number}",
            "html_url": f"{self.origin}/{repo}/issues/{number}",
            "title": title,
            "body": body,
            "state": state,
            "state_reason": None,
            "user": {"login": author, "type": "Bot" if author.endswith("[bot]") else "User"},
            "labels": [
                {"id": abs(hash(name)) % 10**6, "name": name, "color": "ededed", "default": False}
                for name in dict.fromkeys(labels)
            ],
            "locked": False,
            "comments": 0,
            "created_at": "2026-12-01T09:00:00Z",
            "updated_at": "2026-12-01T09:00:00Z",
            "closed_at": None,
        }
        if pull_request:
            issue["pull_request"] = {"url": f"{self.url}/repos/{repo}/pulls/{number}"}
        existing.append(issue)
        return number

    def _find_issue(self, repo: str, number: int | None) -> dict[str, Any] | None:
        with self._lock:
            for issue in self.issues.get(repo, []):
                if issue["number"] == number:
                    return dict(issue)
        return None

    def _app(self, method: str, route: str, body: bytes = b"") -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and route == "/app":
            slug = self.app_login.removesuffix("[bot]")
            return (
                200,
                {"id": self.app_id, "slug": slug, "name": slug, "owner": {"login": "acme"}},
                {},
            )
        if method == "GET" and route == "/app/installations":
            return 200, [self._installation(org, i) for org, i in self.installations.items()], {}
        if method == "GET" and (m := re.fullmatch(r"/orgs/([^/]+)/installation", route)):
            org = m.group(1)
            if org not in self.installations:
                return 404, {"message": "Not Found"}, {}
            return 200, self._installation(org, self.installations[org]), {}
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", route)
        if method == "POST" and m and int(m.group(1)) in self.installations.values():
            asked = json.loads(body or b"{}").get("permissions")
            granted = asked or {"contents": "read", "metadata": "read"}
            with self._lock:
                token = f"ghs_Minted{len(self.minted):04d}abcdefghijklmnopqrstuvwxyzAB"
                self.minted.append(token)
                self.minted_permissions.append(granted)
            expires = datetime.now(UTC) + self.token_lifetime
            answer = {
                "token": token,
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": granted,
                "repository_selection": "all",
            }
            return 201, answer, {}
        return 404, {"message": "Not Found"}, {}

    def _installation(self, org: str, installation_id: int) -> dict[str, Any]:
        return {
            "id": installation_id,
            "app_id": self.app_id,
            "account": {"login": org, "type": "Organization"},
            "target_type": "Organization",
            "access_tokens_url": f"{self.url}/app/installations/{installation_id}/access_tokens",
        }

    def _is_app_token(self, auth: str) -> bool:
        return auth.partition(" ")[2] in self.minted

    def _valid_token(self, auth: str) -> bool:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return False
        return value == self.token or value in self.minted

    def _valid_jwt(self, auth: str) -> bool:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or self.app_public_key is None:
            return False
        try:
            claims = jwt.decode(value, self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        return str(claims.get("iss")) == str(self.app_id)


def _handler(fake: FakeGitHub) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            if m := re.fullmatch(r"/codeload/([^/]+/[^/]+)/tar\.gz/([0-9a-f]{40})", split.path):
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append(Recorded(self.command, self.path, headers))
                data = fake.tarballs.get((m.group(1), m.group(2)))
                if data is None or not split.query.startswith("token=DL"):
                    self._send(404, {"message": "Not Found"}, {})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if not split.path.startswith(PREFIX + "/"):
                self._send(404, {"message": "Not Found"}, {})
                return
            path = split.path[len(PREFIX) :] + (f"?{split.query}" if split.query else "")
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(Recorded(self.command, path, headers))
            fault = fake.take_fault(split.path[len(PREFIX) :], self.command)
            if fault is not None:
                self._send(fault.status, fault.body, fault.headers)
                return
            status, answer, extra = fake.answer(self.command, path, headers, body)
            self._send(status, answer, extra)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            # a 304 has no body and, for an authorized request, costs no rate limit
            if status in (204, 304):
                data = b""
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            with fake._lock:
                if status != 304:
                    fake.rate_remaining = max(0, fake.rate_remaining - 1)
                remaining = fake.rate_remaining
            self.send_response(status)
            if status not in (204, 304):
                kind = "text/html" if isinstance(body, str) else "application/json"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", str(remaining))
            self.send_header("X-RateLimit-Reset", "1900000000")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve
        do_PATCH = _serve
        do_DELETE = _serve

    return Handler

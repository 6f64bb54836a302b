"""A local HTTP server speaking the subset of the GitHub REST API tether uses, for tests that
drive the real PyGithub client (no network).

Served under ``/api/v3`` (a GHES-shaped base URL): ``/orgs/{org}/repos`` and
``/orgs/{org}/properties/values`` (paginated with ``Link`` headers, ``page_size`` items a
page), ``/repos/{o}/{r}``, ``/repos/{o}/{r}/branches/{b}``, ``/rate_limit``, and for a GitHub
App ``/app/installations``, ``/orgs/{org}/installation`` and
``/app/installations/{id}/access_tokens`` (JWTs verified with the App's public key).
Every request is recorded (method, path with query, headers). Faults are queued with
:meth:`FakeGitHub.fail_next` and served once each, before the real answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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


@dataclass
class Fault:
    route: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


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
    # GitHub App: id, public key PEM, installations by org, minted token lifetime
    app_id: int | None = None
    app_public_key: str | None = None
    installations: dict[str, int] = field(default_factory=dict)
    token_lifetime: timedelta = timedelta(hours=1)
    minted: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    rate_remaining: int = 5000
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

    def fail_next(
        self,
        route: str,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next request whose path (no prefix, no query) fully matches the regex
        ``route`` with ``status`` once."""
        self.faults.append(
            Fault(re.compile(route), status, body or {"message": "fault"}, headers or {})
        )

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    # -------------------------------------------------------------------- serving

    def take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.route.fullmatch(route):
                    return self.faults.pop(i)
        return None

    def answer(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        route, _, query = path.partition("?")
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        auth = headers.get("authorization", "")
        if route.startswith("/app/") or re.fullmatch(r"/orgs/[^/]+/installation", route):
            if not self._valid_jwt(auth):
                return 401, BAD_CREDENTIALS, {}
            return self._app(method, route)
        if not self._valid_token(auth):
            return 401, BAD_CREDENTIALS, {}
        if method != "GET":
            return 404, {"message": "Not Found"}, {}
        if m := re.fullmatch(r"/orgs/([^/]+)/repos", route):
            org = m.group(1)
            items = [r for n, r in sorted(self.repos.items()) if n.split("/")[0] == org]
            return self._page(route, params, items)
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
            return self._page(route, params, items)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/tarball/([0-9a-f]{40})", route):
            if (m.group(1), m.group(2)) not in self.tarballs:
                return 404, {"message": "Not Found"}, {}
            # like codeload: the download URL carries its own short-lived token
            where = (
                f"{self.origin}/codeload/{m.group(1)}/tar.gz/{m.group(2)}?token=DL{m.group(2)[:8]}"
            )
            return 302, None, {"Location": where}
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
        self, route: str, params: dict[str, str], items: list[dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        page = int(params.get("page", "1"))
        last = max(1, -(-len(items) // self.page_size))
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        links = []
        if page < last:
            links.append(f'<{self.url}{route}?page={page + 1}&per_page=100>; rel="next"')
            links.append(f'<{self.url}{route}?page={last}&per_page=100>; rel="last"')
        if page > 1:
            links.append(f'<{self.url}{route}?page=1&per_page=100>; rel="first"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _app(self, method: str, route: str) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and route == "/app/installations":
            return 200, [self._installation(org, i) for org, i in self.installations.items()], {}
        if method == "GET" and (m := re.fullmatch(r"/orgs/([^/]+)/installation", route)):
            org = m.group(1)
            if org not in self.installations:
                return 404, {"message": "Not Found"}, {}
            return 200, self._installation(org, self.installations[org]), {}
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", route)
        if method == "POST" and m and int(m.group(1)) in self.installations.values():
            with self._lock:
                token = f"ghs_Minted{len(self.minted):04d}abcdefghijklmnopqrstuvwxyzAB"
                self.minted.append(token)
            expires = datetime.now(timezone.utc) + self.token_lifetime
            body = {
                "token": token,
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"contents": "read", "metadata": "read"},
                "repository_selection": "all",
            }
            return 201, body, {}
        return 404, {"message": "Not Found"}, {}

    def _installation(self, org: str, installation_id: int) -> dict[str, Any]:
        return {
            "id": installation_id,
            "app_id": self.app_id,
            "account": {"login": org, "type": "Organization"},
            "target_type": "Organization",
            "access_tokens_url": f"{self.url}/app/installations/{installation_id}/access_tokens",
        }

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
            if length:
                self.rfile.read(length)
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
            fault = fake.take_fault(split.path[len(PREFIX) :])
            if fault is not None:
                self._send(fault.status, fault.body, fault.headers)
                return
            status, body, extra = fake.answer(self.command, path, headers)
            self._send(status, body, extra)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            with fake._lock:
                fake.rate_remaining = max(0, fake.rate_remaining - 1)
                remaining = fake.rate_remaining
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-RateLimit-Limit", "5000")
            self.send_header("X-RateLimit-Remaining", str(remaining))
            self.send_header("X-RateLimit-Reset", "1900000000")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve
        do_PATCH = _serve

    return Handler

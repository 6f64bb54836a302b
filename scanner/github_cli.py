"""What the commands that reach GitHub share (`tether org`, `tether triage`): their
connection flags and the client factory that checks the credential first. Light to import:
the client (PyGithub) is imported only when a command builds one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError


def github_options(f: Any) -> Any:
    """--github-url, --app-id and --app-private-key: how a command reaches GitHub (a token
    comes from GITHUB_TOKEN, never a flag)."""
    for option in reversed(
        [
            click.option(
                "--github-url",
                envvar="GITHUB_API_URL",
                default="https://api.github.com",
                show_default=True,
                help="REST API base URL; GitHub Enterprise Server: https://HOST/api/v3 "
                "(default from GITHUB_API_URL when set).",
            ),
            click.option(
                "--app-id", envvar="TETHER_APP_ID", help="GitHub App id (env TETHER_APP_ID)."
            ),
            click.option(
                "--app-private-key",
                envvar="TETHER_APP_PRIVATE_KEY",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="GitHub App private key PEM file (env TETHER_APP_PRIVATE_KEY). Without "
                "an App, the token comes from GITHUB_TOKEN.",
            ),
        ]
    ):
        f = option(f)
    return f


def client_factory(
    org: str,
    github_url: str,
    app_id: str | None,
    key_file: Path | None,
    permissions: dict[str, str],
) -> Any:
    """A function building one authenticated client (called once per worker thread). The
    credential is checked here, before any repository is judged."""
    from .github.client import GitHubClient

    if app_id and key_file is not None:
        try:
            pem = key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                str(key_file), None, f"cannot read the App private key: {type(e).__name__}"
            ) from None

        def app() -> GitHubClient:
            return GitHubClient.from_app(
                app_id, pem, org, base_url=github_url, permissions=permissions
            )

        app().close()  # the installation lookup: a bad id, key or org fails now
        return app
    env = dict(os.environ)
    GitHubClient.from_env(env, base_url=github_url).close()

    def token() -> GitHubClient:
        return GitHubClient.from_env(env, base_url=github_url)

    return token

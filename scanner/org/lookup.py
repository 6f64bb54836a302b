"""What a policy's `repos:` entries match a repository by, read from GitHub for a single-repo
scan (`tether scan --policy FILE --repo ORG/NAME`, and the Action), so that it applies the
same layers as the weekly org scan: topics and custom property values, through the API, when
a token is present."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from ..policy.operator import Policy

TOKEN_ENV = "GITHUB_TOKEN"

Facts = tuple[tuple[str, ...], dict[str, "str | list[str]"]]


def needs_lookup(policy: Policy) -> bool:
    """Whether any `repos:` entry matches by topic or custom property (a name glob needs
    only --repo)."""
    return any(e.topic is not None or e.properties for e in policy.repos)


def repository_facts(full_name: str, env: Mapping[str, str]) -> Facts:
    """Topics and custom property values of ``full_name``, read with the token in
    ``env[GITHUB_TOKEN]`` from ``env[GITHUB_API_URL]`` (github.com by default). A repository
    that cannot be read is a configuration error: judging it with other layers than the org
    scan would give another verdict."""
    from ..github.client import DEFAULT_API_URL, GitHubClient, GitHubError  # PyGithub: lazily

    base = env.get("GITHUB_API_URL") or DEFAULT_API_URL
    with GitHubClient.from_env(env, base_url=base) as gh:
        try:
            topics = gh.repo_info(full_name).topics
            props = gh.repo_custom_properties(full_name)
        except GitHubError as e:
            raise ConfigError(
                "--repo",
                None,
                f"cannot read the topics and custom properties of {full_name} that the "
                f"policy's repos: entries match on ({e.message})",
            ) from None
    return topics, props


def without_token_note(policy: Policy, env: Mapping[str, str]) -> str | None:
    """The warning to print when the policy matches by topic or property but no token can
    read them (None when nothing is missing)."""
    if not needs_lookup(policy) or env.get(TOKEN_ENV, "").strip():
        return None
    return (
        "the policy's repos: entries match by topic or custom property, and without "
        f"{TOKEN_ENV} only their name globs can match; set {TOKEN_ENV} to judge this "
        "repository as the org scan does"
    )

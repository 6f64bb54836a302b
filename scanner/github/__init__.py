"""GitHub access for the org scan: one small typed client over PyGithub."""

from __future__ import annotations

from .client import (
    DEFAULT_API_URL,
    TOKEN_ENV,
    GitHubClient,
    GitHubError,
    RateLimit,
    RepoInfo,
    RetryPolicy,
)

__all__ = [
    "DEFAULT_API_URL",
    "TOKEN_ENV",
    "GitHubClient",
    "GitHubError",
    "RateLimit",
    "RepoInfo",
    "RetryPolicy",
]

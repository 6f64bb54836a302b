"""GitHub access for the org scan: one small typed client over PyGithub."""

from __future__ import annotations

from .client import (
    DEFAULT_API_URL,
    MAX_ISSUE_BODY,
    MAX_SARIF_GZIP_BYTES,
    TOKEN_ENV,
    EtagCache,
    GitCommit,
    GitHubClient,
    GitHubError,
    IssueInfo,
    PullInfo,
    RateLimit,
    RepoInfo,
    RetryPolicy,
    SarifStatus,
    TreeEntry,
)

__all__ = [
    "DEFAULT_API_URL",
    "MAX_ISSUE_BODY",
    "MAX_SARIF_GZIP_BYTES",
    "TOKEN_ENV",
    "EtagCache",
    "GitCommit",
    "GitHubClient",
    "GitHubError",
    "IssueInfo",
    "PullInfo",
    "RateLimit",
    "RepoInfo",
    "RetryPolicy",
    "SarifStatus",
    "TreeEntry",
]

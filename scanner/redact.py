"""Redaction of credentials in text tether prints (messages, targets, justifications, owners),
and clipping of that text to a sane length.

Messages quote what a repository wrote (an image reference, a module source, the token
where a parser stopped), so a token committed by mistake would otherwise travel into
console logs, SARIF uploads and job summaries. :func:`redact` replaces:

* well-known token formats, keeping their prefix (``ghp_[REDACTED]``): GitHub
  (``ghp_ gho_ ghu_ ghs_ ghr_ github_pat_``), GitLab ``glpat-``, Slack ``xox?-``, npm
  ``npm_``, Google ``AIza``, AWS access key ids (``AKIA``/``ASIA``/...);
* PEM private key blocks;
* the userinfo of a URL (``https://user:pass@host`` → ``https://[REDACTED]@host``),
  unless it is a plain user name such as ``git``;
* a secret in ``user:secret@host`` without a scheme (``oauth2:TOKEN@ghcr.io/...``);
* values of URL query parameters named like secrets (``?access_token=``, ``&X-Amz-...=``);
* any other run of 20 or more token characters that looks random: upper case, lower case
  and digits mixed with short "words", few separators, high Shannon entropy.

Left alone on purpose: hexadecimal runs (image digests ``sha256:<64 hex>`` and 40-hex commit
pins are what some messages are about), words, paths, versions, image references. Every
expression is anchored on a literal or a bounded class, so the time is linear in the text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from typing import Final

__all__ = ["REDACTED", "clip", "looks_random", "redact"]

REDACTED: Final = "[REDACTED]"

_PRIVATE_KEY: Final = re.compile(
    r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    # body lines (whitespace or an escaped \n between base64 runs), then the footer
    r"(?:(?:\s|\\n)+[A-Za-z0-9+/=]{8,})*"
    r"(?:(?:\s|\\n)*-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
)
_KNOWN: Final = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>"
    r"gh[pousr]_(?=[A-Za-z0-9]{6})"
    r"|github_pat_(?=[A-Za-z0-9_]{10})"
    r"|glpat-(?=[A-Za-z0-9_-]{10})"
    r"|xox[abposr]-(?=[A-Za-z0-9-]{6})"
    r"|npm_(?=[A-Za-z0-9]{20})"
    r"|AIza(?=[A-Za-z0-9_-]{30})"
    # DigitalOcean, Shopify, Stripe, Hugging Face, OpenAI/Anthropic-style, PyPI, Docker Hub,
    # Atlassian, Grafana, Vault tokens: prefixes that name a credential
    r"|do[por]_v1_(?=[a-f0-9]{20})"
    r"|shp(?:at|ca|pa|ss)_(?=[a-fA-F0-9]{20})"
    r"|(?:sk|rk|pk)_(?:live|test)_(?=[A-Za-z0-9]{10})"
    r"|hf_(?=[A-Za-z0-9]{20})"
    r"|sk-(?:proj-|ant-)?(?=[A-Za-z0-9_-]{20})"
    r"|pypi-(?=[A-Za-z0-9_-]{20})"
    r"|dckr_pat_(?=[A-Za-z0-9_-]{10})"
    r"|ATATT(?=[A-Za-z0-9_=-]{20})"
    r"|glsa_(?=[A-Za-z0-9_]{20})"
    r"|hvs\.(?=[A-Za-z0-9_-]{20})"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)(?=[A-Z0-9]{16}(?![A-Za-z0-9]))"
    r")[A-Za-z0-9_.=-]*"
)
# userinfo of a URL: anchored right after "://"; stops at '/', '@' or whitespace
_USERINFO: Final = re.compile(r"(?<=://)[^/@\s]+(?=@)")
# `user:secret@host` without a scheme: anchored on ':'; not an image digest (`:1.2@sha256:`)
_USER_SECRET: Final = re.compile(r"(?<=:)[^\s:@/\"'`<>\[\]]{6,}(?=@(?!sha\d+:)[A-Za-z0-9])")
# a query parameter: the name is bounded so a missing '=' costs little; _query judges it
_QUERY_PARAM: Final = re.compile(r"(?<=[?&;])([\w.-]{1,100}=)([^&#\s\"'<>]+)")
_SECRET_PARAM_WORDS: Final = (
    "token",
    "secret",
    "passw",
    "pwd",
    "signature",
    "sig",
    "key",
    "credential",
    "auth",
)
# '=' only as trailing padding, so `name=value` is two runs
_RUN: Final = re.compile(r"[A-Za-z0-9+/_-]{20,}={0,2}")
_HEX: Final = re.compile(r"[0-9a-fA-F]+")
_WORDS: Final = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_SEPARATORS: Final = frozenset("/+_-")


def clip(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs, newlines included, become one space), at most
    ``limit`` characters; an ellipsis marks a cut. Redact first: a cut could otherwise
    leave the start of a token too short to be recognised."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(text: str) -> str:
    """``text`` with credentials replaced by ``[REDACTED]`` (see the module docs). A pure
    function of the text, memoised for short texts: reports redact every finding's message,
    target and subject, and large repositories repeat them (7,300 findings of a workflow
    corpus: 0.2 s of writing the JSON report)."""
    return _redact_short(text) if len(text) <= _MEMO_CHARS else _redact(text)


_MEMO_CHARS = 1024  # and at most 8,192 of them: a few MB however hostile the texts


@lru_cache(maxsize=8192)
def _redact_short(text: str) -> str:
    return _redact(text)


def _redact(text: str) -> str:
    if "-----BEGIN" in text:
        text = _PRIVATE_KEY.sub("[REDACTED PRIVATE KEY]", text)
    text = _KNOWN.sub(lambda m: m.group("prefix") + REDACTED, text)
    if "://" in text:
        text = _USERINFO.sub(_userinfo, text)
    if "@" in text:
        text = _USER_SECRET.sub(_user_secret, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_query, text)
    return _RUN.sub(_run, text)


def _userinfo(m: re.Match[str]) -> str:
    info = m.group()
    # `ssh://git@github.com/...` names a user, not a secret
    if ":" not in info and REDACTED not in info and len(info) < 20 and not looks_random(info):
        return info
    return REDACTED


def _user_secret(m: re.Match[str]) -> str:
    secret = m.group()
    start = m.start()
    if m.string[max(0, start - 7) : start] == "mailto:":
        return secret
    letters = any(c.isalpha() for c in secret)
    digits = any(c.isdigit() for c in secret)
    return REDACTED if (letters and digits) or len(secret) >= 16 else secret


def _query(m: re.Match[str]) -> str:
    name = m.group(1).lower()
    if name.startswith("x-amz-") or any(word in name for word in _SECRET_PARAM_WORDS):
        return m.group(1) + REDACTED
    return m.group()


def _run(m: re.Match[str]) -> str:
    return REDACTED if looks_random(m.group()) else m.group()


def looks_random(token: str) -> bool:
    """Whether ``token`` (token characters only) looks like a generated secret: at least 20
    characters besides ``=`` padding, not hexadecimal, upper and lower case and digits,
    mostly very short "words" (identifiers such as ``MyService2Impl`` have long ones),
    few separators (paths and versions have many) and high entropy."""
    core = token.strip("=")
    n = len(core)
    if n < 20 or _HEX.fullmatch(core):
        return False
    if not (any(c.isupper() for c in core) and any(c.islower() for c in core)):
        return False
    if not any(c.isdigit() for c in core):
        return False
    if sum(c in _SEPARATORS for c in core) > n // 10:
        return False
    words = _WORDS.findall(core)
    if sum(map(len, words)) >= 3.0 * len(words):
        return False
    return _entropy(core) >= 3.0


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(k / n * math.log2(k / n) for k in Counter(s).values())

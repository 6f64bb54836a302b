"""Parse container image references the way Docker does.

The grammar and normalisation follow ``github.com/distribution/reference``
(``ParseNormalizedNamed``), so that ``nginx``, ``docker.io/nginx`` and
``index.docker.io/library/nginx`` all compare equal after parsing. Policies
match on the normalised parts, never on the raw string.

Grammar (from distribution/reference)::

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [domain '/'] remote-name
    domain         := host [':' port-number]
    host           := domain-name | '[' IPv6 ']'
    remote-name    := path-component ['/' path-component]*
    path-component := [a-z0-9]+ (separator [a-z0-9]+)*
    separator      := [._] | '__' | '-'+
    tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest         := algorithm ':' hex{32,}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_REGISTRY", "DEFAULT_TAG", "ImageRef", "is_templated", "parse_image"]

DEFAULT_REGISTRY: Final = "docker.io"
DEFAULT_TAG: Final = "latest"
# Docker Hub is also addressed by its legacy "index" name; Docker rewrites it.
_LEGACY_REGISTRY: Final = "index.docker.io"
_OFFICIAL_PREFIX: Final = "library/"
_NAME_TOTAL_LENGTH_MAX: Final = 255

# re.ASCII: Go's \w and character classes are ASCII-only; Python's are Unicode.
_DOMAIN_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE: Final = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
    re.ASCII,
)
_PATH_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REMOTE_RE: Final = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_TAG_RE: Final = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_DIGEST_RE: Final = re.compile(
    r"(?P<alg>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]{32,})",
    re.ASCII,
)
# go-digest refuses registered algorithms whose encoding has the wrong length or case;
# unknown algorithms are accepted as long as they match the reference grammar.
_KNOWN_DIGESTS: Final = MappingProxyType(
    {
        "sha256": re.compile(r"[a-f0-9]{64}"),
        "sha384": re.compile(r"[a-f0-9]{96}"),
        "sha512": re.compile(r"[a-f0-9]{128}"),
    }
)
# A bare 64-hex string is an image ID, not a name; Docker refuses it as a name.
_IDENTIFIER_RE: Final = re.compile(r"[a-f0-9]{64}")
# `node:sha256:<hex>`: a digest written where the tag goes
_MISPLACED_DIGEST_RE: Final = re.compile(r":(?:sha256|sha384|sha512):[0-9a-fA-F]+$")
_TEMPLATE_RE: Final = re.compile(r"\$|\{\{")
_WHITESPACE_RE: Final = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed, normalised image reference.

    ``repository`` never includes the registry (``library/nginx``, ``acme/api``);
    use :attr:`name` for the fully-qualified name without tag or digest.
    """

    raw: str
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Fully-qualified name without tag or digest, e.g. ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def tag_or_default(self) -> str | None:
        """The tag Docker would pull: ``latest`` when neither tag nor digest is given.

        A digest-only reference has no tag, so this is ``None`` for it.
        """
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG
        return self.tag

    def to_dict(self) -> dict[str, str | None]:
        """Plain-dict form for CEL and reports, with the derived ``name``/``tag_or_default``."""
        return {
            "raw": self.raw,
            "registry": self.registry,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "name": self.name,
            "tag_or_default": self.tag_or_default,
        }


def is_templated(ref: str) -> bool:
    """True when ``ref`` still contains an unresolved variable (``$VAR``, ``${VAR}``, ``{{ }}``).

    Such references come from Helm charts, compose files and CI YAML; they cannot be
    judged until rendered, so callers usually skip rather than report them.
    """
    return bool(_TEMPLATE_RE.search(ref))


def parse_image(ref: str) -> ImageRef:
    """Parse and normalise an image reference; raise ``ValueError`` if it is invalid."""
    if not isinstance(ref, str):
        raise ValueError(f"invalid image reference {ref!r}: expected a string")
    if not ref:
        raise ValueError("invalid image reference: empty string")
    if is_templated(ref):
        raise ValueError(
            f"invalid image reference {ref!r}: contains an unresolved template variable"
        )
    if _WHITESPACE_RE.search(ref):
        raise ValueError(f"invalid image reference {ref!r}: contains whitespace")
    if _IDENTIFIER_RE.fullmatch(ref):
        raise ValueError(
            f"invalid image reference {ref!r}: a 64-character hex string is an image ID, not a name"
        )

    if "@" not in ref and _MISPLACED_DIGEST_RE.search(ref):
        raise ValueError(
            f"invalid image reference {ref!r}: a digest follows '@', not ':' "
            "(name@sha256:<64 hex chars>, or name:tag@sha256:...)"
        )
    name_part, at, digest = ref.partition("@")
    digest_value: str | None = None
    if at:
        digest_value = _check_digest(ref, digest)

    # The tag separator is the last ':' after the last '/': an earlier ':' is a registry port.
    tag_value: str | None = None
    colon = name_part.rfind(":")
    if colon > name_part.rfind("/"):
        tag_value = name_part[colon + 1 :]
        name_part = name_part[:colon]
        if not _TAG_RE.fullmatch(tag_value):
            raise ValueError(
                f"invalid image reference {ref!r}: invalid tag {tag_value!r} "
                "(1-128 of [A-Za-z0-9_.-], not starting with '.' or '-')"
            )
    if not name_part:
        raise ValueError(f"invalid image reference {ref!r}: missing repository name")

    registry, repository = _split_registry(name_part)
    # Checked before the grammar so that "Nginx" gets the helpful message, as in Docker.
    if repository.lower() != repository:
        raise ValueError(
            f"invalid image reference {ref!r}: repository name {repository!r} must be lowercase"
        )
    if not _DOMAIN_RE.fullmatch(registry):
        raise ValueError(f"invalid image reference {ref!r}: invalid registry {registry!r}")
    if not _REMOTE_RE.fullmatch(repository):
        raise ValueError(
            f"invalid image reference {ref!r}: invalid repository name {repository!r} "
            "(lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-')"
        )
    if len(registry) + 1 + len(repository) > _NAME_TOTAL_LENGTH_MAX:
        raise ValueError(
            f"invalid image reference {ref!r}: name longer than {_NAME_TOTAL_LENGTH_MAX} characters"
        )
    return ImageRef(
        raw=ref, registry=registry, repository=repository, tag=tag_value, digest=digest_value
    )


def _check_digest(ref: str, digest: str) -> str:
    match = _DIGEST_RE.fullmatch(digest)
    if match is None:
        raise ValueError(
            f"invalid image reference {ref!r}: invalid digest {digest!r} "
            "(expected algorithm:hex, e.g. sha256:<64 hex chars>)"
        )
    known = _KNOWN_DIGESTS.get(match["alg"])
    if known is not None and not known.fullmatch(match["hex"]):
        raise ValueError(
            f"invalid image reference {ref!r}: {match['alg']} digest must be "
            "lowercase hex of the algorithm's length"
        )
    return digest


def _split_registry(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: decide whether the first component is a registry."""
    first, slash, rest = name.partition("/")
    if not slash:
        # A single component is always a Docker Hub official image ("nginx", even "localhost").
        return DEFAULT_REGISTRY, _OFFICIAL_PREFIX + name
    if first == _LEGACY_REGISTRY:
        registry, repository = DEFAULT_REGISTRY, rest
    elif first == "localhost" or "." in first or ":" in first or first.lower() != first:
        # Hub namespaces are lowercase, so Docker takes an uppercase first component to be
        # a host name (then validated by the domain grammar) rather than rejecting it.
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = _OFFICIAL_PREFIX + repository
    return registry, repository

"""Tests for scanner.imageref: Docker reference parsing and normalisation."""

from __future__ import annotations

import dataclasses

import pytest

from scanner.imageref import DEFAULT_REGISTRY, ImageRef, is_templated, parse_image

SHA = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag", "digest"),
    [
        # Docker Hub official images get "library/".
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
        ("nginx:latest", "docker.io", "library/nginx", "latest", None),
        ("docker.io/nginx", "docker.io", "library/nginx", None, None),
        ("docker.io/library/nginx:1", "docker.io", "library/nginx", "1", None),
        ("index.docker.io/nginx", "docker.io", "library/nginx", None, None),
        ("index.docker.io/acme/api:v2", "docker.io", "acme/api", "v2", None),
        # Hub user/org images keep their namespace.
        ("acme/api", "docker.io", "acme/api", None, None),
        ("acme/api:v1.2.3", "docker.io", "acme/api", "v1.2.3", None),
        ("acme/team/api", "docker.io", "acme/team/api", None, None),
        # First component is a registry when it has '.', ':' or is localhost.
        ("ghcr.io/org/repo:main", "ghcr.io", "org/repo", "main", None),
        ("quay.io/prometheus/node-exporter", "quay.io", "prometheus/node-exporter", None, None),
        ("gcr.io/distroless/static:nonroot", "gcr.io", "distroless/static", "nonroot", None),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
        ("host:5000/a/b", "host:5000", "a/b", None, None),
        ("host:5000/a/b:tag", "host:5000", "a/b", "tag", None),
        (f"host:5000/a/b:tag@{SHA}", "host:5000", "a/b", "tag", SHA),
        ("127.0.0.1:5000/img", "127.0.0.1:5000", "img", None, None),
        ("[::1]:5000/img:1", "[::1]:5000", "img", "1", None),
        ("[2001:db8::1]/img", "[2001:db8::1]", "img", None, None),
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc:abc",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "svc",
            "abc",
            None,
        ),
        # Registry hosts may be mixed case; Docker treats an uppercase first component as a host.
        ("Registry.Example.com/app", "Registry.Example.com", "app", None, None),
        ("MyHost/app", "MyHost", "app", None, None),
        # Digest only, tag only, both.
        (f"nginx@{SHA}", "docker.io", "library/nginx", None, SHA),
        (f"nginx:1.25@{SHA}", "docker.io", "library/nginx", "1.25", SHA),
        (f"ghcr.io/o/r@{SHA512}", "ghcr.io", "o/r", None, SHA512),
        ("ghcr.io/o/r@sha384:" + "c" * 96, "ghcr.io", "o/r", None, "sha384:" + "c" * 96),
        # Unknown digest algorithms are accepted if they fit the grammar.
        (
            "ghcr.io/o/r@multihash+base58:" + "f" * 32,
            "ghcr.io",
            "o/r",
            None,
            "multihash+base58:" + "f" * 32,
        ),
        # Separators in path components.
        ("a/b.c_d__e---f", "docker.io", "a/b.c_d__e---f", None, None),
        # Tags allow uppercase, '_', '.', '-' (not leading '.'/'-').
        ("nginx:Stable_1.2-x", "docker.io", "library/nginx", "Stable_1.2-x", None),
        ("nginx:_x", "docker.io", "library/nginx", "_x", None),
        ("nginx:" + "t" * 128, "docker.io", "library/nginx", "t" * 128, None),
        # Docker's known quirk: a lone "localhost:5000" is image "localhost", tag "5000".
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),
        # Likewise a lone host-looking name is a Hub official image, as in Docker.
        ("ghcr.io", "docker.io", "library/ghcr.io", None, None),
    ],
)
def test_parse_valid(
    ref: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    parsed = parse_image(ref)
    assert parsed.raw == ref
    assert parsed.registry == registry
    assert parsed.repository == repository
    assert parsed.tag == tag
    assert parsed.digest == digest


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("", "empty"),
        (" ", "whitespace"),
        ("nginx ", "whitespace"),
        (" nginx", "whitespace"),
        ("ng inx", "whitespace"),
        ("nginx:\t1", "whitespace"),
        ("nginx\n", "whitespace"),
        ("${IMAGE}", "template"),
        ("$IMAGE", "template"),
        ("repo/app:${TAG}", "template"),
        ("{{ .Values.image }}", "template"),
        ("ghcr.io/{{org}}/app", "template"),
        ("${{ env.IMAGE }}", "template"),
        ("NGINX", "must be lowercase"),
        ("Nginx:1", "must be lowercase"),
        ("acme/API", "must be lowercase"),
        ("ghcr.io/Org/app", "must be lowercase"),
        ("a" * 64, "image ID"),
        (":tag", "missing repository"),
        ("@" + SHA, "missing repository"),
        ("nginx:", "invalid tag"),
        ("nginx:-x", "invalid tag"),
        ("nginx:.x", "invalid tag"),
        ("nginx:" + "t" * 129, "invalid tag"),
        ("nginx:a+b", "invalid tag"),
        ("nginx@", "invalid digest"),
        ("nginx@sha256", "invalid digest"),
        ("nginx@sha256:abc", "invalid digest"),
        ("nginx@sha256:" + "g" * 64, "invalid digest"),
        ("nginx@sha256:" + "a" * 63, "sha256 digest"),
        ("nginx@sha256:" + "a" * 65, "sha256 digest"),
        ("nginx@sha256:" + "A" * 64, "sha256 digest"),
        ("nginx@1sha:" + "a" * 64, "invalid digest"),
        (f"nginx@{SHA}@{SHA}", "invalid digest"),
        ("nginx:1@", "invalid digest"),
        ("acme//api", "invalid repository"),
        ("acme/api/", "invalid repository"),
        ("/acme/api", "invalid repository"),
        ("acme/-api", "invalid repository"),
        ("acme/api-", "invalid repository"),
        ("acme/a..b", "invalid repository"),
        ("acme/a___b", "invalid repository"),
        ("acme/a+b", "invalid repository"),
        ("-host.io/app", "invalid registry"),
        ("host-.io/app", "invalid registry"),
        ("host.io:port/app", "invalid registry"),
        ("ho_st.io/app", "invalid registry"),
        ("[zz::1]/app", "invalid registry"),
        ("ghcr.io/", "invalid repository"),
        ("nginx:1:2", "invalid repository"),
        ("caf\u00e9/app", "invalid repository"),
        ("acme/" + "a" * 250, "longer than 255"),
    ],
)
def test_parse_invalid(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_image(ref)


def test_invalid_messages_name_the_reference() -> None:
    with pytest.raises(ValueError, match=r"invalid image reference 'acme/API'"):
        parse_image("acme/API")


def test_non_string_is_rejected_with_value_error() -> None:
    with pytest.raises(ValueError, match="expected a string"):
        parse_image(None)  # type: ignore[arg-type]


def test_name_length_limit_counts_normalised_name() -> None:
    # docker.io/ (10 chars) + 245 = 255 is the maximum.
    assert parse_image("acme/" + "a" * 240).repository == "acme/" + "a" * 240
    with pytest.raises(ValueError, match="longer than 255"):
        parse_image("acme/" + "a" * 241)


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1@" + SHA, "docker.io/library/nginx"),
        ("acme/api:v1", "docker.io/acme/api"),
        ("host:5000/a/b:tag", "host:5000/a/b"),
        ("localhost/x", "localhost/x"),
    ],
)
def test_name(ref: str, name: str) -> None:
    assert parse_image(ref).name == name


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("nginx", "latest"),
        ("ghcr.io/o/r", "latest"),
        ("nginx:1.25", "1.25"),
        (f"nginx@{SHA}", None),
        (f"nginx:1.25@{SHA}", "1.25"),
    ],
)
def test_tag_or_default(ref: str, expected: str | None) -> None:
    assert parse_image(ref).tag_or_default == expected


def test_to_dict() -> None:
    ref = f"host:5000/a/b:tag@{SHA}"
    assert parse_image(ref).to_dict() == {
        "raw": ref,
        "registry": "host:5000",
        "repository": "a/b",
        "tag": "tag",
        "digest": SHA,
        "name": "host:5000/a/b",
        "tag_or_default": "tag",
    }


def test_to_dict_defaults() -> None:
    assert parse_image("nginx").to_dict() == {
        "raw": "nginx",
        "registry": DEFAULT_REGISTRY,
        "repository": "library/nginx",
        "tag": None,
        "digest": None,
        "name": "docker.io/library/nginx",
        "tag_or_default": "latest",
    }


def test_equivalent_spellings_normalise_equal() -> None:
    spellings = ["nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/nginx"]
    assert {parse_image(s).name for s in spellings} == {"docker.io/library/nginx"}
    # Raw differs, so the dataclasses themselves differ; compare normalised parts.
    assert len({parse_image(s) for s in spellings}) == len(spellings)


def test_imageref_is_frozen_slotted_and_hashable() -> None:
    parsed = parse_image("nginx:1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.tag = "2"  # type: ignore[misc]
    assert not hasattr(parsed, "__dict__")
    assert parsed == ImageRef("nginx:1", "docker.io", "library/nginx", "1", None)
    assert hash(parsed) == hash(parse_image("nginx:1"))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("${IMAGE}", True),
        ("$IMAGE", True),
        ("repo:${TAG:-latest}", True),
        ("{{ .Values.image.repository }}:{{ .Values.image.tag }}", True),
        ("${{ matrix.image }}", True),
        ("repo/app:$(git rev-parse HEAD)", True),
        ("nginx", False),
        ("nginx:1.25", False),
        ("ghcr.io/o/r@" + SHA, False),
        ("{single}", False),
        ("", False),
    ],
)
def test_is_templated(ref: str, expected: bool) -> None:
    assert is_templated(ref) is expected

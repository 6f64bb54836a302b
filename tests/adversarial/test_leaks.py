"""Issue 7, item 16: a token committed by mistake is not printed back.

Messages quote repository text (where a parser stopped, an invalid image reference), so every
output (console text, JSON, SARIF, Markdown) and every configuration error is redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from scanner.config import RepoConfig
from scanner.errors import MAX_MESSAGE, ConfigError
from scanner.model import Report
from scanner.redact import REDACTED, clip, looks_random, redact
from scanner.report import jsonreport, markdown, sarif, text
from scanner.scanning import ScanOptions, scan

MakeRepo = Callable[[Mapping[str, str]], Path]

# fixed, random-looking test tokens (not real credentials)
GH_TOKEN = "ghp_" + "Q7vKx2LmN9pRt4WzYb8HcJ3dFs6GaE1uXo5T"
GH_PAT = "github_pat_11AAQ7VKX0" + "mN9pRt4WzYb8HcJ3dFs6GaE1uXo5TqLk2" + "_" + "Vb7Nc4Xz9" * 6
AWS_KEY = "AKIA" + "Q7VKX2LMN9PRT4WZ"
AWS_SECRET = "Zk3xV9qL7mNp2Rt8Wb4Yc6Hd1Jf5Gs0Ae/Ku+To8Qz"
SLACK = "xoxb-" + "2048619375-4096381726543-Q7vKx2LmN9pRt4WzYb8HcJ3d"


def _outputs(report: Report) -> str:
    """Everything tether writes about a report, in every format."""
    return "\n".join(
        [
            text.render(report),
            json.dumps(jsonreport.build(report), ensure_ascii=False),
            json.dumps(sarif.build(report, include_excepted=True), ensure_ascii=False),
            markdown.render(report),
        ]
    )


def _assert_not_leaked(secret: str, output: str) -> None:
    body = secret.split("_")[-1] if secret.startswith("gh") else secret
    assert secret not in output
    # nor a telling part of it: no 12 characters in a row of its random part
    for i in range(len(body) - 11):
        assert body[i : i + 12] not in output, body[i : i + 12]


def test_terraform_syntax_error_at_a_token_does_not_print_it(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "main.tf": (
                'provider "github" {\n'
                f'  token = "{GH_TOKEN}" "stray"\n'  # a syntax error right at the token
                "}\n"
            )
        }
    )
    report = scan(repo, ScanOptions(jobs=1), config=RepoConfig())
    assert [d.code for d in report.diagnostics] == ["parse-error"]
    out = _outputs(report)
    assert "ghp_" + REDACTED in out  # the message still says what kind of thing it was
    _assert_not_leaked(GH_TOKEN, out)


def test_kubernetes_image_with_credentials_does_not_print_them(make_repo: MakeRepo) -> None:
    repo = make_repo(
        {
            "k8s/pod.yaml": (
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
                "  labels: {team: a, app.kubernetes.io/name: p}\n"
                "spec:\n  containers:\n    - name: c\n"
                f"      image: oauth2:{GH_TOKEN}@ghcr.io/acme/app:1\n"
            )
        }
    )
    report = scan(repo, ScanOptions(jobs=1), config=RepoConfig())
    invalid = [f for f in report.findings if f.rule_id == "K8S001"]
    assert invalid and "ghcr.io/acme/app:1" in invalid[0].message  # still located and useful
    _assert_not_leaked(GH_TOKEN, _outputs(report))


def test_config_error_is_redacted_and_clipped() -> None:
    e = ConfigError(
        ".tether.yaml", 3, f"baseline: cannot read https://ci:{GH_TOKEN}@example.com/b.yml"
    )
    assert GH_TOKEN not in str(e) and GH_TOKEN[4:] not in e.message
    assert "https://[REDACTED]@example.com/b.yml" in e.message
    long = ConfigError("x.yml", None, "exclude: " + "a/very/long/glob/" * 200 + "\nsecond line")
    assert len(long.message) <= MAX_MESSAGE and long.message.endswith("…")
    assert "\n" not in str(long)
    # redacted before clipping: a cut cannot leave a token's start unrecognised
    near_cut = ConfigError("x.yml", 1, "y" * (MAX_MESSAGE - 20) + " " + GH_TOKEN)
    assert GH_TOKEN[4:20] not in near_cut.message


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (f"token {GH_TOKEN} here", "ghp_[REDACTED]", GH_TOKEN[4:]),
        (f"pat {GH_PAT}", "github_pat_[REDACTED]", GH_PAT[11:]),
        (f"key {AWS_KEY} secret {AWS_SECRET}", "AKIA[REDACTED]", AWS_SECRET),
        (f"slack {SLACK}", "xoxb-[REDACTED]", SLACK[5:]),
        (
            "https://alice:hunter2@git.example.com/x.git",
            "https://[REDACTED]@git.example.com/x.git",
            "hunter2",
        ),
        (f"image oauth2:{GH_TOKEN}@ghcr.io/acme/app:1", "@ghcr.io/acme/app:1", GH_TOKEN[4:]),
        (
            "image deploy:S3cretPassw0rd@registry.example.com/app:1",
            "deploy:[REDACTED]@registry.example.com",
            "S3cretPassw0rd",
        ),
        (
            "https://example.com/m.zip?access_token=TOKQUERY&ref=v1",
            "?access_token=[REDACTED]&ref=v1",
            "TOKQUERY",
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA75abcd\nQ7vKx2LmN9pRt4Wz\n"
            "-----END RSA PRIVATE KEY----- found",
            "[REDACTED PRIVATE KEY] found",
            "MIIEpAIBAAKCAQEA",
        ),
        (
            'value "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.Q7vKx2LmN9pRt4WzYb8HcJ3d"',
            'value "[REDACTED].[REDACTED].[REDACTED]"',
            "eyJhbGciOiJIUzI1NiJ9",
        ),
    ],
)
def test_redact_replaces_secrets(text: str, kept: str, gone: str) -> None:
    out = redact(text)
    assert kept in out and gone not in out


@pytest.mark.parametrize(
    "text",
    [
        "nginx:1.25@sha256:" + "0123456789abcdef" * 4,  # an image digest
        "actions/checkout@" + "b4ffde65f46336ab88eb53be808477a3936bae11",  # a commit pin
        "pin acme/deploy to 8f4b7f84864484a7bf31766abe9204da3cbe65b3 (v3.2.1)",
        "ssh://git@github.com/acme/modules.git//vpc?ref=v5.8.1",
        "src/main/java/com/Acme/Service1Impl.java and MyVeryLongClassNameForTesting2",
        "module terraform-aws-modules/vpc/aws ~> 5.0 is 3 minor versions behind 5.8.1",
        "app-v2-deployment-7d9f8b6c5d-x7k2p in kube-system uses node:20-alpine@sha256:" + "e" * 64,
        "ghcr.io/acme/BillingService2:1.2.3-rc.1+build.20240101",
        "registry.k8s.io/ingress-nginx/controller:v1.11.2@sha256:" + "d" * 64,
        "contact mailto:alice@example.com or platform@acme.io",
        'Container "c" of Deployment/payments/api-server-v2 may run as root',
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_looks_random() -> None:
    assert looks_random("Q7vKx2LmN9pRt4WzYb8HcJ3dFs6GaE1uXo5T")
    assert looks_random(AWS_SECRET)
    assert not looks_random("0123456789abcdef0123456789abcdef01234567")  # hex: a sha
    assert not looks_random("HTTPServerConfig2FactorAuth")  # an identifier
    assert not looks_random("v1-2-3-alpha-RC1-build20240101")  # separators: a version
    assert not looks_random("Short1Aa")


@pytest.mark.parametrize(
    "text",
    [
        "a" * 200_000,
        "?" + "key" * 60_000,
        "://" + "a" * 200_000,
        ":" + "a1" * 100_000 + "@",
        "-----BEGIN PRIVATE KEY-----" + " \\n" * 60_000,
        "Ab1/" * 50_000,
        "?a=b&" * 40_000,
        "@" * 200_000,
    ],
)
def test_redact_is_fast_on_hostile_text(text: str) -> None:
    import time

    start = time.perf_counter()
    redact(text)
    assert time.perf_counter() - start < 0.5


def test_clip() -> None:
    assert clip("a\n b\t c", 10) == "a b c"
    assert clip("x" * 50, 10) == "x" * 9 + "…"


def test_a_token_committed_as_a_file_name_is_not_printed(tmp_path: Path) -> None:
    """Attack review: paths were never redacted on the console (SARIF and JSON keep the real
    path, which locates the file)."""
    token = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / f"{token}.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: c\n      image: evil.example/x:1\n"
    )
    report = scan(root, ScanOptions())
    assert any(token in f.path for f in report.findings)
    assert token not in text.render(report)


@pytest.mark.parametrize(
    "token",
    [
        "dop_v1_" + "a1b2" * 16,
        "shpat_" + "ab12" * 8,
        "sk-proj-" + "Ab1_" * 10,
        "hvs." + "AbCd1234" * 3,
        "sk_live_" + "Ab12" * 6,
        "pypi-" + "AgEIcHlwaS5vcmc" * 2,
    ],
)
def test_provider_tokens_are_redacted(token: str) -> None:
    """Attack round 2: lower-case and hex tokens of known providers were printed."""
    assert token not in redact(f"module source = https://example.com/?x={token} and {token}")

"""Issue 7, item 8: configuration and exception files were read by following links out of the
repository, without a size cap, and their schema errors printed the file.

A committed `.tether/exceptions.yaml -> ~/.config/gh/hosts.yml` was read, and the schema error
(jsonschema's message starts with repr(instance)) printed the whole target, tokens included:
in the GitHub Action, as a pull-request annotation. Now a repository's file must resolve inside
the repository, be a regular file and at most 5 MiB, and no error message quotes a document
beyond a clipped key."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner import ConfigError, ScanOptions, scan
from scanner.policy import documents
from scanner.policy.documents import load_yaml, validate
from scanner.source import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_" + "Q7x9mK2pLw4vN8rT1sYb6Zc3Hd5Fg0Jk2Lm4"
PAT = "github_pat_11ABCDEFG0" + "a1B2c3D4e5F6g7H8i9J0" * 4  # longer than any excerpt
HOSTS = f"github.com:\n  user: octocat\n  oauth_token: {TOKEN}\n  git_protocol: https\n"
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app.kubernetes.io/name: p, team: t, cost-center: c}
spec:
  containers:
    - name: c
      image: nginx:latest
"""


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path opened while the fixture is active (os.open and open)."""
    seen: list[str] = []
    real_os_open, real_open = os.open, builtins.open

    def os_open(path: Any, *a: Any, **k: Any) -> int:
        seen.append(os.fspath(path) if not isinstance(path, int) else "")
        return real_os_open(path, *a, **k)

    def open_(file: Any, *a: Any, **k: Any) -> Any:
        seen.append(os.fspath(file) if not isinstance(file, int) else "")
        return real_open(file, *a, **k)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    yield seen


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".tether").mkdir(parents=True)
    (repo / "pod.yaml").write_text(POD)
    return repo


def _outcome(repo: Path) -> str:
    """Everything a scan says: findings, diagnostics, or the configuration error."""
    try:
        report = scan(repo, ScanOptions())
    except ConfigError as e:
        return f"ConfigError {e}"
    return "\n".join([f.message for f in report.findings] + [d.message for d in report.diagnostics])


def test_exceptions_file_linked_out_of_the_repository_is_not_read(
    tmp_path: Path, opened: list[str]
) -> None:
    outside = tmp_path / "home" / ".config" / "gh" / "hosts.yml"
    outside.parent.mkdir(parents=True)
    outside.write_text(HOSTS)
    repo = _repo(tmp_path)
    (repo / ".tether" / "exceptions.yaml").symlink_to(outside)
    said = _outcome(repo)
    assert TOKEN not in said
    assert "symbolic link" in said, said
    assert not any(os.path.realpath(p) == str(outside.resolve()) for p in opened if p)


def test_exceptions_file_linked_out_is_not_read_by_the_cli(tmp_path: Path) -> None:
    outside = tmp_path / "hosts.yml"
    outside.write_text(HOSTS)
    repo = _repo(tmp_path)
    (repo / ".tether" / "exceptions.yaml").symlink_to(outside)
    for fmt in ("text", "json", "sarif"):
        proc = _cli("scan", str(repo), "--format", fmt)
        assert TOKEN not in proc.stdout + proc.stderr
        assert "oauth_token" not in proc.stdout + proc.stderr


def test_a_link_inside_the_repository_is_followed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "conf").mkdir()
    (repo / "conf" / "tether.yaml").write_text("exclude: [vendor/**]\n")
    (repo / ".tether.yaml").symlink_to("conf/tether.yaml")
    data, _ = load_yaml(repo / ".tether.yaml", ".tether.yaml", root=repo)
    assert data == {"exclude": ["vendor/**"]}


@pytest.mark.parametrize("target", ["../outside.yaml", "/etc/hostname", "missing.yaml"])
def test_links_out_or_to_nothing_are_config_errors(tmp_path: Path, target: str) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "outside.yaml").write_text(HOSTS)
    (repo / ".tether.yaml").symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link") as exc:
        load_yaml(repo / ".tether.yaml", ".tether.yaml", root=repo)
    assert exc.value.message.endswith("not read")
    assert TOKEN not in str(exc.value)


def test_a_linked_directory_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "gh"
    outside.mkdir()
    (outside / "exceptions.yaml").write_text(HOSTS)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".tether").symlink_to(outside)
    with pytest.raises(ConfigError, match="out of the repository"):
        load_yaml(repo / ".tether" / "exceptions.yaml", "x", root=repo)


EXCEPTION = """\
- rule: K8S003
  scope: {path: pod.yaml}
  justification: Vendor image only published as latest; mirror tracked in PLAT-9.
  owner: team-a
  approved_by: platform
  expires: 2099-01-01
"""


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HOSTS, 1),  # a whole credentials file where the exceptions belong
        (f"exceptions: {TOKEN}\n", 1),  # a secret where a list belongs
        (f"- {TOKEN}\n", 1),  # a secret where a record belongs
        (EXCEPTION + f"  oauth_token: {TOKEN}\n", 7),  # an unexpected key beside a secret
        (EXCEPTION.replace("K8S003", TOKEN), 1),  # a secret as a rule id
        (EXCEPTION.replace("2099-01-01", TOKEN), 6),  # a secret as a date
        (EXCEPTION.replace("team-a", f"[{TOKEN}]"), 4),  # a secret in a list, not a string
        (f"- rule: K8S003\n  {PAT}: x\n", 2),  # a secret as a key: clipped
        (f'- rule: "{TOKEN}\n', 1),  # invalid YAML around a secret
        (EXCEPTION + f"- rule: K8S003\n  rule: {TOKEN}\n", 8),  # duplicate key
    ],
)
def test_a_malformed_exceptions_file_error_does_not_quote_it(
    tmp_path: Path, text: str, line: int
) -> None:
    repo = _repo(tmp_path)
    (repo / ".tether" / "exceptions.yaml").write_text(text)
    said = _outcome(repo)
    assert said.startswith("ConfigError .tether/exceptions.yaml"), said
    assert f"exceptions.yaml:{line}: " in said, said
    assert TOKEN not in said and PAT not in said
    assert len(said) < 400, said


def test_schema_errors_name_the_problem_not_the_value() -> None:
    """Each kind of violation in words from the schema, with file and line."""
    cases = {
        "exceptions: {rule: x}\n": "expected a list, found a mapping",
        "- rule: K8S003\n  colour: blue\n": "unexpected key 'colour'",
        "- scope: {path: a}\n": "'rule' is required",
    }
    for text, needle in cases.items():
        data, node = documents.parse_yaml(text, "f.yaml")
        with pytest.raises(ConfigError) as exc:
            validate("exceptions", data, node, "f.yaml")
        assert needle in exc.value.message, exc.value.message
        assert exc.value.file == "f.yaml" and exc.value.line is not None


def test_a_long_key_is_clipped(tmp_path: Path) -> None:
    key = "k" * 500
    data, node = documents.parse_yaml(f"- rule: K8S003\n  {key}: 1\n", "f.yaml")
    with pytest.raises(ConfigError) as exc:
        validate("exceptions", data, node, "f.yaml")
    assert "k" * 41 not in str(exc.value)
    assert exc.value.line == 2


def test_yaml_errors_quote_at_most_a_clipped_excerpt() -> None:
    from scanner.parsers.yaml import Span, YamlError

    e = YamlError(f"found undefined alias '{TOKEN * 3}'", Span(1, 1, 1, 2))
    msg = documents.yaml_message(e)
    assert TOKEN not in msg and len(msg) <= 200


def test_duplicate_keys_in_tethers_own_documents_are_config_errors(tmp_path: Path) -> None:
    f = tmp_path / ".tether.yaml"
    f.write_text("exclude: [a/**]\nfail_on: error\nexclude: [b/**]\n")
    with pytest.raises(
        ConfigError, match=r"duplicate key 'exclude' \(first given at line 1\)"
    ) as e:
        load_yaml(f, ".tether.yaml")
    assert e.value.line == 3
    # nested, and in a sequence's mappings; merge keys are not duplicates
    f.write_text("a: &x {k: 1}\nb:\n  <<: *x\n  k: 2\nc:\n  - {n: 1, m: 2}\n  - {n: 1, n: 3}\n")
    with pytest.raises(ConfigError, match="duplicate key 'n'") as e:
        load_yaml(f, "f")
    assert e.value.line == 7


def _within(seconds: float, fn: Any) -> Any:
    """fn's result (or its exception), failing the test if it has not returned in time."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as e:  # handed back to the test
            out.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "blocked"
    return out[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_config_does_not_hang(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    os.mkfifo(repo / ".tether.yaml")
    os.mkfifo(repo / ".tether" / "exceptions.yaml")
    for name in (".tether.yaml", ".tether/exceptions.yaml"):
        got = _within(10, lambda n=name: load_yaml(repo / n, n, root=repo))
        assert isinstance(got, ConfigError) and "not a regular file" in got.message
        got = _within(10, lambda n=name: load_yaml(repo / n, n))  # operator files too
        assert isinstance(got, ConfigError) and "not a regular file" in got.message
    (repo / "conf.yaml").symlink_to(".tether.yaml")  # a link to a FIFO inside the repository
    got = _within(10, lambda: load_yaml(repo / "conf.yaml", "conf.yaml", root=repo))
    assert isinstance(got, ConfigError) and "not a regular file" in got.message
    proc = _cli("scan", str(repo), timeout=120)  # the whole scan returns
    assert proc.returncode in (0, 1, 2), proc.stderr


def test_an_oversized_config_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    big = repo / ".tether.yaml"
    line = "# " + "x" * 1021 + "\n"
    with big.open("w") as fh:
        fh.write("exclude: [vendor/**]\n")
        for _ in range(6 * 1024):
            fh.write(line)
    assert big.stat().st_size > MAX_FILE_BYTES
    for root in (repo, None):
        with pytest.raises(ConfigError) as exc:
            load_yaml(big, ".tether.yaml", root=root)
        assert exc.value.message == "file is 6.0 MiB, over the 5.0 MiB limit; not read"
        assert exc.value.file == ".tether.yaml"


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import sys; from scanner.cli import main; sys.argv[0] = 'tether'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(ROOT),
        env=env,
    )

"""Issue 7, item 10: the rule cache trusted stored rule data.

The cache used to keep each validated rule's data and rebuild rules from it, so one edit to the
cache file (`"assert": "true"`) disabled a rule for every later scan sharing the cache (a
self-hosted runner, a restored CI cache). Now it keeps only content hashes of files found valid;
a rule is always built from its own file, and a cache directory or file someone else could have
written is ignored."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from scanner import ConfigError, ScanOptions, scan
from scanner.config import RepoConfig
from scanner.policy import baseline as baseline_mod
from scanner.policy import cache as cache_mod
from scanner.policy.rules import LazyProgram, load_rules
from scanner.scanning import embedded_rules_dir

RULE = """\
id: ACME001
name: no-latest
pack: kubernetes
category: drift
severity: warning
status: stable
applies_to: k8s.container
when: fact.image_valid
assert: fact.tag != "latest"
location: image
message: Pin {{fact.name}} to a version instead of latest.
docs:
  what: Checks images are not latest.
  why: latest moves under you.
  example: "image: nginx:latest"
  use_instead: "image: nginx:1.27"
"""

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
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "home" / ".cache" / "tether"
    monkeypatch.setenv("TETHER_CACHE_DIR", str(d))
    monkeypatch.delenv("TETHER_NO_CACHE", raising=False)
    return d


def _repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    (r / "pod.yaml").write_text(POD)
    return r


def _rule_dir(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "rules"
    d.mkdir(exist_ok=True)
    (d / "ACME001.yml").write_text(text)
    return d


def _embedded() -> list[Path]:
    return sorted(embedded_rules_dir().rglob("*.yml"))


def _forge(cache_dir: Path, files: list[Path], name: str = cache_mod.FILE_NAME) -> Path:
    """A cache file that calls these files valid, for the current environment."""
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = [cache_mod.RuleCache.key(f.read_bytes()) for f in files]
    f = cache_dir / name
    f.write_text(json.dumps({"environment": cache_mod.environment(), "keys": keys}))
    return f


def _scan_ids(tmp_path: Path, rule_dirs: list[Path] | None = None) -> tuple[list[str], list[str]]:
    report = scan(
        tmp_path / "repo",
        ScanOptions(rule_dirs=rule_dirs or []),
        config=RepoConfig(),
    )
    return [f.rule_id for f in report.findings], [d.message for d in report.diagnostics]


def test_rule_data_written_into_the_cache_cannot_disable_a_rule(
    tmp_path: Path, cache_dir: Path
) -> None:
    """The attack: replace each rule's cached data with `assert: "true"`, in the old format
    and in the new file name. The rules still fire: nothing but a hash is read back."""
    _repo(tmp_path)
    before, _ = _scan_ids(tmp_path)
    assert "K8S003" in before  # the floating :latest tag
    stored = json.loads((cache_dir / cache_mod.FILE_NAME).read_text())
    assert set(stored) == {"environment", "keys"}  # hashes only, no rule data

    forged: dict[str, object] = {}
    for f in _embedded():
        content = f.read_bytes()
        data = {"id": f.stem, "assert": "true", "when": "false", "status": "deprecated"}
        forged[hashlib.sha256(content).hexdigest()] = data
    env = cache_mod.environment()
    for name in ("rules-v1.json", cache_mod.FILE_NAME):
        (cache_dir / name).write_text(
            json.dumps(
                {"environment": env, "entries": forged, "keys": list(forged), "data": forged}
            )
        )
    after, _ = _scan_ids(tmp_path)
    assert after == before


def test_a_cache_hit_still_builds_the_rule_from_its_file(tmp_path: Path, cache_dir: Path) -> None:
    d = _rule_dir(tmp_path, RULE)
    load_rules([d])
    rule = load_rules([d])["ACME001"]
    assert isinstance(rule.assertion, LazyProgram)  # known valid: CEL compiled on first use
    assert rule.assert_src == 'fact.tag != "latest"'
    # the file changes: its new bytes are what counts (and are checked in full)
    (d / "ACME001.yml").write_text(RULE.replace('"latest"', '"edge"'))
    rule = load_rules([d])["ACME001"]
    assert rule.assert_src == 'fact.tag != "edge"'
    assert not isinstance(rule.assertion, LazyProgram)


@pytest.mark.parametrize(
    ("broken", "needle"),
    [
        (RULE.replace("status: stable", "status: retired"), "rule status: must be one of"),
        (RULE.replace("severity: warning", "severity: fatal"), "rule severity: must be one of"),
        (RULE.replace('assert: fact.tag != "latest"\n', ""), "'assert' is required"),
        (RULE.replace("  why: latest moves under you.\n", ""), "'why' is required"),
        (RULE.replace("assert: fact.tag", "assert: fact.tagz"), "have no field(s) tagz"),
        (RULE.replace("applies_to: k8s.container", "applies_to: k8s.nothing"), "unknown fact"),
        (RULE + "colour: blue\n", "unexpected key 'colour'"),
        (RULE.replace('assert: fact.tag != "latest"', "assert: [x]"), "expected a string"),
        (RULE + "status: preview\n", "duplicate key 'status'"),
    ],
)
def test_a_forged_valid_hash_for_an_invalid_rule_is_still_a_config_error(
    tmp_path: Path, cache_dir: Path, broken: str, needle: str
) -> None:
    d = _rule_dir(tmp_path, broken)
    _forge(cache_dir, [d / "ACME001.yml"])
    with pytest.raises(ConfigError) as exc:
        load_rules([d])
    assert exc.value.file.endswith("ACME001.yml")
    assert needle in exc.value.message
    assert exc.value.line is not None


@pytest.mark.parametrize(
    "assertion",
    ["fact.tag !=", 'facts.tag != "latest"', 'semver_gt(fact.tag, "1")'],
)
def test_a_forged_valid_hash_for_bad_cel_is_a_rule_error_not_a_pass(
    tmp_path: Path, cache_dir: Path, assertion: str
) -> None:
    """Invalid CEL under a forged hash compiles on first use and fails there: each judged
    fact is a rule-error diagnostic (an error: --strict fails), never a silent pass."""
    _repo(tmp_path)
    d = _rule_dir(tmp_path, RULE.replace('fact.tag != "latest"', assertion))
    _forge(cache_dir, [d / "ACME001.yml"])
    ids, messages = _scan_ids(tmp_path, [d])
    assert "ACME001" not in ids
    assert any(m.startswith("ACME001 could not be evaluated") for m in messages), messages
    # without the forged entry the same file is refused at load time
    (cache_dir / cache_mod.FILE_NAME).unlink()
    with pytest.raises(ConfigError):
        load_rules([d])


def test_the_cache_directory_is_created_private(tmp_path: Path, cache_dir: Path) -> None:
    load_rules([_rule_dir(tmp_path, RULE)])
    assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700
    f = cache_dir / cache_mod.FILE_NAME
    assert f.is_file() and not f.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def _untrusted_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    """The forged cache (every embedded rule and the test rule called valid) is not read:
    rules are checked and compiled; and nothing is written there."""
    d = _rule_dir(tmp_path, RULE)
    before = {p.name: p.read_bytes() for p in cache_dir.iterdir()} if cache_dir.is_dir() else {}
    rules = load_rules([embedded_rules_dir(), d])
    assert not any(isinstance(r.assertion, LazyProgram) for r in rules.values())
    after = {p.name: p.read_bytes() for p in cache_dir.iterdir()} if cache_dir.is_dir() else {}
    assert after == before


def test_a_world_writable_cache_directory_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    _forge(cache_dir, [*_embedded(), _rule_dir(tmp_path, RULE) / "ACME001.yml"])
    cache_dir.chmod(0o777)
    assert cache_mod.trusted_directory() is None
    _untrusted_is_ignored(tmp_path, cache_dir)


def test_a_group_writable_cache_directory_is_ignored(tmp_path: Path, cache_dir: Path) -> None:
    _forge(cache_dir, [*_embedded(), _rule_dir(tmp_path, RULE) / "ACME001.yml"])
    cache_dir.chmod(0o770)
    _untrusted_is_ignored(tmp_path, cache_dir)


def test_a_symlinked_cache_directory_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "elsewhere"
    _forge(real, [*_embedded(), _rule_dir(tmp_path, RULE) / "ACME001.yml"])
    link = tmp_path / "cache"
    link.symlink_to(real)
    monkeypatch.setenv("TETHER_CACHE_DIR", str(link))
    assert cache_mod.trusted_directory() is None
    _untrusted_is_ignored(tmp_path, real)


@pytest.mark.parametrize("how", ["group-writable", "symlink", "fifo", "directory"])
def test_a_cache_file_that_is_not_a_private_regular_file_is_ignored(
    tmp_path: Path, cache_dir: Path, how: str
) -> None:
    forged = _forge(tmp_path / "planted", [*_embedded(), _rule_dir(tmp_path, RULE) / "ACME001.yml"])
    cache_dir.mkdir(parents=True, mode=0o700)
    target = cache_dir / cache_mod.FILE_NAME
    if how == "group-writable":
        target.write_bytes(forged.read_bytes())
        target.chmod(0o664)
    elif how == "symlink":
        target.symlink_to(forged)
    elif how == "fifo":
        os.mkfifo(target)  # must not block the scan either
    else:
        target.mkdir()
    rules = load_rules([embedded_rules_dir(), tmp_path / "rules"])
    assert not any(isinstance(r.assertion, LazyProgram) for r in rules.values())


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
@pytest.mark.parametrize("what", ["directory", "file"])
def test_a_cache_owned_by_another_user_is_ignored(
    tmp_path: Path, cache_dir: Path, what: str
) -> None:
    forged = _forge(cache_dir, [*_embedded(), _rule_dir(tmp_path, RULE) / "ACME001.yml"])
    os.chown(cache_dir if what == "directory" else forged, 65534, 65534)
    rules = load_rules([embedded_rules_dir(), tmp_path / "rules"])
    assert not any(isinstance(r.assertion, LazyProgram) for r in rules.values())


def test_the_validated_store_ignores_a_world_writable_directory(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Baselines, configurations and exception files: a planted "valid" hash for an invalid
    baseline is not read from a directory others can write, so the baseline is checked."""
    bad = tmp_path / "bad.yml"
    bad.write_text("kubernetes:\n  registries: ghcr.io\n")
    monkeypatch.setenv("TETHER_CACHE_DIR", str(tmp_path / "scratch"))
    key = cache_mod.ValidatedStore().key("baseline", {"kubernetes": {"registries": "ghcr.io"}})
    assert key is not None
    monkeypatch.setenv("TETHER_CACHE_DIR", str(cache_dir))
    cache_dir.mkdir(parents=True)
    (cache_dir / cache_mod.VALIDATED_FILE).write_text(
        json.dumps({"environment": cache_mod.environment(), "keys": [key]})
    )
    cache_dir.chmod(0o777)
    store = cache_mod.ValidatedStore()
    assert store.dir is None and not store.known(key)
    with pytest.raises(ConfigError, match="registries: expected a list"):
        baseline_mod.load([str(bad)])

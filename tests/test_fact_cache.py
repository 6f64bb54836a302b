"""The fact cache (scanner/factcache.py): a rescan answers unchanged files from the cache with
the very same report, a changed file (or changed context) misses, and nothing in the cache
directory that is not a whole entry tether wrote can change a scan."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import scan as scan_fn
from scanner.cli import main
from scanner.factcache import DB_NAME
from scanner.report import jsonreport
from scanner.scanning import ScanOptions

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: payments}
spec:
  template:
    spec:
      containers:
        - name: app
          image: docker.io/library/nginx:latest
"""

MAIN_TF = """\
module "vpc" {
  source = "git::https://example.com/vpc.git?ref=main"
}
"""

WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v3
"""

VALUES = """\
image:
  repository: docker.io/library/nginx
kind: Deployment
apiVersion: apps/v1
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: x
"""


@pytest.fixture(autouse=True)
def _facts_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the fact cache: a rescan must reach it, not the result cache
    in front of it (tests/test_result_cache.py)."""
    monkeypatch.setenv("TETHER_NO_RESULT_CACHE", "1")


def _repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "deploy.yaml").write_text(DEPLOY)
    (root / "infra").mkdir()
    (root / "infra" / "main.tf").write_text(MAIN_TF)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    return root


def _report(root: Path) -> dict:
    rep = scan_fn(root, ScanOptions(jobs=1))
    doc = json.loads(json.dumps(jsonreport.build(rep), default=str))
    timings = doc.pop("timings")
    doc["_cached"] = timings["cached"]
    doc["_files"] = timings["files"]
    return doc


class _Entry:
    """One row of the cache database, read and written as the tests damage it."""

    def __init__(self, db: Path, key: str) -> None:
        self.db, self.key = db, key

    def read_bytes(self) -> bytes:
        with sqlite3.connect(self.db) as conn:
            return bytes(
                conn.execute("SELECT value FROM entries WHERE key = ?", (self.key,)).fetchone()[0]
            )

    def write_bytes(self, value: bytes) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.execute("UPDATE entries SET value = ? WHERE key = ?", (value, self.key))


def _entries(cache_dir: Path) -> list[_Entry]:
    db = cache_dir / DB_NAME
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM entries ORDER BY key")]
    return [_Entry(db, k) for k in keys]


def _strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def test_rescan_answers_from_the_cache_with_the_same_report(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    cold = _report(root)
    assert cold["_cached"] == 0 and cold["findings"]
    assert len(_entries(cache_dir)) == 3  # one per parsed file

    scan_module = sys.modules["scanner.scanning"]  # `scanner.scan` is also the function

    def no_parsing(*_a: object, **_k: object) -> None:
        raise AssertionError("an unchanged file was parsed again")

    monkeypatch.setattr(scan_module, "facts_for", no_parsing)
    warm = _report(root)
    assert warm["_cached"] == 3 and warm["_files"] == 3
    assert _strip(warm) == _strip(cold)


def test_a_changed_file_alone_is_parsed_again(tmp_path: Path, cache_dir: Path) -> None:
    root = _repo(tmp_path)
    _report(root)
    (root / "infra" / "main.tf").write_text(MAIN_TF.replace("ref=main", "ref=v1.2.0"))
    warm = _report(root)
    assert warm["_cached"] == 2
    targets = {(f["rule_id"], f["path"]) for f in warm["findings"]}
    # the edit took effect: the module is pinned now, so the floating-ref finding is gone
    assert not any(p == "infra/main.tf" and r == "TF005" for r, p in targets)
    assert _strip(warm) == _strip(_report_uncached(root))


def _report_uncached(root: Path) -> dict:
    saved = os.environ.get("TETHER_NO_CACHE")
    os.environ["TETHER_NO_CACHE"] = "1"
    try:
        return _report(root)
    finally:
        if saved is None:
            del os.environ["TETHER_NO_CACHE"]
        else:
            os.environ["TETHER_NO_CACHE"] = saved


def test_the_same_bytes_at_another_path_are_another_entry(tmp_path: Path, cache_dir: Path) -> None:
    """Facts carry their path (targets, spans' file): content alone is not the key."""
    root = _repo(tmp_path)
    _report(root)
    (root / "k8s" / "deploy.yaml").rename(root / "k8s" / "web.yaml")
    warm = _report(root)
    assert warm["_cached"] == 2
    assert {f["path"] for f in warm["findings"] if f["path"].startswith("k8s/")} == {"k8s/web.yaml"}


@pytest.mark.parametrize("damage", ["truncate", "flip", "swap", "garbage", "empty"])
def test_a_damaged_or_foreign_entry_is_a_miss(tmp_path: Path, cache_dir: Path, damage: str) -> None:
    root = _repo(tmp_path)
    cold = _report(root)
    entries = _entries(cache_dir)
    victim = entries[0]
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        victim.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    elif damage == "swap":  # a whole, valid entry under another file's key
        victim.write_bytes(entries[1].read_bytes())
    elif damage == "garbage":
        victim.write_bytes(b"\x80\x04\x95" + os.urandom(64))  # pickle-looking bytes
    else:
        victim.write_bytes(b"")
    warm = _report(root)
    assert warm["_cached"] == 2
    assert _strip(warm) == _strip(cold)
    assert _report(root)["_cached"] == 3  # rewritten whole


@pytest.mark.parametrize("damage", ["garbage", "link", "shared"])
def test_a_damaged_or_foreign_database_is_not_used(
    tmp_path: Path, cache_dir: Path, damage: str
) -> None:
    root = _repo(tmp_path)
    cold = _report(root)
    db = cache_dir / DB_NAME
    for extra in (cache_dir / (DB_NAME + "-wal"), cache_dir / (DB_NAME + "-shm")):
        extra.unlink(missing_ok=True)
    if damage == "garbage":
        db.write_bytes(b"not a database" * 100)
    elif damage == "link":  # someone else's file behind a link: neither read nor written
        other = tmp_path / "elsewhere.sqlite3"
        db.rename(other)
        db.symlink_to(other)
    else:
        os.chmod(db, 0o666)
    warm = _report(root)
    assert warm["_cached"] == 0
    assert _strip(warm) == _strip(cold)
    if damage == "garbage":  # not a database: replaced by a new one, used from then on
        assert _report(root)["_cached"] == 3
    else:  # never written through
        assert _report(root)["_cached"] == 0


def test_a_forged_entry_with_a_valid_digest_but_wrong_shape_is_a_miss(
    tmp_path: Path, cache_dir: Path
) -> None:
    import hashlib
    import zlib

    from scanner import factcache

    root = _repo(tmp_path)
    cold = _report(root)
    victim = _entries(cache_dir)[0]
    key = victim.key
    payload = zlib.compress(
        json.dumps({"facts": [["x", 1, [1], "t", [], {}]], "diags": []}).encode()
    )
    victim.write_bytes(factcache._MAGIC + key.encode() + hashlib.sha256(payload).digest() + payload)
    assert _strip(_report(root)) == _strip(cold)


def test_chart_context_is_part_of_the_key(tmp_path: Path, cache_dir: Path) -> None:
    """values.yaml beside a Chart.yaml is the chart's input, not a manifest: adding the
    Chart.yaml changes what the unchanged values file yields."""
    root = tmp_path / "repo"
    (root / "chart").mkdir(parents=True)
    (root / "chart" / "values.yaml").write_text(VALUES)
    before = _report(root)
    assert any(f["path"] == "chart/values.yaml" for f in before["findings"])
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    after = _report(root)
    assert not any(f["path"] == "chart/values.yaml" for f in after["findings"])
    assert _strip(after) == _strip(_report_uncached(root))


def test_the_baseline_pod_template_table_is_part_of_the_key(
    tmp_path: Path, cache_dir: Path
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "widget.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
        "spec:\n  pod:\n    spec:\n      containers:\n        - name: a\n          image: nginx\n"
    )
    plain = _report(root)
    layer = tmp_path / "layer.yml"
    layer.write_text(
        "extends: [default]\nkubernetes:\n  pod_templates:\n"
        "    example.com/Widget: {templates: [spec.pod]}\n"
    )
    rep = scan_fn(root, ScanOptions(jobs=1, baselines=("default", str(layer))))
    assert rep.timings.cached == 0
    judged = {f.rule_id for f in rep.findings if f.path == "widget.yaml"}
    assert judged - {f["rule_id"] for f in plain["findings"] if f["path"] == "widget.yaml"}


def test_no_cache_and_cache_dir_flags(tmp_path: Path, cache_dir: Path) -> None:
    root = _repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    runner = CliRunner()
    r = runner.invoke(main, ["scan", str(root), "--root", str(root), "--no-cache", "-q"])
    assert r.exit_code == 1, r.output
    assert not (cache_dir / DB_NAME).exists()
    r = runner.invoke(main, ["scan", "--root", str(root), "--cache-dir", str(elsewhere), "-q"])
    assert r.exit_code == 1, r.output
    assert len(_entries(elsewhere)) == 3 and not (cache_dir / DB_NAME).exists()
    # the flags held for that command only
    from scanner.policy import cache as cache_mod

    assert cache_mod.directory() == cache_dir


def test_a_cache_directory_others_can_write_is_not_used(tmp_path: Path, cache_dir: Path) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    cache_dir.mkdir(mode=0o700)
    os.chmod(cache_dir, 0o777)
    root = _repo(tmp_path)
    _report(root)
    assert not (cache_dir / DB_NAME).exists()


def test_the_database_is_private(tmp_path: Path, cache_dir: Path) -> None:
    root = _repo(tmp_path)
    _report(root)
    files = [p for p in cache_dir.iterdir() if p.name.startswith(DB_NAME)]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files if p.name == DB_NAME)
    assert cache_dir.stat().st_mode & 0o077 == 0


def test_concurrent_scans_share_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    import subprocess
    import sys

    root = _repo(tmp_path)
    for i in range(20):
        (root / "k8s" / f"d{i}.yaml").write_text(DEPLOY.replace("web", f"web{i}"))
    expected = _report_uncached(root)
    env = {**os.environ, "TETHER_CACHE_DIR": str(cache_dir)}
    outs = [tmp_path / f"out{i}.json" for i in range(4)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scanner.cli",
                "scan",
                "--root",
                str(root),
                "-j",
                "1",
                "--format",
                "json",
                "-o",
                str(o),
                "-q",
            ],
            env=env,
        )
        for o in outs
    ]
    assert all(p.wait(timeout=120) == 1 for p in procs)
    for o in outs:
        doc = json.loads(o.read_text())
        doc.pop("timings")
        assert doc == _strip(expected)
    again = subprocess.run(
        [sys.executable, "-m", "scanner.cli", "scan", "--root", str(root), "-j", "1"]
        + ["--format", "json", "-o", str(outs[0]), "-q"],
        env=env,
    )
    assert again.returncode == 1
    assert json.loads(outs[0].read_text())["timings"]["cached"] == 23


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_a_pull_requests_gate_never_uses_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    """PR mode judges every file afresh: the change's own code may have run on the runner
    before the gate and could have written the cache."""
    root = _repo(tmp_path)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    (root / "k8s" / "deploy.yaml").write_text(DEPLOY.replace("web", "api"))
    r = CliRunner().invoke(main, ["scan", str(root), "--diff-base", "main", "-q"])
    assert r.exit_code in (0, 1), r.output
    assert not (cache_dir / DB_NAME).exists()


def test_the_action_never_uses_the_cache(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push scan by the Action is a gate too: a planted entry for a file's exact bytes
    (here: a cached empty result for the Deployment) changes nothing, and nothing is written."""
    from scanner import action

    from .test_action import _env as action_env

    root = _repo(tmp_path)
    cold = _report(root)  # fills the cache
    assert any(f["path"] == "k8s/deploy.yaml" for f in cold["findings"])
    for entry in _entries(cache_dir):  # every entry now says: no facts, no diagnostics
        _plant(entry, entry.key)
    assert not any(f["path"] == "k8s/deploy.yaml" for f in _report(root)["findings"])
    before = [(e.key, e.read_bytes()) for e in _entries(cache_dir)]
    env = action_env(root, tmp_path, TETHER_FAIL_ON="never")
    assert action.run(env) == 0
    capsys.readouterr()
    results = json.loads((tmp_path / "out" / "tether.sarif").read_text())["runs"][0]["results"]
    assert any(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "k8s/deploy.yaml"
        for r in results
    )
    assert [(e.key, e.read_bytes()) for e in _entries(cache_dir)] == before


def _plant(entry: _Entry, key: str) -> None:
    import hashlib
    import zlib

    from scanner import factcache

    payload = zlib.compress(json.dumps({"facts": [], "diags": []}).encode())
    entry.write_bytes(factcache._MAGIC + key.encode() + hashlib.sha256(payload).digest() + payload)


def test_sarif_line_hashes_come_back_the_same_from_the_cache(
    tmp_path: Path, cache_dir: Path
) -> None:
    from scanner.report import sarif

    root = _repo(tmp_path)

    def fingerprints() -> list[dict[str, str]]:
        rep = scan_fn(root, ScanOptions(jobs=1))
        doc = sarif.build(rep, category="t", levels=rep.levels)
        return [r["partialFingerprints"] for r in doc["runs"][0]["results"]]

    facts_only = len(_entries(cache_dir))
    cold = fingerprints()
    assert cold and all("primaryLocationLineHash" in f for f in cold)
    assert len(_entries(cache_dir)) > facts_only  # the files' line hashes were kept
    assert fingerprints() == cold
    for entry in _entries(cache_dir):  # damaged: computed again
        entry.write_bytes(entry.read_bytes()[:-3])
    assert fingerprints() == cold


def test_a_refused_cache_directory_is_said(tmp_path: Path, cache_dir: Path) -> None:
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    root = _repo(tmp_path)
    r = CliRunner().invoke(main, ["scan", "--root", str(root), "--cache-dir", str(shared), "-q"])
    assert r.exit_code == 1, r.output
    assert f"tether: note: cache directory {shared} not used: " in r.stderr
    assert "writable by others" in r.stderr
    r = CliRunner().invoke(main, ["scan", "--root", str(root), "-q"])  # the default: no note
    assert "cache directory" not in r.stderr


def test_cache_info_and_clear(tmp_path: Path, cache_dir: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["cache", "info"])
    assert r.exit_code == 0 and f"cache directory: {cache_dir} (none yet)" in r.output
    assert not cache_dir.exists()  # looking does not create it
    _report(_repo(tmp_path))
    r = runner.invoke(main, ["cache", "info"])
    assert f"cache directory: {cache_dir}\n" in r.output
    assert "fact cache: 3 entries" in r.output, r.output
    assert "result cache: 0 whole-repository scans (off: TETHER_NO_RESULT_CACHE)" in r.output
    # the directory is tagged: backup tools and tether's own walk pass it by
    assert (
        (cache_dir / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    # what older versions kept there goes too
    (cache_dir / "facts-v1").mkdir()
    (cache_dir / "facts-v1" / "ab").write_text("x")
    (cache_dir / "rules-v1.json").write_text("{}")
    assert (
        "from older versions: facts-v1, rules-v1.json"
        in runner.invoke(main, ["cache", "info"]).output
    )
    r = runner.invoke(main, ["cache", "clear"])
    assert r.exit_code == 0 and r.output.startswith("removed ")
    assert not (cache_dir / DB_NAME).exists() and _report(_repo(tmp_path / "again"))["_cached"] == 0
    assert not (cache_dir / "facts-v1").exists() and not (cache_dir / "rules-v1.json").exists()
    r = runner.invoke(main, ["cache", "info", "--no-cache"])
    assert "cache: off" in r.output
    # nothing to clear is not a success
    r = runner.invoke(main, ["cache", "clear", "--no-cache"])
    assert r.exit_code == 2 and "nothing cleared" in r.output


def test_an_empty_cache_dir_is_a_usage_error(tmp_path: Path) -> None:
    """`--cache-dir "$UNSET"` must not put the cache in the current directory."""
    r = CliRunner().invoke(main, ["cache", "info", "--cache-dir", ""])
    assert r.exit_code == 2 and "must name a directory" in r.output


@pytest.mark.parametrize(
    "value, off", [("1", True), ("yes", True), ("0", False), ("false", False), ("", False)]
)
def test_the_off_switches_read_their_values_alike(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, value: str, off: bool
) -> None:
    from scanner.policy.cache import directory

    monkeypatch.setenv("TETHER_NO_CACHE", value)
    monkeypatch.setenv("TETHER_NO_RESULT_CACHE", value)
    assert (directory() is None) is off
    assert ScanOptions().result_cache is not off


@pytest.mark.parametrize("variable", ["CI", "GITLAB_CI", "JENKINS_URL"])
def test_on_a_ci_service_only_a_named_cache_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """There a build step of the change, or another job of a shared runner's user, may have
    written the default directory first."""
    root = _repo(tmp_path)
    monkeypatch.delenv("TETHER_CACHE_DIR", raising=False)
    monkeypatch.delenv("TETHER_NO_CACHE", raising=False)
    for v in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "TF_BUILD"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(variable, "true")
    _report(root)
    assert not (tmp_path / "xdg" / "tether" / DB_NAME).exists()
    named = tmp_path / "named"
    monkeypatch.setenv("TETHER_CACHE_DIR", str(named))
    _report(root)
    assert _report(root)["_cached"] == 3
    monkeypatch.setenv(variable, "false")  # said off
    monkeypatch.delenv("TETHER_CACHE_DIR")
    _report(root)
    assert (tmp_path / "xdg" / "tether" / DB_NAME).exists()


def test_the_code_identity_follows_content_not_times(tmp_path: Path) -> None:
    """Reproducible builds give every file one time (SOURCE_DATE_EPOCH, Nix): a same-size
    edit of tether's sources must still change the identity the cache keys on."""
    import shutil
    import subprocess

    import scanner

    src = Path(scanner.__file__).parent
    ids = []
    for name, edit in (("a", False), ("b", True)):
        copy = tmp_path / name / "scanner"
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
        if edit:
            target = copy / "facts" / "kubernetes.py"
            text = target.read_text()
            target.write_text(text.replace("runAsNonRoot", "runAsNonRooT", 1))
        for p in copy.rglob("*"):
            os.utime(p, (1, 1))
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "from scanner import factcache; print(factcache.code_identity())",
            ],
            cwd=tmp_path / name,
            env={**os.environ, "PYTHONPATH": str(tmp_path / name)},
            capture_output=True,
            text=True,
            check=True,
        )
        ids.append(out.stdout.strip())
    assert ids[0] and ids[0] != ids[1]


def test_a_database_with_damaged_pages_is_replaced(tmp_path: Path, cache_dir: Path) -> None:
    root = _repo(tmp_path)
    cold = _report(root)
    db = cache_dir / DB_NAME
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(db.read_bytes())
    page = int.from_bytes(raw[16:18], "big") or 65536
    raw[page:] = os.urandom(len(raw) - page)  # the header page intact, every other scribbled
    db.write_bytes(bytes(raw))
    warm = _report(root)
    assert warm["_cached"] == 0 and _strip(warm) == _strip(cold)
    _report(root)  # a new database
    assert _report(root)["_cached"] == 3

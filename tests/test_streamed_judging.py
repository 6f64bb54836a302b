"""A scan judges each file's facts as they are made and lets them go (issue 11: memory bounded
by the largest file, not by the repository): the report is the one judging every fact at the
end gives, and what the scan holds while it reads does not grow with the number of files."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner import scanning
from scanner.model import Fact, Timings
from scanner.policy import baseline as baseline_mod
from scanner.policy import engine
from scanner.policy.rules import load_rules
from scanner.scanning import ScanOptions, embedded_rules_dir
from scanner.spool import Spool

ROOT = Path(__file__).resolve().parent.parent


def _generated(kind: str, out: Path) -> Path:
    script = ROOT / "bench" / f"gen_{kind}.py"
    args = ["--kb", "120"] if kind == "terraform" else []
    subprocess.run([sys.executable, str(script), str(out), *args], check=True, capture_output=True)
    return out


def _key(f: Any) -> tuple[Any, ...]:
    return (f.path, f.span, f.rule_id, f.message, f.fingerprint, f.level, f.subject)


def _both(root: Path, jobs: int = 1, max_facts: int | None = None) -> tuple[Any, Any]:
    """(all facts judged at the end, each file's judged as made) for the same tree; with
    `jobs` > 1, the small corpora are split between workers as a large repository is."""
    from scanner import parallel

    mp = pytest.MonkeyPatch()
    if jobs > 1:
        mp.setattr(parallel, "MIN_BYTES_PER_JOB", 16 * 1024)
    rules = load_rules([embedded_rules_dir()])
    base = baseline_mod.load(["default"])
    today = ScanOptions().today
    ready = engine.prepare(rules, base, today)
    token = scanning._MAX_FACTS.set(max_facts) if max_facts is not None else None
    try:
        facts, diags = scanning.collect(root, [], Timings(), jobs)
        whole = engine.evaluate(facts, rules, base, today, False, ready)
        judging = engine.Evaluation(rules, base, today, False, ready)
        listing = scanning.discover(root, [])
        timings = Timings()
        feeder, _kustomized, diags2 = scanning.collect_judged(root, judging, timings, listing, jobs)
        streamed = judging.result()
        assert timings.workers == max(1, min(jobs, 2))
    finally:
        mp.undo()
        if token is not None:
            scanning._MAX_FACTS.reset(token)
    one = (
        sorted(map(_key, whole[0])),
        sorted((d.path, d.span, d.code, d.message) for d in [*diags, *whole[1]]),
        {k: (t.passed, t.failed, t.not_applicable) for k, t in whole[2].items()},
        len(facts),
    )
    two = (
        sorted(map(_key, streamed[0])),
        sorted((d.path, d.span, d.code, d.message) for d in [*diags2, *streamed[1]]),
        {k: (t.passed, t.failed, t.not_applicable) for k, t in streamed[2].items()},
        feeder.judged,
    )
    return one, two


@pytest.mark.parametrize("kind", ["kubernetes", "terraform", "workflows"])
def test_judging_as_facts_are_made_gives_the_report_of_judging_them_all(
    tmp_path: Path, kind: str
) -> None:
    """The bench's generated repositories: kustomize overlays with patches, image overrides
    and transformers; Terraform modules whose provider default tags are in other files and
    in calling modules; workflows. In one process and with parse workers."""
    root = _generated(kind, tmp_path / kind)
    whole, streamed = _both(root)
    assert whole[0], "the corpus has findings"
    assert streamed == whole
    assert _both(root, jobs=2)[1] == whole


@pytest.mark.parametrize("example", ["acme-payments", "golden-service"])
def test_the_examples_judge_the_same_either_way(example: str) -> None:
    whole, streamed = _both(ROOT / "examples" / example)
    assert streamed == whole


def test_the_facts_limit_cuts_after_the_file_that_reached_it(tmp_path: Path) -> None:
    """--max-facts keeps the file that reached the limit whole, judges nothing after it and
    says so on that file, naming how many files were left unjudged."""
    root = _generated("kubernetes", tmp_path / "k8s")
    rules = load_rules([embedded_rules_dir()])
    base = baseline_mod.load(["default"])
    listing = scanning.discover(root, [])
    total = len(scanning.collect(root, [], Timings(), 1)[0])
    for limit in (1, 7, total // 2, total - 30):
        judging = engine.Evaluation(rules, base, ScanOptions().today)
        token = scanning._MAX_FACTS.set(limit)
        try:
            feeder, _kustomized, diags = scanning.collect_judged(
                root, judging, Timings(), listing, 1
            )
        finally:
            scanning._MAX_FACTS.reset(token)
        cut = [d for d in diags if d.code == "scan-limit"]
        assert len(cut) == 1, limit
        at = cut[0].path
        # the limit was reached within the file the diagnostic is on, kept whole
        per_file = len(scanning.collect(root, [], Timings(), 1, only=None, scope=[at])[0])
        assert limit <= feeder.count < limit + per_file + 1, (limit, feeder.count)
        judged = {f.path for f in judging.result()[0]}
        assert len(judged) < len(listing[0])
        assert f"limit of {limit:,} facts" in cut[0].message


def _alive_while_reading(
    root: Path, manifest: str, kind: type, spill: int | None = None
) -> tuple[Any, list[int]]:
    """Scan 300 copies of `manifest` (formatted with n) under `root`: the report, and how
    many objects of `kind` were alive at every 50th file and over the last ten."""
    for n in range(300):
        (root / f"app{n:03}.yaml").write_text(manifest.format(n=n))
    alive: list[int] = []
    real = scanning._Feeder._take

    def spy(self: Any, facts: list[Fact]) -> None:
        real(self, facts)
        if len(alive) % 50 == 0 or len(alive) > 290:
            gc.collect()
            alive.append(sum(1 for o in gc.get_objects() if isinstance(o, kind)))
        else:
            alive.append(-1)

    mp = pytest.MonkeyPatch()
    mp.setattr(scanning._Feeder, "_take", spy)
    if spill is not None:
        mp.setattr(scanning, "FINDINGS_SPILL", spill)
    try:
        report = scanning.scan(root, ScanOptions(jobs=1, fact_cache=False))
    finally:
        mp.undo()
    measured = [n for n in alive if n >= 0]
    assert len(measured) >= 4
    return report, measured


def test_a_scan_holds_its_findings_not_every_fact(tmp_path: Path) -> None:
    """While 300 manifests are read, the facts alive stay those of about one file (plus the
    few cross-file passes keep), whatever the number of files."""
    manifest = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{n}}}\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "        - name: app\n          image: nginx:1.{n}\n"
        "          env:\n"
        "            - {{name: A, value: '1'}}\n"
        "            - {{name: B, value: '2'}}\n"
    )
    report, measured = _alive_while_reading(tmp_path, manifest, Fact)
    assert report.facts_count > 300 * 5
    # every file's facts were made; at no point were more than a few files' worth alive
    assert max(measured) < 40, measured


KUSTOMIZE_TREE = {
    "base/kustomization.yaml": "resources: [deploy.yaml, miner.txt]\n",
    "base/deploy.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "        - {name: web, image: docker.io/library/nginx:latest}\n"
    ),
    "base/miner.txt": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: miner}\nspec:\n"
        "  containers:\n    - {name: m, image: evil.example/miner:latest}\n"
    ),
    "comp/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "images:\n  - {name: docker.io/library/nginx, newTag: '1.27'}\n"
    ),
    "overlay/kustomization.yaml": (
        "resources: [../base]\ncomponents: [../comp]\n"
        "transformers: [tags.yaml]\npatches:\n  - path: patch.yaml\n"
        "labels:\n  - pairs: {team: web}\n"
    ),
    "overlay/tags.yaml": (
        "apiVersion: builtin\nkind: ImageTagTransformer\nmetadata: {name: t}\n"
        "imageTag: {name: evil.example/miner, newTag: v2}\n"
    ),
    "overlay/patch.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "        - name: side\n"
        "          image: quay.io/x/side:latest\n"
        "          securityContext: {privileged: true}\n"
    ),
    "vendor/app/kustomization.yaml": "resources: [pod.yaml]\n",
    "vendor/app/pod.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: v}\nspec:\n"
        "  containers:\n    - {name: v, image: nginx}\n"
    ),
    "apps/kustomization.yaml": "resources: [../overlay, ../vendor/app/kustomization.yaml]\n",
    "fragment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: frag}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - {name: f, image: nginx}\n"
    ),
}


def test_kustomize_effects_known_before_other_files_are_judged(tmp_path: Path) -> None:
    """Image overrides from `images:`, a component and a transformer file, labels, a patch,
    a resource with a name kubectl does not read as YAML and a fragment: judged as when every
    fact was judged at the end, the kustomizations' facts kept only in the small form the
    graph reads."""
    for rel, text in KUSTOMIZE_TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    whole, streamed = _both(tmp_path)
    assert streamed == whole
    paths = {f[0] for f in whole[0]}
    assert {"base/deploy.yaml", "base/miner.txt", "overlay/patch.yaml"} <= paths


def test_a_scan_that_cannot_spool_still_scans(tmp_path: Path) -> None:
    """No temporary directory, or no space in it: the kustomizations' facts and the workers'
    results are held in memory as before, and the report is the same."""
    import tempfile

    root = _generated("kubernetes", tmp_path / "k8s")
    whole, _streamed = _both(root)

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise OSError(28, "No space left on device")

    mp = pytest.MonkeyPatch()
    mp.setattr(tempfile, "TemporaryFile", refuse)
    try:
        assert _both(root)[1] == whole
        assert _both(root, jobs=2)[1] == whole
    finally:
        mp.undo()
    assert tempfile.TemporaryFile is not refuse


def test_a_spool_the_disk_fills_under_keeps_what_it_could_not_write() -> None:
    """A write the disk refuses half way: the records written whole are read back from the
    file, the rest from memory, in order."""
    from scanner.model import Span

    spool = Spool()
    batches = [
        [Fact("k8s.object", f"f{i}.yaml", Span(1, 1, 1, 2), f"t{i}", {"n": i})] for i in range(6)
    ]
    for b in batches[:3]:
        spool.write(b)
    real = spool._file.write
    calls = {"n": 0}

    def short_then_full(data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return int(real(bytes(data)[:5]))  # a short write, then the disk is full
        raise OSError(28, "No space left on device")

    spool._file.write = short_then_full
    for b in batches[3:]:
        spool.write(b)
    assert calls["n"] == 2  # the short write, the refused one; the rest went to memory
    assert list(spool.replay()) == batches
    spool.close()


def _judged(facts: list[Fact], spill: int | None, limit: int | None) -> tuple[Any, ...]:
    rules = load_rules([embedded_rules_dir()])
    base = baseline_mod.load(["default"])
    judging = engine.Evaluation(rules, base, ScanOptions().today, max_findings=limit, spill=spill)
    by_file: dict[str, list[Fact]] = {}
    for f in facts:
        by_file.setdefault(f.path, []).append(f)
    for batch in by_file.values():
        if not judging.feed(batch):
            break
    found, diags, tallies = judging.result()
    return (
        [_key(f) for f in found],
        [(d.path, d.span, d.code, d.message) for d in diags],
        {k: (t.passed, t.failed, t.not_applicable) for k, t in tallies.items()},
    )


def test_findings_spilled_to_disk_read_back_as_held(tmp_path: Path) -> None:
    """Findings waiting on disk a few at a time come back as if held: same findings in the
    same order, same diagnostics and tallies, with and without the findings limit, wherever
    it falls (before, at or after a spilled batch, within one fact's findings)."""
    root = _generated("kubernetes", tmp_path / "k8s")
    facts, _diags = scanning.collect(root, [], Timings(), 1)
    held = _judged(facts, None, None)
    total = len(held[0])
    assert total > 50
    writes: list[int] = []
    real = Spool.write

    def spy(self: Any, items: list[Any]) -> None:
        writes.append(len(items))
        real(self, items)

    mp = pytest.MonkeyPatch()
    mp.setattr(Spool, "write", spy)
    try:
        assert _judged(facts, 3, None) == held
        assert sum(writes) >= total - 3 - 10  # all but the last batch went to disk
        for limit in (1, 3, 4, 7, total // 2, total - 1, total, total + 1):
            assert _judged(facts, 3, limit) == _judged(facts, None, limit), limit
    finally:
        mp.undo()


def test_a_scan_does_not_hold_its_findings_while_it_reads(tmp_path: Path) -> None:
    """300 manifests with two findings each: while they are read, the findings alive stay
    under a spill batch; the report has them all."""
    from scanner.model import Finding

    manifest = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app{n}}}\nspec:\n"
        "  template:\n    spec:\n      containers:\n"
        "        - name: app\n          image: nginx:1.{n}\n"
    )
    report, measured = _alive_while_reading(tmp_path, manifest, Finding, spill=50)
    assert len(report.findings) >= 600
    assert max(measured) < 60, measured


def test_judges_keep_a_bounded_number_of_verdicts_and_texts(tmp_path: Path) -> None:
    """A judge's verdicts and texts by field values are bounded: a scan of many distinct
    values does not keep one for each, and starting again changes no finding."""
    from scanner.policy import rules as rules_mod

    root = _generated("kubernetes", tmp_path / "k8s")
    facts, _diags = scanning.collect(root, [], Timings(), 1)
    held = _judged(facts, None, None)
    sizes: list[int] = []
    real = engine._Judge.verdict

    def spy(self: Any, fact: Fact, frozen: Any = None) -> Any:
        out = real(self, fact, frozen)
        sizes.append(max(len(self.cache), *(len(m) for m in self._memos)))
        return out

    mp = pytest.MonkeyPatch()
    mp.setattr(engine, "VERDICT_ENTRIES", 3)
    mp.setattr(rules_mod, "MEMO_ENTRIES", 2)
    mp.setattr(engine._Judge, "verdict", spy)
    try:
        assert _judged(facts, None, None) == held
    finally:
        mp.undo()
    assert max(sizes) <= 3

    # a judge whose values seldom repeat stops keeping them after its trial
    caching: dict[str, list[bool]] = {}

    def watch(self: Any, fact: Fact, frozen: Any = None) -> Any:
        out = real(self, fact, frozen)
        caching.setdefault(self.rule.id, []).append(self._caching and len(self.cache) > 0)
        return out

    mp.setattr(engine, "VERDICT_TRIAL", 8)
    mp.setattr(engine._Judge, "verdict", watch)
    try:
        assert _judged(facts, None, None) == held
    finally:
        mp.undo()
    stopped = [r for r, seen in caching.items() if seen[0] is not seen[-1]]
    kept = [r for r, seen in caching.items() if all(seen)]
    assert stopped and kept, caching.keys()

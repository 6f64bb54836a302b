"""Rule cases and `tether verify`: a rule is tested by data, not code.

A case file (`tests/rule_cases/<ID>.yml`, schema `rule-cases`) names one rule and lists cases:
each is a small repository (`files`), the findings of that rule it must produce (`expect`,
with path, line and column, and optionally text the message contains; `[]` for a case where
the rule passes or does not apply), and optionally a baseline layer, an operator policy, a
merge base (`base_files`: the case then runs in pull-request mode), the date it is judged
on, and `fixed`: the text of each file after the rule's remedies (its `fix:`) are applied.
tether's own test suite (tests/test_rule_cases.py) and `tether verify` run cases with the
same runner.

`tether verify DIR` checks a policy repository (layout in docs/writing-rules.md):

- the policy is `--policy FILE`, else `DIR/tether-policy.yml` (or `.yaml`) when present,
  else none (the embedded `default` baseline);
- the rules under test are those in `--rules DIR...`, plus the policy's `rules:`
  directories; with neither, `DIR/rules/` when present;
- the cases are the `*.yml`/`*.yaml` files under `--cases PATH...`, else under
  `DIR/tests/rule_cases/`.

Every case is scanned as `tether scan --policy` would scan a repository holding its files, with
preview rules on. A case fails when the rule's findings differ from `expect` (paths, lines,
columns, message texts) or when a rule cannot be evaluated (`rule-error`).

Fix expectations (SQLFluff's `fix_str`): the remedies of the rule's findings, and only the
rule's, are applied to the case's repository as `tether fix` applies them (`fix.plan`, then
`fix.apply`, whose rescan is the case's scan again), and every file of the case is compared:
a file `fixed:` lists must read exactly as given, every other one as it was. A case fails when
a file differs (a unified diff, expected against actual), when an edit is refused or put back
by the rescan, when its rule's remedies change something and it has no `fixed:` (the message
shows the fixed text to check and copy), and when it has `fixed:` and the remedies change
nothing. A case where they change nothing (a SHA-pinned step, no remedy) omits `fixed:`.

Each rule under test must also have a case that expects a finding and one that expects none,
filled-in docs, and, when it declares `fix:`, a case with `fixed:`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import os
import re
import subprocess
import tempfile
import textwrap
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import ConfigError
from .model import Report
from .policy.documents import line_of, load_yaml, validate
from .policy.operator import Policy
from .policy.operator import load as load_policy
from .policy.rules import Rule, load_rules

CASES_SCHEMA = "rule-cases"
POLICY_NAMES = ("tether-policy.yml", "tether-policy.yaml")
RULES_DIR = "rules"
CASES_DIR = PurePosixPath("tests", "rule_cases")
DOCS_FIELDS = ("what", "why", "example", "use_instead")
# diagnostics that mean a rule could not judge what the case gave it
FATAL_CODES = ("rule-error", "internal-error")
_PLACEHOLDER = re.compile(r"^(?:todo|tbd|fixme|xxx|lorem ipsum)\b|^(?:\.\.\.|…)$", re.IGNORECASE)


@dataclass(frozen=True)
class Expected:
    """A finding a case expects."""

    path: str
    line: int
    col: int
    message: str | None = None  # text the finding's message must contain

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "line": self.line, "col": self.col}
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Actual:
    """A finding of the rule under test."""

    path: str
    line: int
    col: int
    message: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "col": self.col, "message": self.message}


@dataclass(frozen=True)
class Case:
    rule: str
    name: str
    file: str  # the case file, as shown
    line: int  # where the case starts in it
    files: Mapping[str, str]
    expect: tuple[Expected, ...]
    baseline: str | None = None
    policy: str | None = None
    base_files: Mapping[str, str] | None = None
    delete: tuple[str, ...] = ()
    today: dt.date | None = None
    rule_line: int = 1  # where the case file names the rule
    fixed: Mapping[str, str] | None = None  # path -> text after the rule's remedies

    @property
    def tree(self) -> tuple[str, ...]:
        """The files of the repository the case builds (PR mode: the head's)."""
        base = [p for p in self.base_files or () if p not in self.delete]
        return tuple(dict.fromkeys([*self.files, *base]))

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def expects_finding(self) -> bool:
        return bool(self.expect)


@dataclass(frozen=True)
class CaseResult:
    case: Case
    actual: tuple[Actual, ...]
    problems: tuple[str, ...]  # empty: the case passed
    # the files the rule's remedies changed, path -> text after them (see run_case)
    fixed: Mapping[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def explain(self) -> str:
        """The problems, with the expected and actual findings (for people)."""
        return "\n".join(
            [
                *self.problems,
                _block("expected:", [e.where + _contains(e) for e in self.case.expect]),
                _block("actual:", [f"{a.where} {a.message}" for a in self.actual]),
            ]
        )


def _contains(e: Expected) -> str:
    return f' (message contains "{e.message}")' if e.message is not None else ""


def _block(label: str, items: Sequence[str]) -> str:
    if len(items) > 1:
        return label + "".join(f"\n  {i}" for i in items)
    return f"{label:<10}{items[0] if items else '(no finding)'}"


# --- case files ----------------------------------------------------------------------------


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _safe_path(rel: str, shown: str, line: int | None) -> str:
    """A case's file name: relative, inside the case's repository, never in `.git`."""
    p = PurePosixPath(rel)
    if (
        not rel.strip()
        or "\\" in rel
        or p.is_absolute()
        or ".." in p.parts
        or (p.parts and p.parts[0].lower() == ".git")
    ):
        raise ConfigError(
            shown,
            line,
            f"case file name {rel!r} must be a relative path inside the case's repository "
            "(no '..', no leading '/', nothing under .git)",
        )
    return rel


def load_cases(path: Path, shown: str | None = None) -> list[Case]:
    """The cases of one case file; a malformed file is a ConfigError with file and line."""
    shown = shown or _display(path)
    data, node = load_yaml(path, shown)
    if data is None:
        raise ConfigError(shown, 1, "empty case file: expected `rule:` and `cases:`")
    if not isinstance(data, dict):
        raise ConfigError(shown, 1, "a case file must be a YAML mapping with `rule:` and `cases:`")
    validate(CASES_SCHEMA, data, node, shown)
    rule = str(data["rule"])
    out: list[Case] = []
    names: dict[str, int] = {}
    for i, raw in enumerate(data["cases"]):
        at = line_of(node, ["cases", i]) or 1
        name = str(raw["name"])
        if name in names:
            raise ConfigError(
                shown, at, f"case name {name!r} is already used at line {names[name]}"
            )
        names[name] = at
        files = {_safe_path(k, shown, at): v for k, v in raw["files"].items()}
        base = raw.get("base_files")
        base_files = (
            None if base is None else {_safe_path(k, shown, at): v for k, v in base.items()}
        )
        delete = tuple(_safe_path(d, shown, at) for d in raw.get("delete") or ())
        if delete and base_files is None:
            raise ConfigError(shown, at, "`delete` needs `base_files` (pull-request mode)")
        fixed = raw.get("fixed")
        if fixed is not None:
            fixed = {_safe_path(k, shown, at): case_text(v) for k, v in fixed.items()}
        expect = []
        for j, e in enumerate(raw["expect"]):
            path_ = e.get("path")
            if path_ is None:
                if not files:
                    raise ConfigError(
                        shown,
                        line_of(node, ["cases", i, "expect", j]),
                        "an expected finding without `path` needs a case with files "
                        "(it defaults to the first one)",
                    )
                path_ = next(iter(files))
            expect.append(Expected(str(path_), int(e["line"]), int(e["col"]), e.get("message")))
        today = raw.get("today")
        try:
            day = dt.date.fromisoformat(today) if today is not None else None
        except ValueError:
            raise ConfigError(
                shown, line_of(node, ["cases", i, "today"]), f"today: {today!r} is not a date"
            ) from None
        out.append(
            Case(
                rule=rule,
                name=name,
                file=shown,
                line=at,
                files=files,
                expect=tuple(expect),
                baseline=raw.get("baseline"),
                policy=raw.get("policy"),
                base_files=base_files,
                delete=delete,
                today=day,
                rule_line=line_of(node, ["rule"]) or 1,
                fixed=fixed,
            )
        )
        stray = [p for p in fixed or () if p not in out[-1].tree]
        if stray:
            raise ConfigError(
                shown,
                line_of(node, ["cases", i, "fixed"]),
                f"fixed: {stray[0]!r} is not a file of the case (`files`, or in pull-request "
                "mode a file of `base_files` the head keeps)",
            )
    return out


def find_case_files(paths: Iterable[Path]) -> list[Path]:
    """Case files: the given files, and every `*.yml`/`*.yaml` under the given directories."""
    out: list[Path] = []
    for p in paths:
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in (".yml", ".yaml") and f.is_file())
        else:
            raise ConfigError(str(p), None, "rule cases not found: no such file or directory")
    return out


# --- running one case ------------------------------------------------------------------------


def case_text(content: str) -> str:
    """A file's text as a case gives it (`files`, `base_files`, `fixed`): a content starting
    with a newline is dedented."""
    return textwrap.dedent(content) if content.startswith("\n") else content


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Write a case's files below `root` (a content starting with a newline is dedented)."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(case_text(content), "utf-8")


def _git(repo: Path, *args: str) -> None:
    """git with no user or system configuration, hooks or signing: a case's repository is
    built the same way everywhere, and nothing in it runs."""
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "tether verify",
        "GIT_AUTHOR_EMAIL": "verify@tether.invalid",
        "GIT_COMMITTER_NAME": "tether verify",
        "GIT_COMMITTER_EMAIL": "verify@tether.invalid",
    }
    subprocess.run(
        ["git", "-c", f"core.hooksPath={os.devnull}", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env=env,
    )


def case_policy(case: Case, policy: Policy, workdir: Path) -> Policy:
    """The operator policy a case runs under: the verified one, or the case's own `policy:`
    (whose baselines default to the verified policy's; it may name the case's `baseline` as
    `_baseline.yml`, written beside it). Rule directories are not the policy's concern here:
    the runner passes the directories under test."""
    if case.policy is not None:
        f = workdir / "_policy.yml"
        f.write_text(case.policy, "utf-8")
        own = load_policy(f, shown=f"{case.where} (policy)")
        policy = dataclasses.replace(own, baselines=own.baselines or policy.baselines)
    return dataclasses.replace(policy, baselines=policy.baselines or ("default",), rule_dirs=())


def run_case(
    case: Case,
    *,
    policy: Policy | None = None,
    rule_dirs: Sequence[Path] = (),
    today: dt.date | None = None,
    workdir: Path | None = None,
) -> CaseResult:
    """Scan the case's repository and compare the rule's findings with `expect`. `rule_dirs`:
    rule directories beside the embedded ones; `workdir`: an empty directory to build the
    case in (default: a temporary one, removed afterwards)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="tether-case-") as tmp:
            return run_case(
                case, policy=policy, rule_dirs=rule_dirs, today=today, workdir=Path(tmp)
            )
    from .config import discover
    from .pr import scan_pr
    from .scanning import ScanOptions, scan

    try:
        layers: list[str] = []
        if case.baseline is not None:  # written first: the case's policy may name it
            f = workdir / "_baseline.yml"
            f.write_text(case.baseline, "utf-8")
            layers.append(str(f))
        effective = case_policy(case, policy or Policy(), workdir)
        options = ScanOptions(
            baselines=layers,
            rule_dirs=rule_dirs,
            today=case.today or today or dt.date.today(),
            preview=True,
            policy=effective,
        )
        root = workdir / "repo"
        root.mkdir()
        if case.base_files is not None:
            _git(root, "init", "-q", "-b", "main")
            write_tree(root, case.base_files)
            _git(root, "add", "-A")
            _git(root, "commit", "-qm", "base", "--allow-empty")
            _git(root, "checkout", "-qb", "feature")
            for rel in case.delete:
                (root / rel).unlink()
            write_tree(root, case.files)
            _git(root, "add", "-A")
            _git(root, "commit", "-qm", "head", "--allow-empty")
        else:
            write_tree(root, case.files)

        def run(options: ScanOptions) -> Report:
            if case.base_files is not None:
                return scan_pr(root, "main", options)
            return scan(root, options, config=discover(root))

        report = run(options)
    except ConfigError as e:
        return CaseResult(case, (), (f"configuration error: {e}",))
    except OSError as e:  # a file and a directory of one name, a name like "."
        return CaseResult(case, (), (f"cannot build the case: {type(e).__name__}: {e}",))
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip()
        return CaseResult(case, (), (f"cannot build the case's git repository: {err}",))
    actual = tuple(
        Actual(f.path, f.span.start_line, f.span.start_col, f.message)
        for f in report.findings
        if f.rule_id == case.rule
    )
    problems = [
        f"{d.code} at {d.path}:{d.span.start_line}: {d.message}"
        for d in report.diagnostics
        if d.code in FATAL_CODES
    ]
    got = [(a.path, a.line, a.col) for a in actual]
    want = [(e.path, e.line, e.col) for e in case.expect]
    if got != want:
        problems.append(_difference(case.expect, actual))
    else:
        problems += [
            f"finding at {a.where}: message does not contain {e.message!r}"
            for e, a in zip(case.expect, actual, strict=True)
            if e.message is not None and e.message not in a.message
        ]
    # the rescan `apply` checks the edits with: the same scan, nothing taken from a cache
    rescan = dataclasses.replace(options, result_cache=False)
    try:
        fixed, wrong = _check_fix(case, root, report, lambda: run(rescan))
    except ConfigError as e:  # (a rescan's; the first scan read the same configuration)
        fixed, wrong = {}, [f"fixed: configuration error in the rescan: {e}"]
    return CaseResult(case, actual, tuple(problems + wrong), fixed)


def _tree_text(root: Path, rel: str) -> str | None:
    from .fix import read_file

    data = read_file(root / rel)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _check_fix(
    case: Case, root: Path, report: Report, rescan: Callable[[], Report]
) -> tuple[dict[str, str], list[str]]:
    """Apply the remedies of the rule's findings as `tether fix` does (plan, write, rescan,
    put back what the rescan refuses) and compare the case's files with `fixed:`. The
    files the remedies changed (path -> text after them), and the problems."""
    from . import fix as fix_mod

    remedied = [f for f in report.findings if f.rule_id == case.rule and f.fix is not None]
    planned = fix_mod.plan(root, remedied)
    if not planned.files and not planned.refused:
        if case.fixed is None:
            return {}, []
        none = "carry none" if not remedied else "carry none that changes anything"
        return {}, [f"expects a fix (`fixed:`), but the rule's findings {none}"]
    before = {rel: _tree_text(root, rel) for rel in case.tree}
    try:
        applied = fix_mod.apply(root, planned, report, rescan)
    except fix_mod.RescanFailed as e:
        return {}, [f"fixed: the scan after applying the remedies failed: {e}"]
    problems = [f"fixed: not applied: {p}" for p in [*map(str, planned.refused), *applied.problems]]
    after = {rel: _tree_text(root, rel) for rel in case.tree}
    changed = {rel: text for rel, text in after.items() if text is not None and text != before[rel]}
    if case.fixed is None:
        if changed:
            problems.append(
                "has a remedy but no `fixed:` expectation; with the remedies applied the "
                "case's files read as follows (check them, then add them to the case):\n"
                + _fixed_yaml(changed)
            )
        return changed, problems
    for rel in case.tree:
        want = case.fixed.get(rel, before[rel])
        if after[rel] != want:
            problems.append(_fixed_difference(rel, want, after[rel], rel in case.fixed))
    return changed, problems


def _fixed_yaml(texts: Mapping[str, str]) -> str:
    """`fixed:` as a case would write it (a literal block where the text allows one)."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    def scalar(text: str) -> str:
        plain = text.endswith("\n") and not any(
            unicodedata.category(c) == "Cc" and c not in "\t\n" for c in text
        )
        return LiteralScalarString(text) if plain else text

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump({"fixed": {rel: scalar(text) for rel, text in texts.items()}}, out)
    return out.getvalue().rstrip("\n")


def _fixed_difference(rel: str, want: str | None, got: str | None, listed: bool) -> str:
    """A file that does not read as `fixed:` says, as a unified diff (- expected, + actual;
    a carriage return shown as \\r, a last line without a newline marked)."""
    if want is None or got is None:
        return f"fixed: {rel} cannot be read after the remedies"
    head = (
        f"fixed: {rel} differs from the expected fixed text (- expected, + actual):"
        if listed
        else f"fixed: {rel} is not in `fixed:`, so it must be unchanged, but the remedies "
        "changed it (- before, + after):"
    )
    lines = []
    for line in difflib.unified_diff(
        _lines(want),
        _lines(got),
        fromfile=f"expected/{rel}" if listed else f"before/{rel}",
        tofile=f"actual/{rel}" if listed else f"after/{rel}",
    ):
        body = line.removesuffix("\n")
        lines.append(body.replace("\r", "\\r"))
        if not line.endswith("\n"):
            lines.append("\\ No newline at end of file")
    return "\n".join([head, *("  " + line for line in lines)])


def _lines(text: str) -> list[str]:
    """Lines ending at \\n only (as tether counts them; str.splitlines breaks at more)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _difference(expect: Sequence[Expected], actual: Sequence[Actual]) -> str:
    want = [e.where for e in expect]
    got = [a.where for a in actual]
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    if not expect:
        return f"expected no finding, got {len(actual)}"
    if not actual:
        return f"expected {len(expect)} finding(s), got none"
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"unexpected {', '.join(extra)}")
    if not parts:
        parts.append("findings in another order than expected (list them by path, line, column)")
    return "findings differ: " + "; ".join(parts)


# --- tether verify ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """What `tether verify` checks: the policy, the rules under test and the case files."""

    root: Path
    policy: Policy
    policy_file: Path | None
    rule_dirs: tuple[Path, ...]  # rules under test (may include tether's own rules/)
    case_paths: tuple[Path, ...]


def _dedupe(paths: Iterable[Path]) -> tuple[Path, ...]:
    seen: set[Path] = set()
    out = []
    for p in paths:
        real = p.resolve()
        if real not in seen:
            seen.add(real)
            out.append(p)
    return tuple(out)


def discover(
    root: Path,
    *,
    policy_file: Path | None = None,
    rules: Sequence[Path] = (),
    cases: Sequence[Path] = (),
) -> Layout:
    """The layout of the policy repository at `root` (see the module docstring)."""
    if not root.is_dir():
        raise ConfigError(str(root), None, "not a directory")
    if policy_file is None:
        policy_file = next((root / n for n in POLICY_NAMES if (root / n).is_file()), None)
    policy = load_policy(policy_file, shown=_display(policy_file)) if policy_file else Policy()
    for d in rules:
        if not d.is_dir():
            raise ConfigError(str(d), None, "rules directory does not exist")
    rule_dirs = _dedupe([*policy.rule_dirs, *rules])
    if not rule_dirs and (root / RULES_DIR).is_dir():
        rule_dirs = (root / RULES_DIR,)
    if cases:
        case_paths = tuple(cases)
    elif (root / CASES_DIR).is_dir():
        case_paths = (root / CASES_DIR,)
    else:
        raise ConfigError(
            _display(root),
            None,
            f"no rule cases: expected a {CASES_DIR}/ directory here, or pass --cases",
        )
    return Layout(root, policy, policy_file, rule_dirs, case_paths)


def layout_rules(layout: Layout) -> dict[str, Rule]:
    """tether's rules and the layout's rule directories, as a scan with the policy loads."""
    from .scanning import embedded_rules_dir

    embedded = embedded_rules_dir().resolve()
    extra = [d for d in layout.rule_dirs if d.resolve() != embedded]
    return load_rules([embedded_rules_dir(), *extra])


def check_policy(policy: Policy, rules: Mapping[str, Any] | None = None) -> None:
    """Load what the policy names, as a scan would, so a malformed file is a configuration
    error here rather than in every case: the baseline layers (with each overlay and each
    `repos:` entry's layers on top), the central exception registries, and, given the
    rules, the policy check a scan makes before judging (unknown rule ids and packs, unset
    baseline keys, parameter values)."""
    import datetime as dt

    from .exceptions import load_central
    from .policy import baseline as baseline_mod
    from .policy.engine import prepare

    base = list(policy.baselines or ("default",))
    stacks = [base, *([*base, o] for o in policy.overlays.values())]
    stacks += [[*base, *entry.baselines] for entry in policy.repos]
    registries = list(policy.exceptions)
    for stack in stacks:
        loaded = baseline_mod.load(stack)
        registries += loaded.exception_files
        if rules is not None:
            prepare(rules, loaded, dt.date.today(), preview=True)
    records = load_central(dict.fromkeys(registries))
    if rules is not None:
        from .exceptions import expand

        for rec in records:
            if not expand(rec.rule, rules):
                raise ConfigError(
                    rec.file,
                    rec.span.start_line,
                    f"exception for {rec.rule!r}: no rule or pack of that name"
                    f"{did_you_mean(str(rec.rule), rules)}",
                )


@dataclass(frozen=True)
class RuleCheck:
    """A rule under test that fails a check of its own (cases it lacks, empty docs)."""

    rule: str
    file: str
    line: int | None
    problem: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Verification:
    layout: Layout
    tested: list[str]  # ids of the rules under test (the --rule selection applied)
    results: list[CaseResult] = field(default_factory=list)
    checks: list[RuleCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and not self.checks


def _rule_files(dirs: Iterable[Path]) -> dict[str, Path]:
    """Rule id -> file, for the directories under test (a rule's file name is its id)."""
    out: dict[str, Path] = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.suffix in (".yml", ".yaml") and p.is_file():
                out.setdefault(p.stem, p)
    return out


def did_you_mean(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def docs_problems(rule: Rule, path: Path) -> list[RuleCheck]:
    """Docs a rule must fill in: a title (if written), what it checks, why, a failing example
    and what to use instead; none blank and none a placeholder (TODO, TBD, ...)."""
    shown = _display(path)
    data, node = load_yaml(path, shown)
    docs = (data or {}).get("docs") or {}
    out = []
    fields: list[tuple[list[str], Any]] = [(["docs", f], docs.get(f)) for f in DOCS_FIELDS]
    if "title" in (data or {}):
        fields.insert(0, (["title"], data["title"]))
    for where, value in fields:
        text = str(value or "").strip()
        name = ".".join(where)
        if not text:
            out.append(RuleCheck(rule.id, shown, line_of(node, where), f"{name} is empty"))
        elif _PLACEHOLDER.search(text):
            out.append(
                RuleCheck(
                    rule.id,
                    shown,
                    line_of(node, where),
                    f"{name} is a placeholder ({text[:40]!r}); write it for the people who "
                    "will read it in `tether explain` and code scanning",
                )
            )
    return out


def verify(
    layout: Layout,
    *,
    only: Collection[str] = (),
    today: dt.date | None = None,
    progress: Callable[[CaseResult], None] | None = None,
) -> Verification:
    """Run the layout's cases and check the rules under test. ConfigError when the policy,
    a rule or a case file is malformed, or a case or `only` names no rule."""
    from .scanning import embedded_rules_dir

    embedded = embedded_rules_dir().resolve()
    extra = [d for d in layout.rule_dirs if d.resolve() != embedded]
    rules = layout_rules(layout)
    check_policy(layout.policy, rules)
    files = _rule_files(layout.rule_dirs)
    wanted = {r.upper() for r in only}
    unknown = sorted(wanted - set(rules))
    if unknown:
        raise ConfigError("--rule", None, f"no rule {unknown[0]}{did_you_mean(unknown[0], rules)}")
    tested = sorted(r for r in files if r in rules and (not wanted or r in wanted))
    cases: list[Case] = []
    for f in find_case_files(layout.case_paths):
        loaded = load_cases(f)
        for c in loaded:
            if c.rule not in rules:
                raise ConfigError(
                    c.file, c.rule_line, f"no rule {c.rule}{did_you_mean(c.rule, rules)}"
                )
        cases += [c for c in loaded if not wanted or c.rule in wanted]
    out = Verification(layout, tested)
    policy = layout.policy
    for case in cases:
        result = run_case(case, policy=policy, rule_dirs=extra, today=today)
        out.results.append(result)
        if progress is not None:
            progress(result)
    for rid in tested:
        mine = [c for c in cases if c.rule == rid]
        shown = _display(files[rid])
        if not any(c.expects_finding for c in mine):
            out.checks.append(
                RuleCheck(
                    rid,
                    shown,
                    None,
                    "no case expects a finding: add a failing case (`expect:` lists the "
                    "finding's line and column)",
                )
            )
        if not any(not c.expects_finding for c in mine):
            out.checks.append(
                RuleCheck(
                    rid,
                    shown,
                    None,
                    "no case expects none: add a passing case (`expect: []`)",
                )
            )
        if rules[rid].fix is not None and not any(c.fixed is not None for c in mine):
            out.checks.append(
                RuleCheck(
                    rid,
                    shown,
                    None,
                    "declares `fix:` but no case expects a fixed text: add a failing case "
                    "whose finding has a remedy, with `fixed:`",
                )
            )
        out.checks += docs_problems(rules[rid], files[rid])
    return out


def to_json(v: Verification) -> dict[str, Any]:
    return {
        "passed": v.passed,
        "policy": _display(v.layout.policy_file) if v.layout.policy_file else None,
        "rule_dirs": [_display(d) for d in v.layout.rule_dirs],
        "case_paths": [_display(p) for p in v.layout.case_paths],
        "rules": v.tested,
        "cases": [
            {
                "rule": r.case.rule,
                "name": r.case.name,
                "file": r.case.file,
                "line": r.case.line,
                "passed": r.passed,
                "problems": list(r.problems),
                "expected": [e.to_json() for e in r.case.expect],
                "actual": [a.to_json() for a in r.actual],
                # files as the case expects them after the rule's remedies (null: the case
                # expects none), and the files the remedies changed, with their text
                "expected_fixed": None if r.case.fixed is None else dict(r.case.fixed),
                "fixed": dict(r.fixed),
            }
            for r in v.results
        ],
        "rule_checks": [
            {"rule": c.rule, "file": c.file, "line": c.line, "problem": c.problem} for c in v.checks
        ],
        "summary": {
            "cases": len(v.results),
            "passed": sum(r.passed for r in v.results),
            "failed": sum(not r.passed for r in v.results),
            "rules": len(v.tested),
            "rule_checks_failed": len(v.checks),
        },
    }

"""The `tether` command: parses flags, calls the library, formats, and picks the exit code.

Exit codes follow linter conventions: 0 nothing at or above the fail level, 1 findings (or,
with --strict, diagnostics), 2 usage or configuration error.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .github_cli import github_options

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .policy.operator import Policy

# each command imports what it uses when it runs: `tether --version`, `tether rules` and
# the rest do not pay for the scanner's imports (tests/test_startup.py holds the budget)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_CONFIG = 0, 1, 2
_FAIL_LEVELS = ("error", "warning", "note", "never")


def _cache_settings(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """--cache-dir / --no-cache hold for the command's run (see policy.cache.settings)."""
    from .policy import cache as cache_mod

    if param.name == "no_cache" and value:
        ctx.with_resource(cache_mod.settings(disabled=True))
    elif param.name == "cache_dir" and value is not None:
        if not value.strip():  # an unset $VAR: not the current directory
            raise click.BadParameter("must name a directory (it is empty)")
        ctx.with_resource(cache_mod.settings(cache_dir=Path(value)))


def _cache_options(f: Any) -> Any:
    f = click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=_cache_settings,
        help="Neither read nor write the cache (same as TETHER_NO_CACHE=1).",
    )(f)
    return click.option(
        "--cache-dir",
        metavar="DIR",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_cache_settings,
        help="Cache directory: what files yielded, by content, so an unchanged file is not "
        "parsed again; a whole repository's judged results, reused while every input reads the "
        "same (TETHER_NO_RESULT_CACHE=1: not those); and which rule files were checked "
        "(default: $TETHER_CACHE_DIR, else $XDG_CACHE_HOME/tether, else ~/.cache/tether; "
        "created 0700 and tagged CACHEDIR.TAG, used only when owned by you and writable by no "
        "one else).",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tether")
def main() -> None:
    """tether: golden-path drift and compliance scanner."""


@main.command("scan")
@click.argument(
    "paths", nargs=-1, metavar="[PATH]...", type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--root",
    "root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The repository root, instead of the top of the git work tree holding PATH: a "
    "directory that stands for a repository of its own (PATH defaults to it). Not with "
    "--diff-base.",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="FILE|NAME",
    help="Baseline file or embedded name (repeatable; later layers override). "
    "Default: the policy's, else the embedded 'default'.",
)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Extra rule directory (repeatable), beside the embedded rules.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "markdown"]),
    default="text",
    show_default=True,
    help="Format of the main output (github: workflow-command annotations for a GitHub "
    "Actions step; markdown: the job summary).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the main output to FILE instead of standard output; the summary and the "
    "PASS/FAIL line still go to standard error (for the CI log).",
)
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write SARIF 2.1.0 to FILE (for GitHub code scanning).",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON report to FILE.",
)
@click.option(
    "--fail-on",
    type=click.Choice(_FAIL_LEVELS),
    default=None,
    help="Lowest finding level that fails the run (exit 1). Default: the policy's fail_on, "
    "else error; a repository's .tether.yaml may only make it stricter.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail on warning-level diagnostics (error-level ones, such as a file tether "
    "could not read, always fail).",
)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="GLOB",
    help="Skip paths matching GLOB (repeatable).",
)
@click.option(
    "--category",
    default="tether",
    show_default=True,
    callback=lambda _ctx, _param, v: _category(v),
    help="SARIF runAutomationDetails category (one per configuration you upload).",
)
@click.option(
    "--no-config",
    is_flag=True,
    help="Ignore the repository's own configuration: .tether.yaml, "
    ".tether/exceptions.yaml and inline tether:ignore comments.",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The operator's policy (baselines, overlays, rules, central exceptions, approvers, "
    "what a repository may configure); see docs/security.md.",
)
@click.option(
    "--repo",
    "repo_name",
    metavar="OWNER/NAME",
    callback=lambda _ctx, _param, v: _repo(v),
    help="The repository's name, for central exceptions scoped by repository "
    "(the Action passes GITHUB_REPOSITORY).",
)
@click.option("--preview", is_flag=True, help="Also run rules whose status is preview.")
@click.option(
    "--exceptions",
    "exception_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="Central exception registry (repeatable), beside the baseline's own.",
)
@click.option(
    "--include-excepted",
    is_flag=True,
    help="Put excepted findings in the SARIF too, as suppressions with the "
    "justification (code scanning ignores suppressions; default: left out).",
)
@click.option(
    "--diff-base",
    metavar="REF",
    help="PR mode: compare with the merge base of HEAD and REF; report new, fixed "
    "and unchanged findings, and apply --fail-on to new findings only.",
)
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Parse in up to N worker processes (default: one per idle CPU when the repository "
    "is large enough to gain; a worker needs 1 MiB of input to pay for itself, so a small "
    "repository is parsed in one process whatever N; 1: no workers).",
)
@click.option(
    "--max-facts",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Stop reading files once N facts have been read (default 250,000; the file that "
    "reaches it is read whole): the rest is reported as not judged, an error.",
)
@click.option(
    "--max-findings",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Report at most N findings (default 50,000): judging stops there, an error; later "
    "files are still read, so what they say (a parse error) is still reported.",
)
@click.option(
    "--timings",
    is_flag=True,
    help="Print where the time went, on standard error: the scan's phases (load: rules and "
    "baselines; discover: walking the tree, and with the result cache reading each file to "
    "see whether a scan before judged the same; parse; facts: observing, the fact cache, "
    "cross-file work; policy: judging and exceptions), how many files came from the fact "
    "cache or whether the judged results came from the result cache, writing the reports, "
    "and tether's wall and CPU time after interpreter start-up.",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the console output (default: on a terminal, unless NO_COLOR is set; "
    "FORCE_COLOR forces it). Files written with -o never get colour codes.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary and the PASS/FAIL line.")
@_cache_options
def scan_cmd(
    paths: tuple[Path, ...],
    root: Path | None,
    baselines: tuple[str, ...],
    rule_dirs: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    sarif_file: Path | None,
    json_file: Path | None,
    fail_on: str | None,
    strict: bool,
    excludes: tuple[str, ...],
    category: str,
    no_config: bool,
    policy_file: Path | None,
    repo_name: str | None,
    preview: bool,
    exception_files: tuple[str, ...],
    include_excepted: bool,
    diff_base: str | None,
    markdown_file: Path | None,
    jobs: int | None,
    max_facts: int | None,
    max_findings: int | None,
    timings: bool,
    color: bool | None,
    quiet: bool,
) -> None:
    """Scan the repository at PATH (default: the current directory) against the golden-path
    baseline; or only some of its files and directories (PATH...).

    The repository's root (the top of the git work tree holding PATH, else PATH itself, or
    --root) gives the configuration (.tether.yaml, .tether/exceptions.yaml), and every
    reported path is relative to it. Repository-level rules (ownership, required files)
    and stale exceptions are judged only when the whole repository is scanned."""
    from .errors import ConfigError
    from .gate import decide
    from .policy.operator import Policy
    from .policy.operator import load as load_policy
    from .pr import TargetError, resolve, scan_repository

    started, cpu_start = time.perf_counter(), os.times()
    from .report import jsonreport, text, write_pieces
    from .scanning import MAX_FACTS, MAX_FINDINGS, ScanOptions

    if root is not None and diff_base:
        raise click.UsageError(
            "--root and --diff-base do not go together: PR mode compares the git work tree "
            "from its top"
        )
    try:
        target = resolve(paths, root)
    except TargetError as e:
        raise click.UsageError(str(e)) from None
    # tether's own reports written inside the repository are not scanned: they change on
    # every run (timings), which would make every rescan a new scan
    excludes = (
        *excludes,
        *_own_outputs(target.root, (output, sarif_file, json_file, markdown_file)),
    )
    try:
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        topics, properties = _repository_facts(policy, repo_name)
        options = ScanOptions(
            # a pull request's gate judges what the change holds, never what the runner's
            # cache says it held (see factcache.py)
            fact_cache=not diff_base,
            max_facts=max_facts or MAX_FACTS,
            max_findings=max_findings or MAX_FINDINGS,
            repo_topics=topics,
            repo_properties=properties,
            baselines=baselines,
            rule_dirs=rule_dirs,
            excludes=excludes,
            jobs=jobs,
            preview=preview,
            exceptions=exception_files,
            repo_name=repo_name,
            policy=policy,
            fail_on=fail_on,
            repo_config=not no_config,
        )
        report = scan_repository(target, options, diff_base)
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    level = report.fail_on
    # the exit status and every verdict line (console, Markdown) come from this one decision
    decision = decide(report, level, strict)

    def render(kind: str) -> str:
        if kind == "markdown":
            from .report import markdown

            return markdown.render(report, strict=strict) + "\n"
        if kind == "github":
            from .report import github

            # workflow commands, as ruff/zizmor print them: annotations when run in a step
            return github.render(report)
        # the main output to a file: never colour codes, whatever --color says
        use_color = output is None and _colour(color)
        return text.render(
            report,
            color=use_color,
            quiet=quiet,
            verdict=text.verdict_line(decision, use_color),
        )

    def pieces(kind: str) -> Iterator[str]:
        # JSON and SARIF are written as they are made, a finding at a time: a report of
        # 50,000 findings is never held whole (issue 11)
        if kind == "sarif":
            from .report import sarif  # sarif-om/attrs load only when SARIF is asked for

            yield from sarif.chunks(
                sarif.build(
                    report,
                    category=category,
                    levels=report.levels,
                    include_excepted=include_excepted,
                    lazy=True,
                )
            )
        elif kind == "json":
            yield from jsonreport.chunks(report)
        else:
            yield render(kind)

    reports_start = time.perf_counter()
    try:
        if output is not None:
            write_pieces(output, pieces(fmt))
        else:
            try:
                # click strips colour codes off a pipe unless told: --color/FORCE_COLOR mean it
                for piece in pieces(fmt):
                    click.echo(piece, nl=False, color=fmt == "text" and _colour(color))
            except BrokenPipeError:
                # the reader went away (`| head`): it read what it wanted; the other outputs
                # are still written and the exit status is still the scan's
                _stdout_gone()
        for extra, kind in (
            (sarif_file, "sarif"),
            (json_file, "json"),
            (markdown_file, "markdown"),
        ):
            if extra is not None:
                write_pieces(extra, pieces(kind))
        if output is not None:
            # the main output went to a file: the console (a CI log) still says what was
            # found and why the step passes or fails; colour only here, never in the file
            err_color = _colour(color, sys.stderr)
            click.echo(text.summary(report), err=True)
            click.echo(text.verdict_line(decision, err_color), err=True, color=err_color)
    except OSError as e:
        click.echo(f"tether: cannot write output: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    from .policy.cache import refusal

    refused = refusal()
    if refused is not None:
        click.echo(f"tether: note: {refused}", err=True)
    if timings:
        end, cpu_end = time.perf_counter(), os.times()
        click.echo(
            text.timings_line(
                report.timings,
                reports=end - reports_start,
                wall=end - started,
                cpu=sum(cpu_end[:4]) - sum(cpu_start[:4]),
                pr=report.diff is not None,
            ),
            err=True,
        )
    sys.exit(EXIT_FINDINGS if decision.failed else EXIT_CLEAN)


def _own_outputs(root: Path, files: tuple[Path | None, ...]) -> list[str]:
    """The repository paths of the report files this run writes under `root` (as exclude
    patterns: paths with glob characters are left alone)."""
    top = os.path.realpath(root)
    out = []
    for f in files:
        if f is None:
            continue
        real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(f))), f.name)
        if real.startswith(top + os.sep):
            rel = real[len(top) + 1 :].replace(os.sep, "/")
            if not any(c in rel for c in "*?[]{}!\\"):
                out.append(rel)
    return out


def _stdout_gone() -> None:
    """Standard output's reader is gone: what is still buffered for it, and anything written
    later, goes nowhere (rather than an error at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _colour(flag: bool | None, stream: Any = None) -> bool:
    """--color/--no-color, else FORCE_COLOR (non-empty, not "0"), else NO_COLOR (any value:
    no colour), else whether `stream` (default: standard output) is a terminal."""
    import os

    if flag is not None:
        return flag
    force = os.environ.get("FORCE_COLOR", "")
    if force and force != "0":
        return True
    if os.environ.get("NO_COLOR"):
        return False
    return (stream or sys.stdout).isatty()


def _repository_facts(policy: Policy, repo_name: str | None) -> tuple[Any, Any]:
    """Topics and custom properties for the policy's `repos:` entries, read through the API
    when they are needed and a token is present (as the org scan reads them)."""
    import os

    if repo_name is None:
        return (), {}
    from .org.lookup import needs_lookup, repository_facts, without_token_note

    if not needs_lookup(policy):
        return (), {}
    note = without_token_note(policy, os.environ)
    if note is not None:
        click.echo(f"tether: warning: {note}", err=True)
        return (), {}
    return repository_facts(repo_name, os.environ)


def _repo(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+", value):
        raise click.BadParameter("OWNER/NAME, e.g. acme/payments")
    return value


def _category(value: str) -> str:
    cleaned = value.strip().strip("/")
    if not cleaned or any(c.isspace() for c in cleaned):
        raise click.BadParameter("a non-empty name without spaces, e.g. tether or tether/infra")
    return cleaned


def _load_rules(rule_dirs: tuple[Path, ...]) -> dict[str, Any]:
    from .errors import ConfigError
    from .policy.rules import load_rules
    from .scanning import embedded_rules_dir

    try:
        return load_rules([embedded_rules_dir(), *rule_dirs])
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)


@main.command("rules")
@click.option("--pack", multiple=True, help="Only rules of this pack (repeatable).")
@click.option(
    "--category",
    "categories",
    multiple=True,
    type=click.Choice(["bounded-autonomy", "drift", "ownership", "compliance"]),
    help="Only rules of this category (repeatable).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["preview", "stable", "deprecated"]),
    help="Only this status.",
)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Extra rule directory (repeatable).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Show each rule as this policy's baseline sets it (its rules: directories too).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="FILE|NAME",
    help="Show each rule as these baseline layers set it (after the policy's).",
)
@click.option("--preview", is_flag=True, help="As a scan with --preview would run them.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def rules_cmd(
    pack: tuple[str, ...],
    categories: tuple[str, ...],
    statuses: tuple[str, ...],
    rule_dirs: tuple[Path, ...],
    policy_file: Path | None,
    baselines: tuple[str, ...],
    preview: bool,
    fmt: str,
) -> None:
    """List the rules (id, pack, category, severity, status, title) and, under the effective
    baseline (the policy's layers and --baseline, else the embedded default), whether each
    runs, at which level, from when, and why not."""
    import datetime as dt

    from .errors import ConfigError
    from .policy import baseline as baseline_mod
    from .policy.engine import prepare, staging
    from .policy.operator import Policy
    from .policy.operator import load as load_policy

    try:
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        loaded = _load_rules((*policy.rule_dirs, *rule_dirs))
        baseline = baseline_mod.load([*(policy.baselines or ["default"]), *baselines])
        today = dt.date.today()
        ready = prepare(loaded, baseline, today, preview)
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)

    def effective(rule: Any) -> dict[str, Any]:
        st = staging(rule, baseline, today, preview)
        state = "off" if not st.enabled else "n/a" if rule.id in ready.inapplicable else "on"
        return {
            "runs": state,
            "level": st.level.value,
            "note": ready.inapplicable.get(rule.id)
            or st.note
            or ("disabled" if not st.enabled else ""),
            "enforce_from": baseline.rule_settings(rule.id).get("enforce_from"),
        }

    unknown = sorted(set(pack) - {r.pack for r in loaded.values()})
    if unknown:
        known = ", ".join(sorted({r.pack for r in loaded.values()}))
        raise click.BadParameter(
            f"no pack {', '.join(unknown)}; packs: {known}", param_hint="--pack"
        )
    rules = [
        r
        for r in sorted(loaded.values(), key=lambda r: (r.pack, r.id))
        if (not pack or r.pack in pack)
        and (not categories or r.category.value in categories)
        and (not statuses or r.status in statuses)
    ]
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "pack": r.pack,
                "category": r.category.value,
                "severity": r.severity.value,
                "status": r.status,
                "title": r.title,
                "requires": list(r.requires),
                "params": r.params_schema,
                "fixable": r.fix is not None,  # declares a remedy (tether fix, docs/fix.md)
                "effective": effective(r),
            }
            for r in rules
        ]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    # one line per rule on stdout (for grep and cut); what it was judged under on stderr
    click.echo(
        f"# under {', '.join(baseline.files)}; runs: on, off, or n/a (requires: unset)", err=True
    )
    for r in rules:
        row = effective(r)
        note = f"  [{row['note']}]" if row["note"] else ""
        click.echo(
            f"{r.id:<10} {r.pack:<15} {r.category.value:<17} {row['level']:<8} "
            f"{r.status:<10} {row['runs']:<4} {r.title}{note}"
        )


@main.command("explain")
@click.argument("rule_ids", nargs=-1, required=True)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Extra rule directory (repeatable).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also the rule directories this policy names, and its baseline for the values shown.",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="FILE|NAME",
    help="Baseline layers for the values shown (after the policy's; default: the embedded "
    "default).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="text for a terminal; markdown as docs/rules.md shows it.",
)
def explain_cmd(
    rule_ids: tuple[str, ...],
    rule_dirs: tuple[Path, ...],
    policy_file: Path | None,
    baselines: tuple[str, ...],
    fmt: str,
) -> None:
    """Print rules' documentation (several ids at once): what each does, why, an example,
    what to use instead, its parameters, and the baseline keys it reads with their
    effective values and where they were set."""
    import difflib

    from .docs import rule_markdown
    from .errors import ConfigError
    from .policy import baseline as baseline_mod
    from .policy.operator import Policy
    from .policy.operator import load as load_policy

    try:
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        baseline = baseline_mod.load([*(policy.baselines or ["default"]), *baselines])
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    rules = _load_rules((*policy.rule_dirs, *rule_dirs))
    chosen = []
    for rule_id in rule_ids:
        rule = rules.get(rule_id.upper())
        if rule is None:
            close = [r for r in rules if rule_id.lower() in (r.lower(), rules[r].name)]
            if not close:
                near = difflib.get_close_matches(rule_id.upper(), sorted(rules), n=1)
                hint = f"; did you mean {near[0]}?" if near else ""
                click.echo(
                    f"tether: no rule {rule_id!r}{hint} (`tether rules` lists them; a rule of "
                    "your own needs --rules DIR or --policy FILE)",
                    err=True,
                )
                sys.exit(EXIT_CONFIG)
            rule = rules[close[0]]
        chosen.append(rule)
    parts = []
    for rule in chosen:
        text = rule_markdown(rule)
        schema = rule.params_schema or {}
        props = schema.get("properties") or {}
        if props:
            rows = [
                f"- `{name}`: {spec.get('type', 'any')}"
                + (f", default `{json.dumps(spec['default'])}`" if "default" in spec else "")
                + (f" — {spec['description']}" if spec.get("description") else "")
                for name, spec in props.items()
                if isinstance(spec, dict)
            ]
            text += "\n\n### Parameters\nSet under `rules." + rule.id + ".params` or `packs."
            text += rule.pack + ".params` in a baseline:\n" + "\n".join(rows)
        keys = _baseline_values(rule, baseline)
        if keys:
            text += "\n\n### Baseline keys it reads\n" + "\n".join(keys)
        if rule.help_uri:
            text += f"\n\nMore: {rule.help_uri}"
        parts.append(text if fmt == "markdown" else _terminal(text))
    click.echo(("\n\n" if fmt == "markdown" else "\n\n" + "-" * 72 + "\n\n").join(parts))


def _baseline_values(rule: Any, baseline: Any) -> list[str]:
    """`- key = value (file:line)` for each baseline key the rule reads."""
    out = []
    for path in rule.baseline_paths:
        node: Any = baseline.data
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        dotted = ".".join(path)
        value = "(not set)" if node is None else json.dumps(node, default=str)
        if len(value) > 200:
            value = value[:199] + "…"
        ref = baseline.ref(dotted)
        where = f" ({ref.file}:{ref.line})" if ref is not None and node is not None else ""
        out.append(f"- `{dotted}` = {value}{where}")
    return out


def _terminal(markdown_text: str) -> str:
    """Markdown as a terminal shows it well: headings as plain titles, code blocks indented,
    inline code marks dropped."""
    out = []
    in_code = False
    for line in markdown_text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + line)
            continue
        stripped = line.lstrip("#").strip() if line.startswith("#") else line
        stripped = stripped.replace("`", "").replace("**", "")
        if stripped.startswith("*") and "*" in stripped[1:]:
            stripped = stripped[1:].replace("*", "", 1)  # an emphasised sentence
        if line.startswith("#"):
            out += ["", stripped.upper() if line.startswith("# ") else stripped]
        else:
            out.append(stripped)
    return "\n".join(out).strip() + "\n"


def _org_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", value):
        raise click.BadParameter("a GitHub organization login, e.g. acme")
    return value


def _shard(value: str | None) -> Any:
    from .org.select import Shard, parse_shard

    if value is None:
        return Shard()
    try:
        return parse_shard(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _properties(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from .org.select import parse_property

    try:
        return tuple(parse_property(v) for v in values)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--property") from None


@main.command("org")
@click.argument("org", callback=lambda _ctx, _param, v: _org_name(v))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for ORG/REPO.sarif, summary.json and summary.md.",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the scan's state (SQLite): unchanged repositories are not fetched "
    "again, and an interrupted run resumes. Keep one per shard.",
)
@github_options
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The org policy: baselines, `repos:` layers by property, topic or name, rules, "
    "central exceptions, what a repository may configure.",
)
@click.option("--include", multiple=True, metavar="GLOB", help="Only repositories matching.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip repositories matching.")
@click.option("--topic", "topics", multiple=True, help="Only repositories with this topic.")
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="NAME=VALUE",
    help="Only repositories whose custom property NAME has VALUE (repeatable; all must hold).",
)
@click.option("--include-archived", is_flag=True, help="Scan archived repositories too.")
@click.option("--include-forks", is_flag=True, help="Scan forks too.")
@click.option("--shard", "shard", metavar="K/N", help="Scan only shard K of N (stable by name).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Repositories judged at once (each with its own GitHub connection).",
)
@click.option("--upload", is_flag=True, help="Upload each SARIF to the repository's code scanning.")
@click.option(
    "--dashboard-issues",
    is_flag=True,
    help="Keep one issue per repository with its findings (for orgs without code scanning).",
)
@click.option(
    "--delivery",
    is_flag=True,
    help="Also measure each repository's deployments over the last 28 days (Deployments API, "
    "else runs of the baseline's golden deploy workflow) for `tether report`: costs API calls.",
)
@click.option(
    "--delivery-environment",
    default="production",
    show_default=True,
    metavar="NAME",
    help="The environment whose deployments --delivery counts ('*': any).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List what would be fetched, scanned, uploaded; with --fix, scan and say what each "
    "fix pull request would change, writing nothing (wins over --open-prs).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Plan each scanned repository's mechanical remedies (as `tether fix`), checked by a "
    "rescan; a dry run unless --open-prs.",
)
@click.option(
    "--open-prs",
    is_flag=True,
    help="With --fix: keep one pull request per repository (branch tether/golden-path) with "
    "the fixes; needs --state, and contents: write and pull-requests: write.",
)
@click.option(
    "--max-prs",
    type=click.IntRange(0, 100_000),
    default=None,
    metavar="N",
    help="Most fix pull requests opened, updated or closed in this run; the rest are deferred.",
)
@click.option(
    "--retry-refused",
    is_flag=True,
    help="With --fix: try again where GitHub refused tether's branch or pull request before.",
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="With --fix: also remedies that may change behaviour (new major versions, ...).",
)
@click.option(
    "--fail-on",
    type=click.Choice(_FAIL_LEVELS),
    default=None,
    help="Exit 1 when a repository has enforced findings at this level or above "
    "(default: findings never fail an org scan).",
)
@click.option(
    "--category",
    default=None,
    callback=lambda _ctx, _param, v: None if v is None else _category(v),
    help="Code scanning category (default tether-org/ORG; keep it stable across weeks).",
)
@click.option(
    "--upload-budget",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Most SARIF uploads in any hour; the rest wait for the next run.",
)
@click.option(
    "--upload-wait",
    type=click.FloatRange(0, 3600),
    default=120.0,
    show_default=True,
    help="Seconds to wait for code scanning to process each upload (0: do not wait).",
)
@_cache_options
def org_cmd(
    org: str,
    out: Path,
    state_dir: Path | None,
    github_url: str,
    app_id: str | None,
    app_private_key: Path | None,
    policy_file: Path | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    topics: tuple[str, ...],
    properties: tuple[str, ...],
    include_archived: bool,
    include_forks: bool,
    shard: str | None,
    jobs: int,
    upload: bool,
    dashboard_issues: bool,
    delivery: bool,
    delivery_environment: str,
    dry_run: bool,
    fix: bool,
    open_prs: bool,
    max_prs: int | None,
    retry_refused: bool,
    unsafe_fixes: bool,
    fail_on: str | None,
    category: str | None,
    upload_budget: int,
    upload_wait: float,
) -> None:
    """Scan every repository of the GitHub organization ORG (token in GITHUB_TOKEN, or a
    GitHub App) and write ORG/REPO.sarif, summary.json and summary.md in --out.

    Exit 0: every selected repository judged; 1: a repository, an upload or a dashboard
    update failed (summary.md says which and why), or findings reach --fail-on; 2: bad
    credentials, policy or flags; 130: interrupted (rerun the same command to resume)."""
    from .errors import ConfigError
    from .github.client import GitHubError
    from .github_cli import client_factory
    from .org.progress import ConsoleProgress
    from .org.run import Interrupted, OrgOptions, run_org
    from .org.select import Filters
    from .policy.operator import Policy
    from .policy.operator import load as load_policy

    if bool(app_id) != bool(app_private_key):
        raise click.UsageError("--app-id and --app-private-key go together")
    if (open_prs or max_prs is not None or retry_refused or unsafe_fixes) and not fix:
        raise click.UsageError(
            "--open-prs, --max-prs, --retry-refused and --unsafe-fixes go with --fix"
        )
    if open_prs and not dry_run and state_dir is None:
        raise click.UsageError(
            "--open-prs needs --state: tether records there which commit it wrote to its "
            "branch, and never overwrites one it did not write"
        )
    filters = Filters(
        include=include,
        exclude=exclude,
        topics=topics,
        properties=_properties(properties),
        include_archived=include_archived,
        include_forks=include_forks,
        shard=_shard(shard),
    )
    progress = ConsoleProgress()
    try:
        filters.check()
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        permissions = {"contents": "read", "metadata": "read"}
        if upload:
            permissions["security_events"] = "write"
        if dashboard_issues:
            permissions["issues"] = "write"
        if fix and open_prs and not dry_run:
            permissions["contents"] = "write"
            permissions["pull_requests"] = "write"
        if delivery:
            permissions["deployments"] = "read"
            permissions["actions"] = "read"
        if (
            filters.needs_properties
            or any(e.properties for e in policy.repos)
            or any(s.startswith("property:") for s in policy.ownership)
        ):
            permissions["organization_custom_properties"] = "read"
        clients = client_factory(org, github_url, app_id, app_private_key, permissions)
        options = OrgOptions(
            org=org,
            out=out,
            policy=policy,
            filters=filters,
            state_dir=state_dir,
            jobs=jobs,
            upload=upload,
            dashboard=dashboard_issues,
            dry_run=dry_run,
            delivery=delivery,
            delivery_environment=None if delivery_environment == "*" else delivery_environment,
            category=category,
            upload_budget=upload_budget,
            upload_wait=upload_wait,
            fix=fix,
            open_prs=open_prs and not dry_run,
            max_prs=max_prs,
            retry_refused=retry_refused,
            unsafe_fixes=unsafe_fixes,
        )
        with _terminate_as_interrupt():
            result = run_org(options, clients, progress)
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    except Interrupted:
        click.echo("tether: interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except GitHubError as e:
        click.echo(f"tether: GitHub: {e.message}", err=True)
        sys.exit(EXIT_FINDINGS)
    except OSError as e:
        click.echo(f"tether: cannot write output: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    from .report.text import say

    for line in result.fixes:
        click.echo(say(line))
    if dry_run and fix:
        click.echo(
            f"tether org: fix dry run, {result.requests} read requests; nothing written to "
            "GitHub or the state (--open-prs without --dry-run writes the pull requests)",
            err=True,
        )
        sys.exit(EXIT_CLEAN)
    if dry_run:
        click.echo("\n".join(result.plan))
        click.echo(
            f"tether org: dry run, {result.requests} read requests, nothing written", err=True
        )
        sys.exit(EXIT_CLEAN)
    totals = result.summary.totals()
    click.echo(
        f"tether org: {totals['repositories']} repositories: {totals['scanned']} scanned, "
        f"{totals['unchanged']} unchanged, {totals['skipped']} skipped, {totals['failed']} "
        f"failed; {totals['findings']} findings; {result.requests} API requests; "
        f"summary in {out / 'summary.md'}",
        err=True,
    )
    problems = result.summary.failures()
    for why in problems:
        click.echo(f"tether org: failed: {why}", err=True)
    gated = [r.repo for r in result.summary.repos if r.fails(fail_on)]
    if gated:
        click.echo(
            f"tether org: {len(gated)} repositories have enforced findings at {fail_on} or "
            f"above (--fail-on {fail_on}): {', '.join(gated[:10])}"
            f"{', …' if len(gated) > 10 else ''}",
            err=True,
        )
    sys.exit(EXIT_FINDINGS if problems or gated else EXIT_CLEAN)


class _terminate_as_interrupt:
    """SIGTERM (a CI cancel, a pod eviction) stops the run like Ctrl-C: finished repositories
    stay recorded, temporary files are removed, the next run resumes."""

    def __enter__(self) -> None:
        import signal

        def handler(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        try:
            self._old = signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread (tests)
            self._old = None

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


@main.group("cache")
def cache_group() -> None:
    """The cache: which rule files were checked, and what each file yielded (see README)."""


@cache_group.command("info")
@_cache_options
def cache_info_cmd() -> None:
    """Where the cache is, whether it is used, and what it holds."""
    from .factcache import DB_NAME, entry_count, in_ci
    from .model import count
    from .policy import cache as cache_mod

    d = cache_mod.directory()
    if d is None:
        click.echo("cache: off (--no-cache or TETHER_NO_CACHE)")
        return
    if not d.is_dir():
        click.echo(f"cache directory: {d} (none yet)")
        return
    trusted = cache_mod.trusted_directory()
    click.echo(f"cache directory: {d}")
    if trusted is None:
        click.echo(f"not used: {(cache_mod.refusal() or '').split(': ', 1)[-1]}")
        return
    db = trusted / DB_NAME
    if in_ci() and not cache_mod.explicit():
        click.echo(
            "fact and result cache: not used on a CI service unless the directory is named "
            "(--cache-dir or TETHER_CACHE_DIR)"
        )
    elif db.is_file():
        size = sum(p.stat().st_size for p in trusted.glob(DB_NAME + "*") if p.is_file())
        click.echo(f"database: {db} ({size / 2**20:.1f} MiB)")
        click.echo(f"fact cache: {count(entry_count(trusted), 'entry', 'entries')}")
        judged = count(entry_count(trusted, "judged"), "whole-repository scan")
        off = (
            " (off: TETHER_NO_RESULT_CACHE)" if cache_mod.env_flag("TETHER_NO_RESULT_CACHE") else ""
        )
        click.echo(f"result cache: {judged}{off}")
        verdicts = count(entry_count(trusted, "verdicts"), "entry", "entries")
        click.echo(f"verdict memo: {verdicts}{off}")
    else:
        click.echo(f"fact and result cache: none yet ({db})")
    for name in (cache_mod.FILE_NAME, cache_mod.VALIDATED_FILE):
        p = trusted / name
        if p.is_file():
            click.echo(f"checked documents: {p} ({p.stat().st_size:,} bytes, hashes only)")
    old = [p.name for p in (trusted / n for n in _LEGACY) if p.exists()]
    if old:
        click.echo(f"from older versions: {', '.join(old)} (tether cache clear removes them)")


# what older versions of tether kept in the directory (one file per entry, then SQLite)
_LEGACY = ("facts-v1", "lines-v1", "rules-v1.json")


@cache_group.command("clear")
@_cache_options
def cache_clear_cmd() -> None:
    """Remove tether's cache files (the next scan parses and checks everything again), older
    versions' included."""
    import shutil

    from .factcache import DB_NAME
    from .policy import cache as cache_mod

    d = cache_mod.trusted_directory()
    if d is None:
        why = cache_mod.refusal() or "the cache is off (--no-cache or TETHER_NO_CACHE)"
        click.echo(f"tether: nothing cleared: {why}", err=True)
        sys.exit(EXIT_CONFIG)
    removed = 0
    for p in [
        *d.glob(DB_NAME + "*"),
        d / cache_mod.FILE_NAME,
        d / cache_mod.VALIDATED_FILE,
        *(d / n for n in _LEGACY),
    ]:
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as e:
            raise click.ClickException(f"cannot remove {p}: {e.strerror or e}") from None
    click.echo(f"removed {removed} file{'' if removed == 1 else 's'} from {d}")


@main.command("merge")
@click.argument(
    "shard_dirs",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def merge_cmd(shard_dirs: tuple[Path, ...], out: Path) -> None:
    """Combine the outputs of `tether org --shard K/N` runs into one org summary (SARIF
    files copied beside it). A shard directory without summary.json (a shard that never
    finished) is reported missing. Exit 1 when a shard is missing or a repository or a
    delivery failed; 2 when the shards do not belong to one scan."""
    from .errors import ConfigError
    from .org.summary import merge

    try:
        summary = merge(list(shard_dirs), out)
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    except OSError as e:
        click.echo(f"tether: cannot write output: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    totals = summary.totals()
    click.echo(
        f"tether merge: {len(summary.shards)} shards, {totals['repositories']} repositories "
        f"({totals['failed']} failed), {totals['findings']} findings; {out / 'summary.md'}",
        err=True,
    )
    for d in shard_dirs:
        if not (d / "summary.json").exists():
            click.echo(f"tether merge: {d}: no summary.json (the shard did not finish)", err=True)
    if summary.missing_shards:
        click.echo(f"tether merge: shards missing: {', '.join(summary.missing_shards)}", err=True)
    problems = summary.failures()
    for why in problems:
        if not why.startswith("shard "):
            click.echo(f"tether merge: failed: {why}", err=True)
    sys.exit(EXIT_FINDINGS if problems else EXIT_CLEAN)


def _register_policy_commands() -> None:
    from .adoption_cli import register as register_adoption
    from .fix_cli import register as register_fix
    from .policy_cli import register

    register(main)
    register_adoption(main)
    register_fix(main)


_register_policy_commands()


if __name__ == "__main__":  # pragma: no cover
    main()

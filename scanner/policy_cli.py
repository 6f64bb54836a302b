"""Commands for the platform team's policy repository: `tether verify`, `tether init`,
`tether schema`, `tether baselines`. `register(main)` adds them to the `tether` group.

Exit codes as everywhere in tether: 0 success, 1 a check failed (a rule case, a rule's own
checks), 2 usage or configuration error (a malformed policy, rule, baseline or case file; a file
`init` would overwrite)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def _fail_config(message: str) -> None:
    click.echo(f"tether: configuration error: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a date, YYYY-MM-DD") from None


# --- tether verify -------------------------------------------------------------------------


@click.command("verify")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The policy the cases run under. Default: DIRECTORY/tether-policy.yml if present, "
    "else the embedded default baseline.",
)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Rule directory under test (repeatable), beside the policy's `rules:`. "
    "Default: the policy's, else DIRECTORY/rules.",
)
@click.option(
    "--cases",
    "case_paths",
    multiple=True,
    metavar="PATH",
    type=click.Path(exists=True, path_type=Path),
    help="Case file or directory of case files (repeatable). Default: DIRECTORY/tests/rule_cases.",
)
@click.option(
    "--rule",
    "only",
    multiple=True,
    metavar="ID",
    help="Only this rule's cases and checks (repeatable).",
)
@click.option(
    "--today",
    metavar="YYYY-MM-DD",
    callback=_date,
    help="The date cases are judged on, unless a case gives its own `today:` (default: today).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the summary.")
def verify_cmd(
    directory: Path,
    policy_file: Path | None,
    rule_dirs: tuple[Path, ...],
    case_paths: tuple[Path, ...],
    only: tuple[str, ...],
    today: dt.date | None,
    fmt: str,
    quiet: bool,
) -> None:
    """Run a policy repository's rule cases and check its rules.

    Every case is scanned as `tether scan --policy` would scan a repository holding its
    files; it fails when the rule's findings differ from what it expects. Every rule under
    test must also have a case that expects a finding, one that expects none, and its docs
    filled in. Exit 0: all passed; 1: a failure; 2: a malformed policy, rule or case file."""
    from . import verify as v

    def show(result: v.CaseResult) -> None:
        if fmt != "text" or (quiet and result.passed):
            return
        status = "ok  " if result.passed else "FAIL"
        click.echo(f"{status} {result.case.where}  {result.case.rule}  {result.case.name}")
        if not result.passed:
            for line in result.explain().splitlines():
                click.echo(f"     {line}")

    try:
        layout = v.discover(directory, policy_file=policy_file, rules=rule_dirs, cases=case_paths)
        v.check_policy(layout.policy)
        outcome = v.verify(layout, only=only, today=today, progress=show)
    except ConfigError as e:
        _fail_config(str(e))
        return
    if fmt == "json":
        click.echo(json.dumps(v.to_json(outcome), indent=2, ensure_ascii=False))
    else:
        for check in outcome.checks:
            click.echo(f"FAIL {check.where}  {check.rule}  {check.problem}")
        failed = sum(not r.passed for r in outcome.results)
        click.echo(
            f"{len(outcome.results)} case(s): {len(outcome.results) - failed} passed, "
            f"{failed} failed; {len(outcome.tested)} rule(s) under test, "
            f"{len(outcome.checks)} rule check(s) failed"
        )
    sys.exit(EXIT_OK if outcome.passed else EXIT_FAILED)


# --- tether init ---------------------------------------------------------------------------


@click.group("init")
def init_group() -> None:
    """Write starting files: a repository's configuration, or a policy repository."""


def _write(plan: Any, force: bool) -> None:
    from .scaffold import ScaffoldError, write

    try:
        written = write(plan, force=force)
    except ScaffoldError as e:
        click.echo(f"tether: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    except OSError as e:
        click.echo(f"tether: cannot write: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    for path in written:
        click.echo(f"wrote {path}")


@init_group.command("repo")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init_repo_cmd(directory: Path, force: bool) -> None:
    """Write a commented .tether.yaml and .tether/exceptions.yaml into DIRECTORY."""
    from .config import CONFIG_NAMES
    from .scaffold import plan_repo

    _write(plan_repo(directory), force)
    for other in CONFIG_NAMES[1:]:
        if (directory / other).exists():
            click.echo(
                f"tether: warning: {directory / other} is now ignored: "
                f"{CONFIG_NAMES[0]} takes precedence; merge and remove it",
                err=True,
            )


@init_group.command("policy")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--prefix",
    default="ORG",
    show_default=True,
    help="Upper-case prefix of the policy's rule ids (the sample rule is PREFIX001).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init_policy_cmd(directory: Path, prefix: str, force: bool) -> None:
    """Scaffold a policy repository in DIRECTORY: a policy, a baseline extending `default`,
    a sample rule with its cases, a central exception registry, a CI workflow running
    `tether verify`, and a README. It passes `tether verify` as written."""
    from .policy.rules import load_rules
    from .scaffold import check_prefix, plan_policy
    from .scanning import embedded_rules_dir

    taken = {r.rstrip("0123456789") for r in load_rules([embedded_rules_dir()])}
    problem = check_prefix(prefix, taken)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="--prefix")
    _write(plan_policy(directory, prefix), force)
    click.echo(f"next: cd {directory} && tether verify")


# --- tether schema, tether baselines -------------------------------------------------------


def schema_names() -> list[str]:
    from importlib import resources

    files = resources.files("scanner.schemas")
    return sorted(
        f.name.removesuffix(".schema.json")
        for f in files.iterdir()
        if f.name.endswith(".schema.json")
    )


@click.command("schema")
@click.argument("name", required=False)
def schema_cmd(name: str | None) -> None:
    """Print the JSON Schema NAME (for editors and other tools); without NAME, list them."""
    from importlib import resources

    names = schema_names()
    if name is None:
        for n in names:
            text = resources.files("scanner.schemas").joinpath(f"{n}.schema.json")
            title = json.loads(text.read_text("utf-8")).get("title", "")
            click.echo(f"{n:<14} {title}")
        return
    key = name.removesuffix(".json").removesuffix(".schema")
    if key not in names:
        from .verify import did_you_mean

        click.echo(
            f"tether: no schema {name!r}{did_you_mean(key, names)} (schemas: {', '.join(names)})",
            err=True,
        )
        sys.exit(EXIT_CONFIG)
    click.echo(
        resources.files("scanner.schemas").joinpath(f"{key}.schema.json").read_text("utf-8"),
        nl=False,
    )


def embedded_baselines() -> list[tuple[str, str | None]]:
    """Embedded baseline names (as `--baseline` and `extends:` take them) and descriptions."""
    from .policy.baseline import embedded_dir
    from .policy.documents import load_yaml

    emb = embedded_dir()
    out = []
    for p in sorted(emb.rglob("*")):
        if p.suffix not in (".yml", ".yaml") or not p.is_file():
            continue
        name = p.relative_to(emb).with_suffix("").as_posix()
        data, _ = load_yaml(p, f"<embedded>/{p.relative_to(emb).as_posix()}")
        desc = data.get("description") if isinstance(data, dict) else None
        out.append((name, " ".join(str(desc).split()) if desc else None))
    return out


@click.command("baselines")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def baselines_cmd(fmt: str) -> None:
    """List the baselines shipped with tether (names for --baseline and `extends:`)."""
    try:
        rows = embedded_baselines()
    except ConfigError as e:
        _fail_config(str(e))
        return
    if fmt == "json":
        click.echo(json.dumps([{"name": n, "description": d} for n, d in rows], indent=2))
        return
    width = max((len(n) for n, _ in rows), default=0)
    for n, d in rows:
        click.echo(f"{n:<{width}}  {d or ''}".rstrip())


@click.group("baseline")
def baseline_group() -> None:
    """Inspect the effective baseline."""


@baseline_group.command("show")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The operator's policy: its layers (and, with --overlay/--repo layers, theirs).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="FILE|NAME",
    help="Layers after the policy's (repeatable), as tether scan --baseline.",
)
@click.option("--overlay", help="An overlay of the policy a repository may choose.")
@click.option(
    "--repo",
    "repo_name",
    metavar="OWNER/NAME",
    help="Add the layers the policy's repos: entries give this repository (by name; topics "
    "and properties with --topic/--property).",
)
@click.option("--topic", "topics", multiple=True, help="A topic of --repo (repeatable).")
@click.option(
    "--property", "properties", multiple=True, metavar="NAME=VALUE", help="A custom property."
)
def baseline_show_cmd(
    policy_file: Path | None,
    baselines: tuple[str, ...],
    overlay: str | None,
    repo_name: str | None,
    topics: tuple[str, ...],
    properties: tuple[str, ...],
) -> None:
    """Print the merged baseline, each value with the file:line that set it."""
    from .policy import baseline as baseline_mod
    from .policy.operator import Policy, RepoFacts
    from .policy.operator import load as load_policy

    try:
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        names = [*(policy.baselines or ["default"])]
        props: dict[str, str | list[str]] = {}
        for item in properties:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise click.BadParameter("NAME=VALUE", param_hint="--property")
            props[key] = value
        if repo_name is not None:
            extra, why = policy.layers_for(RepoFacts(repo_name, topics, props))
            names += extra
            if why:
                click.echo(f"# {repo_name}: {why}")
        if overlay is not None:
            if overlay not in policy.overlays:
                known = ", ".join(sorted(policy.overlays)) or "none"
                raise ConfigError(
                    str(policy_file or "--overlay"), None, f"no overlay {overlay!r} ({known})"
                )
            names.append(policy.overlays[overlay])
        names += baselines
        click.echo(baseline_mod.show(baseline_mod.load(names)), nl=False)
    except ConfigError as e:
        _fail_config(str(e))


def register(main: click.Group) -> None:
    """Add the policy repository commands to the `tether` group."""
    for command in (verify_cmd, init_group, schema_cmd, baselines_cmd, baseline_group):
        main.add_command(command)

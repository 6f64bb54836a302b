"""`tether fix` (issue 13): apply the mechanical remedies of a scan's findings to the working
tree (scanner/fix.py). `register(main)` adds it to the `tether` group.

Exit codes: 0 every planned edit was written and the rescan confirmed it (or, with --dry-run,
there is nothing to change); 1 with --dry-run, there are changes to make; without it, an edit
was refused or rolled back (the output says which and why); 2 usage or configuration error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from . import fix as fix_mod

EXIT_OK, EXIT_SOME, EXIT_CONFIG = 0, 1, 2
CATEGORIES = ("bounded-autonomy", "drift", "ownership", "compliance")


def _paint(line: str, color: bool) -> str:
    if not color:
        return line
    if line.startswith(("+++", "---")):
        return f"\x1b[1m{line}\x1b[0m"
    if line.startswith("+"):
        return f"\x1b[32m{line}\x1b[0m"
    if line.startswith("-"):
        return f"\x1b[31m{line}\x1b[0m"
    if line.startswith("@@"):
        return f"\x1b[36m{line}\x1b[0m"
    return line


@click.command("fix")
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@click.option("--rule", "rule_ids", multiple=True, metavar="ID", help="Only this rule's remedies.")
@click.option(
    "--category", "categories", multiple=True, type=click.Choice(CATEGORIES), help="Only these."
)
@click.option("--dry-run", is_flag=True, help="Print the changes as a unified diff; write nothing.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The operator policy the scan runs under (as `tether scan --policy`).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    metavar="FILE|NAME",
    help="Baseline layer (repeatable), as `tether scan --baseline`.",
)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Extra rule directory (repeatable).",
)
@click.option(
    "--unsafe-fixes",
    is_flag=True,
    help="Also write remedies that may change behaviour: a new major version, a release "
    "that may be older than a floating tag gives today, narrower token permissions.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: what was (or, with --dry-run, would be) written, refused, put back and "
    "held back, as one JSON document on stdout, instead of the diff and the edit lines.",
)
@click.option("--color/--no-color", default=None, help="Colour the diff (default: on a terminal).")
def fix_cmd(
    path: Path,
    rule_ids: tuple[str, ...],
    categories: tuple[str, ...],
    dry_run: bool,
    policy_file: Path | None,
    baselines: tuple[str, ...],
    rule_dirs: tuple[Path, ...],
    unsafe_fixes: bool,
    fmt: str,
    color: bool | None,
) -> None:
    """Write the mechanical remedies of the findings in PATH (a repository or a directory in
    it, scanned as `tether scan PATH` scans it; default .):
    actions and reusable workflows bumped to the golden version, module versions raised to
    the golden one, ... as minimal edits that keep the rest of each file byte for byte. The
    repository is scanned again after writing; a file where a fixed finding remains or a new
    one appears is put back. Remedies that need judgement stay suggestions in messages."""
    from . import fix as fix_mod
    from .errors import ConfigError
    from .policy.operator import Policy
    from .policy.operator import load as load_policy
    from .pr import TargetError, resolve, scan_repository
    from .report.text import say
    from .scanning import ScanOptions

    if not path.is_dir():
        raise click.UsageError(
            "tether fix takes a directory: the repository, or a directory in it (a file's "
            "remedies can be narrowed with --rule)"
        )
    outside = _outside_its_repository(path)
    if outside is not None:
        raise click.UsageError(outside)
    try:
        target = resolve((path,))
    except TargetError as e:
        raise click.UsageError(str(e)) from None
    try:
        policy = load_policy(policy_file) if policy_file is not None else Policy()
        options = ScanOptions(
            baselines=baselines, rule_dirs=rule_dirs, policy=policy, result_cache=False
        )
        report = scan_repository(target, options)
    except ConfigError as e:
        click.echo(f"tether: configuration error: {e}", err=True)
        sys.exit(EXIT_CONFIG)
    root = Path(report.root)
    unknown = sorted(set(rule_ids) - set(report.rules))
    if unknown:
        raise click.UsageError(f"--rule: no rule {', '.join(unknown)}")
    chosen = [
        f
        for f in report.findings
        if (not rule_ids or f.rule_id in rule_ids)
        and (not categories or f.category.value in categories)
    ]
    remedied = [f for f in chosen if fix_mod.wanted(f, unsafe=True)]
    held = [f for f in remedied if not fix_mod.wanted(f, unsafe_fixes)]
    plan = fix_mod.plan(root, [f for f in remedied if fix_mod.wanted(f, unsafe_fixes)])
    paint = sys.stdout.isatty() if color is None else color
    refusals = _refusals(plan)
    if dry_run:
        if fmt == "json":
            click.echo(_json(plan.files, plan, held, [], dry_run=True))
        for change in plan.files if fmt == "text" else ():
            for line in change.diff().splitlines():
                click.echo(_paint(line, paint))
        for line in refusals:
            click.echo(say(f"tether fix: not applied: {line}"), err=True)
        n = sum(len(c.fixed) for c in plan.files)
        click.echo(
            f"tether fix: dry run: {n} of {len(chosen)} findings fixed in {len(plan.files)} "
            f"files{_rest(remedied, held, plan, n)}; nothing written (the rescan that checks "
            "each edit runs when they are written)",
            err=True,
        )
        sys.exit(EXIT_SOME if plan.files or plan.refused else EXIT_OK)
    try:
        applied = fix_mod.apply(root, plan, report, lambda: scan_repository(target, options))
    except fix_mod.RescanFailed as e:  # no check, no edit kept
        for line in e.unrestored:
            click.echo(say(f"tether fix: {line}"), err=True)
        click.echo(say(f"tether fix: the rescan failed ({e}); nothing kept"), err=True)
        sys.exit(EXIT_CONFIG if isinstance(e.cause, ConfigError) else EXIT_SOME)
    written = applied.kept
    if fmt == "json":
        click.echo(_json(written, plan, held, applied.problems, dry_run=False))
    for change in written if fmt == "text" else ():
        for f, (old, new) in zip(change.fixed, change.edits, strict=True):
            click.echo(
                say(f"fixed {change.path}:{f.span.start_line} {f.rule_id}: {_edit(old, new)}")
            )
    for line in refusals:
        click.echo(say(f"tether fix: not applied: {line}"), err=True)
    for p in applied.problems:
        click.echo(say(f"tether fix: {p}"), err=True)
    n = sum(len(c.fixed) for c in written)
    click.echo(
        f"tether fix: {n} of {len(chosen)} findings fixed in {len(written)} files"
        f"{_rest(remedied, held, plan, sum(len(c.fixed) for c in plan.files))}",
        err=True,
    )
    sys.exit(EXIT_SOME if plan.refused or applied.problems else EXIT_OK)


def _json(
    files: list[fix_mod.FileFix],
    plan: fix_mod.Plan,
    held: list[Any],
    put_back: list[str],
    *,
    dry_run: bool,
) -> str:
    """`--format json`: each edit (old and new text), each refusal with its reason, the
    files put back after the rescan, the remedies held back as unsafe. Repository text is
    redacted, as in every report."""
    import json

    from . import __version__
    from .redact import redact

    def where(f: Any) -> dict[str, Any]:
        return {"path": f.path, "line": f.span.start_line, "rule_id": f.rule_id}

    doc = {
        "tool": {"name": "tether", "version": __version__},
        "dry_run": dry_run,
        # with --dry-run: what would be written, before the rescan that checks it
        "fixed": [
            {
                **where(f),
                "old": redact(old),
                "new": redact(new),
                "safe": f.fix is None or f.fix.safe,
            }
            for change in files
            for f, (old, new) in zip(change.fixed, change.edits, strict=True)
        ],
        "refused": [{**where(r.finding), "why": redact(r.why)} for r in plan.refused],
        "put_back": [redact(p) for p in put_back],
        "held_as_unsafe": [where(f) for f in held],
    }
    return json.dumps(doc, indent=2)


def _outside_its_repository(path: Path) -> str | None:
    """Why PATH is refused: a link out of the repository holding it (by its name), whose
    files tether fix would otherwise write as a repository of their own; else None."""
    here = Path(os.path.abspath(path))
    for d in (here, *here.parents):
        if (d / ".git").exists():
            real, root = os.path.realpath(here), os.path.realpath(d)
            if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                return f"{path} leads out of the repository at {d} (through a link)"
            return None
    return None


def _refusals(plan: fix_mod.Plan) -> list[str]:
    """One line per refused remedy (the same refusal once)."""
    return list(dict.fromkeys(map(str, plan.refused)))


def _rest(remedied: list[Any], held: list[Any], plan: fix_mod.Plan, planned: int) -> str:
    """What else the summary says: remedies held back as unsafe, refused, or already so."""
    parts = []
    if held:
        parts.append(f"{len(held)} more with --unsafe-fixes")
    if plan.refused:
        parts.append(f"{len(plan.refused)} refused")
    same = len(remedied) - len(held) - len(plan.refused) - planned
    if same > 0:
        parts.append(f"{same} already as the remedy says")
    return "; " + ", ".join(parts) if parts else ""


def _edit(old: str, new: str) -> str:
    """What an edit wrote, for the console: ``old -> new``, or the lines an add wrote."""
    if not old:
        lines = [x.strip() for x in new.splitlines() if x.strip()]
        shown = "; ".join(lines[:4]) + ("; ..." if len(lines) > 4 else "")
        return f"added {shown}"
    return f"{old} -> {new}"


def register(main: click.Group) -> None:
    main.add_command(fix_cmd)

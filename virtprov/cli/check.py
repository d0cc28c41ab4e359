"""``virtprov check``: could this recipe run on a VM, on which flavor, and if not, why."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from virtprov.printable import printable

if TYPE_CHECKING:
    from virtprov.cli.targets import CheckTarget
    from virtprov.hostrequires import HostRequires, Target


def _evaluate(
    requires: HostRequires, target: Target, flavors: list[Any] | None, verbose: bool = False
) -> dict[str, Any]:
    verdict = requires.virtualisable(target)
    result: dict[str, Any] = {
        "virtualisable": verdict.virtualisable,
        "reasons": list(verdict.reasons),
        "flavors": [],
        "chosen": None,
        "warnings": list(verdict.warnings),
    }
    if flavors is not None:
        match = requires.match(flavors, target)
        result["flavors"] = [flavor.name for flavor in match.flavors]
        result["chosen"] = match.chosen.name if match.chosen else None
        if verdict.virtualisable and match.chosen is None:
            result["reasons"].append("no flavor satisfies the requirements:")
        # The flavors that matter: those passed over for the chosen one, or all when none
        # is; none when no VM can be (the verdict's reasons say why); every one if asked.
        if verbose:
            shown = match.reasons
        elif verdict.virtualisable:
            shown = match.reasons_of(match.passed_over)
        else:
            shown = ()
        result["reasons"].extend(r for r in shown if r not in result["reasons"])
    return result


def _print_human(result: dict[str, Any], with_flavors: bool, title: str | None) -> None:
    prefix = f"{title}: " if title else ""
    ok = result["virtualisable"] and (result["chosen"] is not None or not with_flavors)
    answer = "yes" if ok else "no"
    if with_flavors and result["chosen"]:
        answer += f", on {result['chosen']}"
    # Reasons and warnings quote the user's document: no control character reaches the
    # terminal (nor do flavor names, which come from a file).
    _echo(f"{prefix}virtualisable: {answer}")
    if with_flavors and len(result["flavors"]) > 1:
        _echo(f"  satisfying flavors, cheapest first: {', '.join(result['flavors'])}")
    for reason in result["reasons"]:
        _echo(f"  - {reason}")
    for warning in result["warnings"]:
        _echo(f"  warning: {warning}")


def _echo(line: str) -> None:
    click.echo(printable(line))


def read_document(path: str, limit: int) -> bytes:
    """A document from ``path`` (``-``: stdin), read no further than ``limit`` bytes."""
    from virtprov.hostrequires.reading import TooLarge, read_file

    name = "<stdin>" if path == "-" else path
    try:
        return read_file(path, limit)
    except OSError as exc:
        _fail(f"{name}: cannot read: {exc.strerror or exc}")
    except TooLarge as exc:
        _fail(f"{name}: document {exc}")


def _read_presets(path: str) -> dict[str, Any]:
    from virtprov.errors import HostRequiresError
    from virtprov.hostrequires.tmt import MAX_BYTES, load_presets

    data = read_document(path, MAX_BYTES)
    try:
        return load_presets(data)
    except HostRequiresError as exc:
        _fail(f"{'<stdin>' if path == '-' else path}: {exc}")


def _fail(message: str) -> NoReturn:
    click.echo(f"virtprov: {printable(message)}", err=True)
    sys.exit(2)


@click.command("check")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--provider",
    "provider_name",
    metavar="NAME",
    help="Check against this configured provider only (default: every configured one).",
)
@click.option(
    "--flavors",
    "flavors_path",
    metavar="FLAVORS.json",
    help="Offline: Nova flavors (a list, {'flavors': [...]}, or `openstack flavor list "
    "--long -f json`) instead of the configured providers'.",
)
@click.option(
    "--lab",
    metavar="FQDN",
    help="The lab controller the provider serves (with a configuration: only the "
    "providers serving it).",
)
@click.option(
    "--arch",
    "arches",
    multiple=True,
    metavar="ARCH",
    help="An architecture the provider offers (repeatable; default: x86_64 and i386).",
)
@click.option(
    "--hypervisor", default="KVM", show_default=True, help="What the provider's guests run on."
)
@click.option(
    "--format",
    "document_format",
    type=click.Choice(["auto", "hostrequires", "tmt"]),
    default="auto",
    show_default=True,
    help="hostrequires: Beaker XML; tmt: a YAML/fmf hardware: mapping or plan; auto: by content.",
)
@click.option(
    "--presets",
    "presets_path",
    metavar="PRESETS.yaml",
    help="tmt hardware presets (name: requirements) for `preset:` keys; never fetched.",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="With flavors, give every removed flavor's reasons (by default only those of the "
    "flavors passed over for the chosen one, or of all when none is chosen).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_context
def command(
    ctx: click.Context,
    file: str,
    provider_name: str | None,
    flavors_path: str | None,
    lab: str | None,
    arches: tuple[str, ...],
    hypervisor: str,
    document_format: str,
    presets_path: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Check a recipe's <hostRequires/> (or every recipe of a Beaker job), or tmt
    hardware: requirements (or every phase of a tmt plan), against a VM target.

    With a configuration, the document is judged against each configured provider (or
    --provider NAME): its lab, arches and flavors as its cloud lists them, with what the
    configuration declares. --flavors FILE checks offline instead.

    Exit status 0 when the document was evaluated, whatever the verdict; 2 when it cannot
    be (malformed or hostile XML or YAML, a bad value, an unreadable flavor file); 1 when
    a configured provider's flavors could not be listed.
    """
    import json

    from virtprov.cli.targets import choose_targets, offline_target
    from virtprov.errors import HostRequiresError
    from virtprov.hostrequires import MAX_JOB_BYTES, parse_any
    from virtprov.hostrequires.flavorfile import FlavorFileError, load_flavor_file
    from virtprov.hostrequires.tmt import looks_like_xml, parse_tmt_any

    data = read_document(file, MAX_JOB_BYTES)  # a whole job's limit; parsing checks its own
    flavors = None
    if flavors_path is not None:
        try:
            flavors = load_flavor_file(flavors_path)
        except FlavorFileError as exc:
            _fail(str(exc))
    presets = _read_presets(presets_path) if presets_path else None
    tmt = document_format == "tmt" or (document_format == "auto" and not looks_like_xml(data))
    try:
        parsed = parse_tmt_any(data, presets=presets) if tmt else parse_any(data)
    except HostRequiresError as exc:
        name = "<stdin>" if file == "-" else file
        _fail(f"{name}: {exc}")
    targets = choose_targets(
        ctx,
        provider_name=provider_name,
        flavors_path=flavors_path,
        lab=lab,
        arches=arches,
        hypervisor=hypervisor,
    )
    if targets is None:  # offline: one target, printed as it always was
        offline = offline_target(flavors, lab, arches, hypervisor)
        document = _results(parsed, offline, tmt, verbose)
        if as_json:
            click.echo(json.dumps(document, indent=2))
        else:
            _print_results(document, offline, tmt, None)
        return
    judged = [each for each in targets if each.error is None]
    documents = {str(each.provider): _results(parsed, each, tmt, verbose) for each in judged}
    failed = {str(each.provider): each.error for each in targets if each.error is not None}
    if as_json:
        click.echo(json.dumps({"providers": documents, "errors": failed}, indent=2))
    else:
        for each in judged:
            _print_results(documents[str(each.provider)], each, tmt, each.provider)
    for name, error in failed.items():
        click.echo(f"virtprov: {name}: cannot list its flavors: {error}", err=True)
    if failed:
        ctx.exit(1)


def _results(parsed: Any, each: CheckTarget, tmt: bool, verbose: bool) -> dict[str, Any]:
    """The verdict on one target, as ``--json`` prints it."""
    if isinstance(parsed, tuple):  # a whole job (plan): one verdict per recipe (phase)
        key = "phases" if tmt else "recipes"
        results = []
        for recipe in parsed:
            result = _evaluate(recipe.requires, each.target, each.flavors, verbose)
            results.append(
                {recipe.kind: recipe.label, "id": recipe.recipe_id, "position": recipe.position}
                | result
            )
        return {key: results}
    return _evaluate(parsed, each.target, each.flavors, verbose)


def _print_results(
    document: dict[str, Any], each: CheckTarget, tmt: bool, title: str | None
) -> None:
    with_flavors = each.flavors is not None
    key = "phases" if tmt else "recipes"
    if key not in document:
        _print_human(document, with_flavors, title)
        return
    if not document[key]:
        prefix = f"{title}: " if title else ""
        click.echo(f"{prefix}the {'plan' if tmt else 'job'} has no {key[:-1]}")
    for result in document[key]:
        label = result.get("recipe") or result.get("phase")
        _print_human(result, with_flavors, f"{label} on {title}" if title else label)

"""``virtprov convert``: tmt ``hardware:`` requirements as Beaker ``<hostRequires/>``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from virtprov.cli.check import _fail, _read_presets, read_document
from virtprov.printable import printable

if TYPE_CHECKING:
    from virtprov.cli.targets import CheckTarget
    from virtprov.hostrequires.tmt import TmtDocument


@click.command("convert")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--to",
    "target",
    type=click.Choice(["hostrequires"]),
    required=True,
    help="The language to write (Beaker's <hostRequires/>, what the hardware path takes).",
)
@click.option(
    "--presets",
    "presets_path",
    metavar="PRESETS.yaml",
    help="tmt hardware presets (name: requirements) for `preset:` keys; never fetched.",
)
@click.option(
    "--provider",
    "provider_name",
    metavar="NAME",
    help="Compare on this configured provider only (default: every configured one).",
)
@click.pass_context
def command(
    ctx: click.Context, file: str, target: str, presets_path: str | None, provider_name: str | None
) -> None:
    """Write a tmt hardware: document (or each phase of a tmt plan) as <hostRequires/>.

    The XML goes to stdout; every key Beaker cannot express (exactly) is named on stderr
    as a note. With a configuration, stderr also says, for each configured provider (or
    --provider NAME), which flavor the tmt requirements and the <hostRequires/> choose.
    Exit status 0 when converted, 2 for bad input.
    """
    from virtprov.cli.targets import choose_targets
    from virtprov.errors import HostRequiresError
    from virtprov.hostrequires.convert import to_hostrequires
    from virtprov.hostrequires.tmt import MAX_BYTES, tmt_phases

    data = read_document(file, MAX_BYTES)
    presets = _read_presets(presets_path) if presets_path else None
    name = "<stdin>" if file == "-" else file
    try:
        shape, phases = tmt_phases(data, presets=presets)
    except HostRequiresError as exc:
        _fail(f"{name}: {exc}")
    targets = choose_targets(
        ctx,
        provider_name=provider_name,
        flavors_path=None,
        lab=None,
        arches=(),
        hypervisor="",
    )
    for position, (phase, document) in enumerate(phases, start=1):
        conversion = to_hostrequires(document)
        if shape == "plan":
            # the name is the user's: escaped, and no "--", which would end the comment
            label = printable(phase or f"#{position}").replace("--", "- -")
            click.echo(f"<!-- provision phase {label} -->")
            prefix = f"phase {label}: "
        else:
            prefix = ""
        click.echo(conversion.xml, nl=False)
        for note in conversion.notes:
            click.echo(printable(f"virtprov: note: {prefix}{note}"), err=True)
        for line in compare_choices(document, conversion.xml, targets or []):
            click.echo(printable(f"virtprov: {prefix}{line}"), err=True)


def compare_choices(document: TmtDocument, xml: str, targets: list[CheckTarget]) -> list[str]:
    """For each target, which flavor the tmt requirements and their conversion choose.

    Both are judged by one engine, so they agree but where a key has no exact Beaker
    equivalent (its note says which); a difference is then spelt out.
    """
    from virtprov.hostrequires import parse
    from virtprov.hostrequires.tmt import compile_document

    compiled = (compile_document(document), parse(xml))
    lines = []
    for each in targets:
        if each.error is not None:
            lines.append(f"on {each.provider}: cannot list its flavors: {each.error}")
            continue
        choices = []
        for requires in compiled:
            if not requires.virtualisable(each.target).virtualisable:
                choices.append("no VM")
                continue
            chosen = requires.match(each.flavors or [], each.target).chosen
            choices.append("no flavor" if chosen is None else chosen.name)
        tmt_choice, xml_choice = choices
        if tmt_choice != xml_choice:
            lines.append(
                f"on {each.provider}: the tmt requirements get {tmt_choice}, "
                f"the <hostRequires/> gets {xml_choice}"
            )
        elif tmt_choice == "no VM":
            lines.append(f"on {each.provider}: neither document can run on a VM")
        elif tmt_choice == "no flavor":
            lines.append(f"on {each.provider}: no flavor satisfies either document")
        else:
            lines.append(f"on {each.provider}: both documents get flavor {tmt_choice}")
    return lines

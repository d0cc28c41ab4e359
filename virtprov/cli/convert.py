"""``virtprov convert``: tmt ``hardware:`` requirements as Beaker ``<hostRequires/>``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from virtprov.cli.check import _fail, _read_presets, read_document
from virtprov.printable import printable

if TYPE_CHECKING:
    from virtprov.cli.targets import CheckTarget
    from virtprov.hostrequires.tmt import TmtDocument

#: What convert reads, for the message to a user who gave it something else.
ACCEPTS = (
    "convert reads tmt hardware: requirements (a hardware: mapping, a mapping with a "
    "hardware: key, or a tmt plan, as YAML or fmf) and writes them as <hostRequires/>"
)


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
    "--phase",
    "phase_name",
    metavar="NAME",
    help="Of a plan with several provision phases, write only this one (its name, or #N "
    "for the Nth) as a bare <hostRequires/>; without it, every phase is a <recipe> of one "
    "<recipeSet>.",
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
    ctx: click.Context,
    file: str,
    target: str,
    phase_name: str | None,
    presets_path: str | None,
    provider_name: str | None,
) -> None:
    """Write a tmt hardware: document (or the provision phases of a tmt plan) as
    <hostRequires/>.

    The XML goes to stdout: one <hostRequires/>, or for a plan with several phases a
    <recipeSet> with a <recipe> per phase (--phase NAME: that phase alone). Only what
    Beaker's server implements for each element is written; every requirement written
    weaker or left out is named on stderr as a note, and what reading the document warned
    about (a key given twice, import-preset) as a warning. With a configuration, stderr
    also says, for each configured provider (or --provider NAME), which flavor the tmt
    requirements and the <hostRequires/> choose. Exit status 0 when converted, 2 for bad
    input.
    """
    import attrs

    from virtprov.cli.targets import choose_targets
    from virtprov.errors import HostRequiresError
    from virtprov.hostrequires.convert import (
        comment_text,
        phase_label,
        to_hostrequires,
        to_recipe_set,
    )
    from virtprov.hostrequires.tmt import MAX_BYTES, looks_like_xml, tmt_phases

    data = read_document(file, MAX_BYTES)
    name = "<stdin>" if file == "-" else file
    if looks_like_xml(data):
        _fail(f"{name}: this is XML; {ACCEPTS} (check XML with virtprov check)")
    presets = _read_presets(presets_path) if presets_path else None
    try:
        shape, phases = tmt_phases(data, presets=presets)
    except HostRequiresError as exc:
        _fail(f"{name}: {exc}")
    labelled = [
        (phase_label(phase, position), phase, document)
        for position, (phase, document) in enumerate(phases, start=1)
    ]
    if phase_name is not None:
        chosen = [
            each
            for position, each in enumerate(labelled, start=1)
            if phase_name in (each[1], f"#{position}")
        ]
        if shape != "plan" or not chosen:
            known = ", ".join(label for label, _, _ in labelled) if shape == "plan" else "none"
            _fail(f"{name}: no provision phase {phase_name!r} (its phases: {known})")
        labelled = chosen[:1]
    targets = choose_targets(
        ctx,
        provider_name=provider_name,
        flavors_path=None,
        lab=None,
        arches=(),
        hypervisor="",
    )
    if len(labelled) > 1:
        conversion = to_recipe_set([(phase, document) for _, phase, document in labelled])
    else:
        label, _, document = labelled[0]
        conversion = to_hostrequires(document)
        if shape == "plan":
            conversion = attrs.evolve(
                conversion, notes=tuple(f"{label}: {note}" for note in conversion.notes)
            )
            # the name is the user's: nothing a terminal acts on, no "--"
            click.echo(f"<!-- provision {printable(comment_text(label))} -->")
    click.echo(conversion.xml, nl=False)
    for warning in conversion.warnings:
        click.echo(printable(f"virtprov: warning: {warning}"), err=True)
    for note in conversion.notes:
        click.echo(printable(f"virtprov: note: {note}"), err=True)
    for label, _, document in labelled:
        prefix = f"{label}: " if shape == "plan" else ""
        for line in compare_choices(document, to_hostrequires(document).xml, targets or []):
            click.echo(printable(f"virtprov: {prefix}{line}"), err=True)


def compare_choices(document: TmtDocument, xml: str, targets: list[CheckTarget]) -> list[str]:
    """For each target, which flavor the tmt requirements and their conversion choose.

    Both are judged by one engine, so they agree but where a note names a requirement
    written weaker or left out; a difference is then spelt out.
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

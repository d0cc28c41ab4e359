"""``virtprov convert``: tmt ``hardware:`` requirements as Beaker ``<hostRequires/>``."""

from __future__ import annotations

import click

from virtprov.cli.check import _fail, _read_presets, read_document
from virtprov.printable import printable


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
def command(file: str, target: str, presets_path: str | None) -> None:
    """Write a tmt hardware: document (or each phase of a tmt plan) as <hostRequires/>.

    The XML goes to stdout; every key Beaker cannot express (exactly) is named on stderr
    as a note. Exit status 0 when converted, 2 for bad input.
    """
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

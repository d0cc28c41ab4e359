"""``virtprov why RECIPE``: the story of one recipe's launch, read-only from the journal."""

from __future__ import annotations

import re

import click

from virtprov.cli.operators import duration, moment, open_read_only
from virtprov.cli.runtime import Runtime, emit_json, json_option
from virtprov.pool.why import Attempt, LaunchStory

#: The longest requirements shown on one line (``--json`` has them whole).
SHOWN = 160


@click.command()
@click.argument("recipe_id", metavar="RECIPE")
@json_option
@click.pass_obj
def why(runtime: Runtime, recipe_id: str, as_json: bool) -> None:
    """Why did RECIPE (a recipe id) get the outcome it got, or where is its launch now?

    From the journal, read-only: when it was submitted and by which launcher, every
    create the pool attempted (provider, guest, why it was given up), the providers
    passed over and why, retries, and the outcome. Decided launches are kept for
    [pool] history_days (30 days by default).
    """
    from virtprov.pool.settings import PoolSettings
    from virtprov.pool.why import read_story

    journal = open_read_only(runtime)
    try:
        with journal.snapshot() as conn:
            story = read_story(conn, recipe_id)
    finally:
        journal.close()
    if story is None:
        days = PoolSettings.from_options(runtime.config.pool).history_days
        click.echo(
            f"virtprov: recipe {recipe_id} is not in the journal {journal.safe_url}: never "
            f"submitted to a pool, or decided more than {days:g} days ago ([pool] history_days)",
            err=True,
        )
        raise SystemExit(1)
    if as_json:
        emit_json(story)
        return
    for line in render(story):
        click.echo(line)


def render(story: LaunchStory) -> list[str]:
    """The story for people, one fact a line, in the order things happened."""
    lines = [_headline(story)]
    requirements = re.sub(r"\s+", " ", story.requirements).strip()
    if len(requirements) > SHOWN:
        requirements = requirements[: SHOWN - 1] + "…"
    lines.append(f"requirements ({story.language}): {requirements}")
    facts = [f"labs: {', '.join(story.labs) or 'any'}"]
    if story.owner:
        facts.append(f"owner: {story.owner}")
    if story.arch:
        facts.append(f"arch: {story.arch}")
    facts.append(
        f"started by: {'the pool (' + story.boot + ' boot)' if story.boot else 'the scheduler'}"
    )
    lines.append("; ".join(facts))
    lines.append("")
    lines.append(f"{moment(story.submitted_at)}  submitted by launcher {story.submitted_by}")
    if story.launcher and story.launcher != story.submitted_by:
        lines.append(f"{'':23}  launched by launcher {story.launcher}")
    for attempt in story.attempts:
        lines.append(f"{moment(attempt.at)}  {_attempt(attempt)}")
    if story.decided_at is not None:
        lines.append(f"{moment(story.decided_at)}  {story.status}")
    if story.passed:
        lines.append("")
        lines.append("providers passed over:")
        lines += [f"  {entry}" for entry in story.passed]
    if story.reasons and story.reasons != story.passed:
        lines.append("")
        lines.append("reasons:")
        lines += [f"  {reason}" for reason in story.reasons]
    if story.retries:
        lines.append(f"retries after transient errors: {story.retries}")
    if story.state == "decided":
        lines.append(
            "the scheduler has taken the outcome"
            if story.taken
            else "the outcome waits for the scheduler to take it (Pool.poll)"
        )
    return lines


def _headline(story: LaunchStory) -> str:
    head = f"recipe {story.recipe_id}"
    submitted = story.submitted_at.timestamp()
    if story.state != "decided" or story.decided_at is None:
        where = f" on {story.provider}" if story.provider else ""
        return (
            f"{head}: {story.state}{where}, undecided; submitted "
            f"{moment(story.submitted_at)}, deadline {moment(story.deadline)}"
        )
    took = duration(story.decided_at.timestamp() - submitted)
    if story.status == "succeeded":
        guest = story.guest or {}
        macs = ", ".join(guest.get("macs") or []) or "-"
        return (
            f"{head}: succeeded on {story.provider} {took} after it was submitted: guest "
            f"{guest.get('name')} ({guest.get('id')}), MACs {macs}"
        )
    if story.status == "failed":
        on = f" on {story.provider}" if story.provider else ""
        return f"{head}: failed{on} {took} after it was submitted: {story.error}"
    if story.status == "precluded":
        return f"{head}: precluded (a VM here can never run it), decided in {took}"
    return f"{head}: skipped (no provider could take it then), decided in {took}"


def _attempt(attempt: Attempt) -> str:
    size = []
    if attempt.vcpus is not None:
        size.append(f"{attempt.vcpus} vCPU")
    if attempt.ram_mib is not None:
        size.append(f"{attempt.ram_mib} MiB")
    if attempt.disk_bytes is not None:
        size.append(f"{attempt.disk_bytes / 2**30:g} GiB disk")
    text = f"create {attempt.name} on {attempt.provider}"
    if size:
        text += f" ({', '.join(size)})"
    if attempt.guest_id is not None:
        text += f": guest {attempt.guest_id}"
    if attempt.state == "creating":
        text += ": create in flight"
    elif attempt.state == "live":
        text += ", the launch's guest"
    elif attempt.reason:
        text += f": given up: {attempt.reason}"
    if attempt.state in ("doomed", "destroyed"):
        text += " (being destroyed)"
    if attempt.earlier:
        text = f"[earlier submission] {text}"
    return text

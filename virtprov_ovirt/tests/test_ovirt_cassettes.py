"""Every oVirt cassette holds what the engine can say, and nothing of this machine.

The checks read the cassettes alone; they guard what the engine imitation was corrected
for (see ``engine_imitation.py``) against a cassette composed or edited otherwise.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import pytest
from engine_search import VM_STATUSES
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

CASSETTES = Path(__file__).parent.parent.parent / "cassettes" / "ovirt"
# While the cassettes are being written (composed or recorded), read them afterwards.
pytestmark = pytest.mark.skipif(
    "config.getoption('--record-mode') not in (None, 'none')",
    reason="the cassettes are being written by this run",
)
FILES = sorted(CASSETTES.glob("*.yaml"))
ACTION = re.compile(r"^/ovirt-engine/api/vms/[^/]+/(start|stop)$")


class Interaction(NamedTuple):
    """What these checks read of one recorded exchange."""

    method: str
    uri: str
    status: int
    response_body: str


@functools.cache
def interactions() -> list[tuple[str, Interaction]]:
    found = []
    for path in FILES:
        # vcrpy's own loader (libyaml's, where PyYAML has it: the cassettes are megabytes).
        requests, responses, *_ = FilesystemPersister.load_cassette(path, yamlserializer)
        found += [
            (
                path.name,
                Interaction(
                    request.method,
                    request.uri,
                    int(response["status"]["code"]),
                    response["body"]["string"].decode("utf-8"),
                ),
            )
            for request, response in zip(requests, responses, strict=True)
        ]
    return found


def xml(interaction: Interaction) -> ET.Element | None:
    body = interaction.response_body.strip()
    if not body.startswith("<?xml") and not body.startswith("<vm"):
        return None
    return ET.fromstring(body)


def test_there_are_cassettes() -> None:
    assert len(FILES) >= 40


def test_a_vm_that_is_not_running_shows_no_start_time() -> None:
    # VmMapper.map writes start_time, run_once and host only for a VM that is not
    # down, suspended, image_locked or image_illegal.
    checked = 0
    for name, interaction in interactions():
        root = xml(interaction)
        if root is None:
            continue
        for vm in [root] if root.tag == "vm" else root.findall("vm"):
            if vm.findtext("status") in ("down", "suspended", "image_locked", "image_illegal"):
                checked += 1
                for tag in ("start_time", "run_once", "host"):
                    assert vm.find(tag) is None, f"{name}: a down VM with <{tag}>"
    assert checked > 100


def test_no_action_is_answered_with_an_empty_404() -> None:
    for name, interaction in interactions():
        path = urllib.parse.urlsplit(interaction.uri).path
        if interaction.method == "POST" and ACTION.match(path):
            assert interaction.status != 404 or interaction.response_body, name
            if interaction.status >= 400:
                # A refused action answers its <action> with the fault in it.
                root = xml(interaction)
                assert root is not None, name
                assert (root.tag, root.findtext("status")) == ("action", "failed"), name
                assert root.find("fault/detail") is not None, name


def test_every_search_is_one_the_engine_parses() -> None:
    searched = 0
    for name, interaction in interactions():
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(interaction.uri).query)
        for search in query.get("search", []):
            searched += 1
            for value in re.findall(r"status=(\S+)", search):
                assert value in VM_STATUSES, f"{name}: {search!r} is invalid to the engine"
    assert searched > 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_nothing_of_this_machine_or_a_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "127.0.0.1" not in text
    assert "imitation-password" not in text
    assert "imitation-token" not in text

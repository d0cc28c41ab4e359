"""Pure helpers: lab to data-center names, autofs paths, what virtprov writes on its VMs.

Nothing here talks to an engine, so all of it is tested without one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final

#: Beaker cut derived data-center names to this many characters.
DC_NAME_LIMIT: Final = 40
#: A VM description that carries ownership labels starts with this word.
LABEL_MARK: Final = "virtprov"
#: The engine refuses VM descriptions longer than this.
DESCRIPTION_LIMIT: Final = 255
#: A VM's comment once virtprov has started it. The engine keeps no trace of a past run
#: that it shows on a VM that is down (``start_time`` only while the VM runs), so this is
#: how a stopped guest is told from one that never ran, by any process, at any time.
STARTED_COMMENT: Final = "made by virtprov; started"

#: The label (in the VM's description) of a guest booted from a template with cloud-init:
#: read back by ``poll``, which then looks for the addresses its guest agent reports.
BOOT_LABEL: Final = "virtprov-boot"
IMAGE_BOOT: Final = "image"

_NFS_URL = re.compile(r"^nfs://(?P<server>[^/:]+)(?::(?P<port>\d+))?:?(?P<path>/.*)?$")


def data_center_for_lab(lab_fqdn: str) -> str:
    """The data-center name Beaker derived from a lab controller's FQDN.

    Periods become underscores and the result is cut to 40 characters:
    ``lab.beaker.engineering.mylocation.example.com`` ->
    ``lab_beaker_engineering_mylocation_exampl``.
    """
    return lab_fqdn.strip().replace(".", "_")[:DC_NAME_LIMIT]


def autofs_path(location: str) -> str:
    """Where a hypervisor with autofs on ``/net`` reads an NFS location.

    ``nfs://server:/path/to/tree`` (also ``nfs://server/path``) becomes
    ``/net/server/path/to/tree``. A plain absolute path is returned unchanged (it is
    already a hypervisor path). Anything else (``http://``...) cannot be read by the
    hypervisor for a direct kernel boot and raises ``ValueError``.
    """
    if location.startswith("/"):
        return location
    match = _NFS_URL.match(location)
    if not match:
        raise ValueError(
            f"{location!r} is not an nfs://server:/path URL or a hypervisor path; "
            "direct kernel boot reads kernel and initrd through autofs on /net"
        )
    path = match.group("path") or "/"
    return f"/net/{match.group('server')}{path}".rstrip("/") or "/"


def encode_labels(labels: Mapping[str, str]) -> str:
    """A VM description that carries ``labels`` (``virtprov {"k":"v"}``)."""
    text = f"{LABEL_MARK} {json.dumps(dict(sorted(labels.items())), separators=(',', ':'))}"
    if len(text) > DESCRIPTION_LIMIT:
        raise ValueError(
            f"ownership labels need {len(text)} characters, an oVirt VM description "
            f"holds {DESCRIPTION_LIMIT}"
        )
    return text


def decode_labels(description: str | None) -> dict[str, str]:
    """The labels a description carries; empty for a VM virtprov did not make."""
    if not description or not description.startswith(LABEL_MARK + " "):
        return {}
    try:
        value = json.loads(description[len(LABEL_MARK) + 1 :])
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def created_comment(recipe: str) -> str:
    """The comment of a VM virtprov has made and not started yet."""
    return f"made by virtprov for {recipe}"


def was_started(comment: str | None) -> bool:
    """Whether a VM with this comment has been started by virtprov."""
    return (comment or "").strip() == STARTED_COMMENT

"""What Nova says, read one way by every provider that talks to it.

Two distributions reach Nova: ``virtprov-openstack`` through openstacksdk, and
``virtprov-libcloud`` through libcloud's OpenStack driver. Both must judge the same
answers alike, so the rules live here, once:

* a server's build **fault** (``{"code": 500, "message": "No valid host was found. ",
  "details": "..."}``) as one line of text, and whether it means the cloud had no room
  (the scheduler's "No valid host was found", or a quota), which the pool answers by
  trying the next provider;
* a flavor's **extra specs**: the architecture they name, and the properties they
  declare (CPU flags, TPM, secure boot...) through the one translation table,
  :func:`virtprov.hostrequires.properties.from_nova_extra_specs`.

Nova gives no structured code for these, so this module (and each provider's own error
mapping, for HTTP answers) is where the message texts are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

#: Nova's "Quota exceeded for ..." (HTTP 403 since microversion 2.1), Neutron's
#: ``OverQuota`` (HTTP 409), and the same words in a build fault.
QUOTA_EXCEEDED: Final = re.compile(
    r"quota exceeded|overquota|over quota|exceeds quota", re.IGNORECASE
)
#: The scheduler found no host for the server: "No valid host was found", or the older
#: ``NoValidHost`` exception name.
NO_VALID_HOST: Final = re.compile(r"no ?valid ?host", re.IGNORECASE)
#: Flavor extra specs that name an architecture, in the order they are trusted.
ARCH_SPECS: Final = ("hw:architecture", "capabilities:cpu_info:arch", "cpu_arch", "architecture")

_NO_FAULT: Final = "the server went into ERROR without a fault"


def fault_text(fault: Mapping[str, Any] | None) -> str:
    """A server's ``fault`` as one line: its message, and the first line of its details.

    ``details`` can be a whole traceback, so only its first line is kept, and only when
    the message does not say it already.
    """
    fault = fault or {}
    message = str(fault.get("message") or "").strip()
    details = str(fault.get("details") or "").strip()
    first = details.splitlines()[0].strip() if details else ""
    text = message if not first or first in message else f"{message}: {first}"
    return text or _NO_FAULT


def fault_is_capacity(fault: str | None) -> bool:
    """Whether a server's ERROR fault says the cloud had no room (scheduler or quota)."""
    return bool(fault and (NO_VALID_HOST.search(fault) or QUOTA_EXCEEDED.search(fault)))


def flavor_arch(specs: Mapping[str, str]) -> str | None:
    """The architecture a flavor's extra specs name, or ``None`` when they name none."""
    return next((str(specs[key]) for key in ARCH_SPECS if specs.get(key)), None)


def flavor_properties(specs: Mapping[str, str]) -> dict[str, str]:
    """``Flavor.properties`` from extra specs: the raw specs and what they declare."""
    from virtprov.hostrequires.properties import from_nova_extra_specs

    text = {str(key): str(value) for key, value in specs.items()}
    return text | from_nova_extra_specs(text)

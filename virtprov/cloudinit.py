"""Cloud-init user data for an image boot, for clouds that cannot carry every key apart.

A cloud that keeps one key per guest (a Nova key pair, an EC2 key name) gets the other
keys of an :class:`~virtprov.model.ImageBoot` through cloud-init: a ``#cloud-config``
with ``ssh_authorized_keys``, alone or as one more part of a MIME multipart document
beside the user's own user data, which cloud-init reads part by part (its documented
"mime multi-part archive" format). The user's part is passed unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

#: cloud-init's content types, by the first line of a part.
_PART_TYPES = (
    ("#cloud-config", "cloud-config"),
    ("#!", "x-shellscript"),
    ("#include", "x-include-url"),
    ("#cloud-boothook", "cloud-boothook"),
    ("## template: jinja", "jinja2"),
)


def authorized_keys_config(keys: Sequence[str]) -> str:
    """A ``#cloud-config`` that authorises ``keys`` for the image's default user."""
    # JSON strings are YAML scalars: no key text can break out of its list item.
    lines = "".join(f"  - {json.dumps(key.strip())}\n" for key in keys)
    return f"#cloud-config\nssh_authorized_keys:\n{lines}"


def user_data_with_keys(user_data: str | None, keys: Sequence[str]) -> str | None:
    """``user_data`` that also authorises ``keys``; ``user_data`` itself if none."""
    if not keys:
        return user_data
    config = authorized_keys_config(keys)
    if user_data is None:
        return config
    if user_data.startswith("Content-Type: multipart/"):
        # Already an archive: appending a part would need re-parsing the user's MIME.
        raise ValueError(
            "user data that is already a MIME multipart archive cannot carry extra SSH "
            "keys: add them to it (ssh_authorized_keys) or give one key"
        )
    archive = MIMEMultipart()
    for text in (user_data, config):
        subtype = next((kind for head, kind in _PART_TYPES if text.startswith(head)), "plain")
        archive.attach(MIMEText(text, subtype, "utf-8"))
    return archive.as_string()

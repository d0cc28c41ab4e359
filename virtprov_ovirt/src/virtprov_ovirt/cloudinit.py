"""The user data of an oVirt image boot, checked before any call to the engine.

The engine writes a guest's cloud-init user data itself (``CloudInitHandler.getUserData``
in ovirt-engine's vdsbroker): ``#cloud-config``, a YAML mapping of its own settings
(``disable_root``, ``output``, ``runcmd``, ``chpasswd``, ``ssh_pwauth``, ``user`` when a
user name is given), then the VM initialization's custom script appended verbatim. So the
user data of an image boot travels as that custom script and must be cloud-config that
still parses where the engine puts it: a shell script, a MIME archive or an include list
cannot be carried, and a key the user data sets replaces the engine's own of that name.
Errors name what is wrong in one line and never quote the user data (it may hold secrets).
"""

from __future__ import annotations

from typing import Final

import yaml

#: The start of what the engine writes before the custom script (a mapping, in block style).
_ENGINE_HEAD: Final = "#cloud-config\ndisable_root: false\n"
#: cloud-init's other user-data formats, by their first line.
_OTHER_FORMATS: Final = (
    ("#!", "a shell script"),
    ("Content-Type: multipart/", "a MIME multipart archive"),
    ("#include", "an include list"),
    ("#cloud-boothook", "a boothook"),
    ("## template: jinja", "a Jinja template"),
)


def check_user_data(user_data: str) -> None:
    """Raise ``ValueError`` unless the engine can carry ``user_data`` as a custom script."""
    for head, kind in _OTHER_FORMATS:
        if user_data.startswith(head):
            raise ValueError(
                f"the user data is {kind}: oVirt appends user data to the #cloud-config it "
                "writes itself, so only #cloud-config user data can be given"
            )
    if not user_data.startswith("#cloud-config"):
        raise ValueError(
            "the user data does not start with #cloud-config: oVirt appends user data to "
            "the #cloud-config it writes itself, so only cloud-config can be given"
        )
    try:
        yaml.safe_load(_ENGINE_HEAD + user_data)  # after the engine's mapping: one too
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line - 1}" if mark is not None else ""
        raise ValueError(
            f"the user data is not a YAML mapping the engine can append to its own "
            f"#cloud-config ({type(exc).__name__}{where})"
        ) from None

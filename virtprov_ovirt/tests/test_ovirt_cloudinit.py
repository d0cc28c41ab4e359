"""An image boot's user data, checked offline as the engine will join it to its own."""

from __future__ import annotations

import pytest
from virtprov_ovirt.cloudinit import check_user_data


@pytest.mark.parametrize(
    "user_data",
    [
        "#cloud-config\n",
        "#cloud-config\nruncmd:\n  - [touch, /run/x]\npackages: [vim]\n",
        "#cloud-config\nwrite_files:\n- path: /etc/x\n  content: ok\n",
    ],
)
def test_cloud_config_is_carried(user_data: str) -> None:
    check_user_data(user_data)


@pytest.mark.parametrize(
    ("user_data", "why"),
    [
        ("#!/bin/sh\necho secret-token\n", "is a shell script"),
        ("Content-Type: multipart/mixed; boundary=x\n\n--x--\n", "MIME multipart archive"),
        ("#include\nhttps://example.com/secret-token\n", "is an include list"),
        ("packages: [vim]\n", "does not start with #cloud-config"),
        ("#cloud-config\n- a list, not keys\n", "ParserError at line 2"),
        ("#cloud-config\na: 1\n---\nb: 2\n", "ComposerError at line 3"),
    ],
)
def test_what_the_engine_cannot_carry_is_refused_in_one_line(user_data: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as refused:
        check_user_data(user_data)
    message = str(refused.value)
    assert "\n" not in message
    assert "secret-token" not in message

"""Every distribution leaves logging to the application: a record logged before the
application configured anything is printed nowhere (Python would otherwise print
warnings and errors on stderr), and reaches whatever the application configures."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Each distribution's package and the logger tree its modules log on.
LOGGERS = {
    "virtprov.pool": "virtprov",
    "virtprov_openstack": "virtprov_openstack",
    "virtprov_ovirt": "virtprov_ovirt",
    "virtprov_libcloud": "virtprov_libcloud",
    "virtprov_tmt": "virtprov_tmt",
    "virtprov_testing": "virtprov_testing",
}


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )


@pytest.mark.parametrize(("package", "logger"), LOGGERS.items())
def test_a_package_prints_nothing_until_the_application_says_where(
    package: str, logger: str
) -> None:
    logs = f"logging.getLogger('{logger}.some_module').warning('said')"
    assert python(f"import logging, {package}; {logs}").stderr == ""
    configured = python(f"import logging, {package}; logging.basicConfig(); {logs}")
    assert configured.stderr == f"WARNING:{logger}.some_module:said\n"

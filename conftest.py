"""Repository-wide pytest setup.

pytest-recording replaces ``sys.modules["pycurl"]`` with a proxy module when it
configures itself; ovirtsdk4 imported after that builds proxy ``Curl`` objects and
fails with ``add_handle() argument 1 must be pycurl.Curl``. Importing ovirtsdk4 here,
before plugins configure, binds the real pycurl. (Only where virtprov-ovirt is installed.)
"""

import contextlib

import pytest

with contextlib.suppress(ImportError):
    import ovirtsdk4  # noqa: F401

with contextlib.suppress(ImportError):  # where hypothesis is installed (the dev group)
    from hypothesis import HealthCheck, settings

    # The test command runs on shared, loaded machines: a property test is judged by
    # what it finds, never by how fast examples were made or ran.
    settings.register_profile(
        "virtprov", deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.load_profile("virtprov")


@pytest.fixture(autouse=True)
def private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test (and every process it starts) keeps virtprov's state (the embedded fake
    cloud, the CLI journal) in a directory of its own, never in the user's
    ``~/.local/state``: a test must not see, nor change, what another run left there."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))

"""The conformance suite catches what breaks a scheduler, and says so.

Each broken variant of ``conformance_mutants`` (of the fake cloud and of the example
plugin) runs through the whole suite, built from ``virtprov.toml`` text as a plugin's
own tests would build it. The suite must fail exactly the tests of the broken rule,
each with a message that names the method, the rule and what it saw; every other test
passes. The unbroken providers, through the same wiring, pass everything.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

pytest_plugins = ("pytester",)

HERE = Path(__file__).resolve().parent
EXAMPLE_SRC = HERE.parents[1] / "docs" / "examples" / "plugin" / "src"

FAKE = """
from virtprov_testing.conformance import ProviderConformance

import conformance_mutants
from virtprov.fake import FakeProvider


class TestVariant(ProviderConformance):
    poll_interval = 0.0
    ready_timeout = 1.0
    provider_class = {cls}
    config = 'driver = "fake"'
"""

TOY = '''
import pytest
from virtprov_testing.conformance import ProviderConformance
from virtprov_toy import cloud
from virtprov_toy.provider import ToyProvider

import conformance_mutants


class TestVariant(ProviderConformance):
    poll_interval = 0.01
    ready_timeout = 2.0
    provider_class = {cls}
    config = """
        driver = "toy"
        endpoint = "toy://mutants"
        token = {{ env = "TOY_TOKEN" }}
    """
    secrets = {{"TOY_TOKEN": "mutant-token-4f1c"}}

    @pytest.fixture(autouse=True)
    def served(self):
        served = cloud.serve("toy://mutants", token="mutant-token-4f1c", build_seconds=0.02)
        yield served
        served.close()
'''

BUILDING = (
    "create_guest: expected BUILDING (return as soon as the cloud accepted the request and "
    "the id is known; poll() reports READY later), saw READY"
)
NO_LABEL = (
    "list_guests('vpconf-'): returned 'vpconf-unlabelled-9400', which has no virtprov-pool "
    "label: list only guests that carry it"
)


def named(driver: str) -> dict[str, str]:
    rule = (
        "Guest.provider must be the provider's name, info.name = 'conformance'; "
        f"saw '{driver}' (the driver's name)"
    )
    return {
        "test_create_returns_the_guest_fast_with_its_name_and_labels": f"create_guest: {rule}",
        "test_poll_reaches_ready_with_a_mac": f"poll: {rule}",
        "test_list_guests_finds_ours_by_prefix": f"list_guests: {rule}",
    }


@attrs.frozen
class Mutant:
    """A variant, the tests it must fail and what each failure must say."""

    template: str
    cls: str
    fails: dict[str, str] = attrs.field(factory=dict)
    #: What every other failing test must say (a fixture's or a teardown's failure).
    others: str | None = None


MUTANTS = {
    "fake, unbroken": Mutant(FAKE, "FakeProvider"),
    "fake, RAM in bytes": Mutant(
        FAKE,
        "conformance_mutants.RamInBytes",
        {
            "test_flavors_have_sane_units": "flavors(): fake.tiny: ram_mib must be MiB, between "
            "64 and 67108864; saw 536870912 (in bytes it would be 512 MiB, in KiB 524288 MiB)"
        },
    ),
    "fake, disk in GiB": Mutant(
        FAKE,
        "conformance_mutants.DiskInGiB",
        {
            "test_flavors_have_sane_units": "flavors(): fake.tiny: disk_bytes must be bytes, 0 "
            "or between 67108864 and 1125899906842624; saw 5 (5 GiB would be 5368709120 bytes)"
        },
    ),
    "fake, no flavors": Mutant(
        FAKE,
        "conformance_mutants.NoFlavors",
        {"test_flavors_have_sane_units": "flavors(): expected at least one flavor, saw none"},
        others="flavors(): expected at least one flavor to create the suite's guests of, saw none",
    ),
    "fake, create blocks until ready": Mutant(
        FAKE,
        "conformance_mutants.CreateBlocksUntilReady",
        {"test_create_returns_the_guest_fast_with_its_name_and_labels": BUILDING},
    ),
    "fake, guests named after the driver": Mutant(
        FAKE, "conformance_mutants.NamedAfterTheDriver", named("fake")
    ),
    "fake, list_guests ignores the label": Mutant(
        FAKE,
        "conformance_mutants.ListIgnoresTheLabel",
        {"test_list_guests_skips_guests_without_the_pool_label": NO_LABEL},
    ),
    "fake, start does nothing": Mutant(
        FAKE,
        "conformance_mutants.StartDoesNothing",
        {
            "test_start_and_stop": "start_guest: expected RUNNING within 1 s, saw READY",
            "test_unknown_guests": "start_guest(unknown id): expected GuestNotFound, returned "
            "without raising",
        },
    ),
    "fake, stopped reads ready": Mutant(
        FAKE,
        "conformance_mutants.ReadyAgainAfterStop",
        {
            "test_start_and_stop": "stop_guest: expected STOPPED within 1 s, saw READY (READY is "
            "only for a guest never started; once started, off is STOPPED)"
        },
    ),
    "fake, destroy not idempotent": Mutant(
        FAKE,
        "conformance_mutants.DestroyNotIdempotent",
        {
            "test_destroy_is_idempotent_and_frees_capacity": "destroy_guest: destroying a guest "
            "that is already gone must succeed silently (idempotent); the second destroy raised "
            "GuestNotFound: conformance: no guest",
            "test_unknown_guests": "destroy_guest(unknown id): must succeed silently (gone "
            "already is fine: idempotent), raised GuestNotFound: conformance: no guest "
            "00000000-0000-4000-8000-00000000dead",
        },
    ),
    "fake, KeyError for an unknown guest": Mutant(
        FAKE,
        "conformance_mutants.KeyErrorForUnknownGuests",
        {
            "test_unknown_guests": "start_guest(unknown id): expected GuestNotFound, raised "
            "KeyError: '00000000-0000-4000-8000-00000000dead'"
        },
    ),
    "fake, unknown options accepted": Mutant(
        FAKE,
        "conformance_mutants.UnknownOptionsAccepted",
        {
            "test_from_config_refuses_unknown_options": "from_config: the unknown option "
            "providers.conformance.vpconf_no_such_option was accepted; read every option "
            "through config.options and call config.options.finish() at the end"
        },
    ),
    "fake, connects while built": Mutant(
        FAKE,
        "conformance_mutants.ConnectsWhileBuilt",
        {
            "test_from_config_is_offline": "from_config: made a name lookup of '127.0.0.1' while "
            "building the provider; construction must be offline"
        },
    ),
    "toy, unbroken": Mutant(TOY, "ToyProvider"),
    "toy, token in repr": Mutant(
        TOY,
        "conformance_mutants.TokenInRepr",
        {
            "test_secrets_stay_out_of_repr_and_str": "repr(provider) holds the value of the "
            "secret in $TOY_TOKEN: show where a secret comes from, never the secret"
        },
    ),
    "toy, token logged": Mutant(
        TOY,
        "conformance_mutants.TokenLogged",
        others="logging: a DEBUG record of logger 'virtprov_toy' holds the value of the secret "
        "in $TOY_TOKEN",
    ),
    "toy, memory in GiB": Mutant(
        TOY,
        "conformance_mutants.MemoryInGiB",
        {
            "test_flavors_have_sane_units": "flavors(): toy.small: ram_mib must be MiB, between "
            "64 and 67108864; saw 1 (in GiB it would be 1024 MiB)"
        },
    ),
    "toy, create blocks until ready": Mutant(
        TOY,
        "conformance_mutants.ToyCreateBlocksUntilReady",
        {"test_create_returns_the_guest_fast_with_its_name_and_labels": BUILDING},
    ),
    "toy, guests named after the driver": Mutant(
        TOY, "conformance_mutants.ToyNamedAfterTheDriver", named("toy")
    ),
    "toy, list_guests ignores the label": Mutant(
        TOY,
        "conformance_mutants.ToyListIgnoresTheLabel",
        {"test_list_guests_skips_guests_without_the_pool_label": NO_LABEL},
    ),
}


@pytest.mark.parametrize("case", list(MUTANTS))
def test_the_suite_fails_the_broken_rule_and_says_which(
    case: str, pytester: pytest.Pytester
) -> None:
    mutant = MUTANTS[case]
    pytester.syspathinsert(HERE)
    pytester.syspathinsert(EXAMPLE_SRC)
    pytester.makepyfile(test_variant=mutant.template.format(cls=mutant.cls))
    reports = pytester.inline_run("-p", "no:cacheprovider").getreports("pytest_runtest_logreport")
    assert reports, "the suite ran no test"
    failed: dict[str, str] = {}
    for report in reports:
        if report.failed:
            failed.setdefault(report.nodeid.rsplit("::", 1)[1], report.longreprtext)
    for test, message in mutant.fails.items():
        assert test in failed, f"{test} passed: the suite misses {case!r}"
        assert message in failed[test], failed[test]
    others = {test: text for test, text in failed.items() if test not in mutant.fails}
    if mutant.others is None:
        assert not others, f"more failed than the broken rule's tests: {others}"
    else:
        assert others, f"the suite misses {case!r}"
        for test, text in others.items():
            assert mutant.others in text, f"{test}: {text}"

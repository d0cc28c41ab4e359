"""What a scheduler will do with the provider: the pool launches a guest on it and releases it."""

from __future__ import annotations

import pytest
from toy_testenv import TOKEN
from virtprov_testing.pool_roundtrip import launch_and_release
from virtprov_toy import cloud

from virtprov import build_provider, parse_config
from virtprov.pool import Recipe

CONFIG = """
[providers.toy-lab]
driver = "toy"
lab = "lab.example.com"
endpoint = "toy://lab"
token = { env = "TOY_TOKEN" }
"""


def test_the_pool_launches_a_guest_and_releases_it(
    toy_cloud: cloud.ToyCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOY_TOKEN", TOKEN)
    config = parse_config(CONFIG, path="virtprov.toml")
    provider = build_provider(config.providers["toy-lab"])  # through the entry point
    outcome = launch_and_release(provider, Recipe(42, labs=["lab.example.com"]))
    assert outcome.guest is not None
    assert outcome.guest.provider == "toy-lab"
    assert outcome.guest.macs[0].startswith("02:00:00:")


def test_a_wrong_token_disables_nothing_but_says_what_to_fix(
    toy_cloud: cloud.ToyCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from virtprov import PermanentError

    monkeypatch.setenv("TOY_TOKEN", "not-the-token")
    provider = build_provider(parse_config(CONFIG).providers["toy-lab"])
    with pytest.raises(PermanentError) as refused:
        provider.flavors()
    assert str(refused.value) == (
        "toy-lab: log in to toy://lab: the toy cloud refused the token; check `token`"
    )

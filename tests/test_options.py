"""``Options``: the typed accessors a plugin's ``from_config`` reads its table with."""

from __future__ import annotations

from pathlib import Path

import mypy.api
import pytest

from virtprov.config import Options, Secret
from virtprov.errors import ConfigError


def options(**table: object) -> Options:
    return Options(table, path="virtprov.toml", prefix="providers.toy")


def test_each_accessor_returns_its_type_to_a_type_checker(tmp_path: Path) -> None:
    """No ``Any``: a ``required=True`` or defaulted option is its type, others may be None."""
    snippet = tmp_path / "typed_options.py"
    snippet.write_text(
        """
from typing import assert_type
from virtprov.config import Options, Secret, TomlValue

o = Options({}, path=None, prefix="")
assert_type(o.string("a", required=True), str)
assert_type(o.string("a", "x"), str)
assert_type(o.string("a"), str | None)
assert_type(o.integer("a", required=True), int)
assert_type(o.integer("a", 1, minimum=1), int)
assert_type(o.integer("a"), int | None)
assert_type(o.number("a", required=True), float)
assert_type(o.number("a", 2.5), float)
assert_type(o.number("a"), float | None)
assert_type(o.boolean("a", False), bool)
assert_type(o.boolean("a", required=True), bool)
assert_type(o.boolean("a"), bool | None)
assert_type(o.string_list("a"), list[str])
assert_type(o.secret("a", required=True), Secret)
assert_type(o.secret("a"), Secret | None)
assert_type(o.raw("a"), TomlValue | None)
assert_type(o.table("a"), Options)
assert_type(o.names(), list[str])
""",
        encoding="utf-8",
    )
    report, errors, status = mypy.api.run(
        ["--strict", "--no-incremental", "--python-version", "3.11", str(snippet)]
    )
    assert status == 0, report + errors


def test_defaults_and_required_keys() -> None:
    table = options(url="https://toy.example.com", timeout=3, insecure=True)
    assert table.string("url", required=True) == "https://toy.example.com"
    assert table.number("timeout", 30.0) == 3.0
    assert isinstance(table.number("timeout"), float)
    assert table.boolean("insecure", False) is True
    assert table.string("region", "east") == "east"
    assert table.integer("retries") is None
    assert table.string_list("arches", ("x86_64",)) == ["x86_64"]
    table.finish()


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (
            lambda o: o.boolean("verify", required=True),
            "virtprov.toml: providers.toy.verify: is required (add verify = true)",
        ),
        (
            lambda o: o.string_list("arches", required=True),
            'virtprov.toml: providers.toy.arches: is required (add arches = ["..."])',
        ),
        (
            lambda o: o.number("timeout", minimum=1.0),
            "virtprov.toml: providers.toy.timeout: must be at least 1, got 0.5",
        ),
        (
            lambda o: o.number("delay"),
            "virtprov.toml: providers.toy.delay: must not be negative, got -1",
        ),
        (
            lambda o: o.integer("count", minimum=1),
            "virtprov.toml: providers.toy.count: must be at least 1, got 0",
        ),
        (
            lambda o: o.integer("timeout"),
            "virtprov.toml: providers.toy.timeout: must be a whole number, got a number",
        ),
        (
            lambda o: o.string_list("mixed"),
            "virtprov.toml: providers.toy.mixed: must be a list of strings",
        ),
    ],
)
def test_each_error_names_the_file_and_the_whole_key(read: object, message: str) -> None:
    table = options(timeout=0.5, delay=-1, count=0, mixed=["a", 1])
    with pytest.raises(ConfigError) as caught:
        read(table)  # type: ignore[operator]
    assert str(caught.value) == message


def test_secret_is_a_reference_required_or_not() -> None:
    table = options(token={"env": "TOY_TOKEN"})
    secret = table.secret("token", required=True)
    assert isinstance(secret, Secret)
    assert repr(secret) == "Secret(env='TOY_TOKEN')"
    assert table.secret("other") is None
    with pytest.raises(ConfigError, match=r"providers\.toy\.missing: is required"):
        table.secret("missing", required=True)


def test_finish_names_the_first_unknown_key_with_a_suggestion() -> None:
    table = options(url="u", tiemout=3)
    table.string("url")
    table.number("timeout")
    with pytest.raises(ConfigError) as caught:
        table.finish()
    assert str(caught.value) == (
        "virtprov.toml: providers.toy.tiemout: is not a known option (did you mean timeout?)"
    )

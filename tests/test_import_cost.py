"""``import virtprov`` must stay cheap: no SDK, no plugin scan, no heavy dependency.

Only *which* modules get imported is asserted here; the time it takes is measured by
``benchmarks/import_time.py`` (timed unit tests are flaky on a shared machine).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {
    "openstack",
    "ovirtsdk4",
    "libcloud",
    "stevedore",
    "sqlalchemy",
    "lxml",
    "click",
    "attr",
    "attrs",
    "pint",
    "yaml",
    "prometheus_client",
}


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_import_virtprov_imports_nothing_heavy() -> None:
    assert not HEAVY & _modules_after("import virtprov")


def test_using_the_model_imports_no_sdk_or_plugin_machinery() -> None:
    loaded = _modules_after(
        "import virtprov; virtprov.Flavor; virtprov.Provider; virtprov.ConfigError"
    )
    assert not {"openstack", "ovirtsdk4", "libcloud", "stevedore", "sqlalchemy", "lxml"} & loaded


def test_lazy_names_resolve() -> None:
    import virtprov
    from virtprov.model import Flavor

    assert virtprov.Flavor is Flavor
    assert "Flavor" in dir(virtprov)
    with pytest.raises(AttributeError, match="NoSuchThing"):
        virtprov.NoSuchThing  # noqa: B018


def test_what_a_plugin_needs_comes_from_the_package_root() -> None:
    import virtprov
    from virtprov import config, error_mapping, model, plugins

    needed = [
        (model, ("BootRequest", "NetworkBoot", "KernelBoot", "OwnedResource", "MAC_ADDRESS")),
        (model, ("LABEL_POOL", "LABEL_RECIPE", "GiB", "MiB")),
        (config, ("Options", "ProviderConfig", "Secret", "parse_config")),
        (error_mapping, ("ErrorMapping", "mapping_errors")),
        (plugins, ("build_provider",)),
    ]
    for module, names in needed:
        for name in names:
            assert getattr(virtprov, name) is getattr(module, name), name


def test_all_lists_exactly_the_lazy_names() -> None:
    import virtprov

    assert sorted(virtprov.__all__) == sorted(virtprov._EXPORTS)

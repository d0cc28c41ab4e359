"""virtprov: virtual machines on demand for test-lab recipes, on whatever cloud a lab has.

``import virtprov`` is cheap: it imports no cloud SDK and scans no plugins. The names
below load their module on first use (PEP 562), so a scheduler pays only for what it
touches.
"""

from __future__ import annotations

import importlib

# Not ``from typing import TYPE_CHECKING``: importing typing alone costs ~15 ms, more than
# everything else here. Type checkers treat this name specially either way.
TYPE_CHECKING = False

__version__ = "0.1.0"

_EXPORTS = {
    # model
    "BootRequest": "virtprov.model",
    "Capacity": "virtprov.model",
    "ConsoleOutput": "virtprov.model",
    "Flavor": "virtprov.model",
    "Guest": "virtprov.model",
    "GuestSpec": "virtprov.model",
    "GuestState": "virtprov.model",
    "GiB": "virtprov.model",
    "ImageBoot": "virtprov.model",
    "KernelBoot": "virtprov.model",
    "LABEL_POOL": "virtprov.model",
    "LABEL_RECIPE": "virtprov.model",
    "MAC_ADDRESS": "virtprov.model",
    "MiB": "virtprov.model",
    "NetworkBoot": "virtprov.model",
    "OwnedResource": "virtprov.model",
    "ProviderInfo": "virtprov.model",
    # contract
    "Provider": "virtprov.provider",
    "ErrorMapping": "virtprov.error_mapping",
    "mapping_errors": "virtprov.error_mapping",
    # errors
    "CapacityExhausted": "virtprov.errors",
    "ConfigError": "virtprov.errors",
    "GuestNotFound": "virtprov.errors",
    "HostRequiresError": "virtprov.errors",
    "PermanentError": "virtprov.errors",
    "PluginError": "virtprov.errors",
    "ProviderError": "virtprov.errors",
    "TransientError": "virtprov.errors",
    "VirtprovError": "virtprov.errors",
    # configuration and plugins
    "Config": "virtprov.config",
    "Options": "virtprov.config",
    "ProviderConfig": "virtprov.config",
    "Secret": "virtprov.config",
    "load_config": "virtprov.config",
    "parse_config": "virtprov.config",
    "build_provider": "virtprov.plugins",
    "build_providers": "virtprov.plugins",
}

# A literal list, so that type checkers see what the package exports (with
# no_implicit_reexport, a plugin's `from virtprov import Provider` needs it); a test
# holds it equal to _EXPORTS.
__all__ = [
    "LABEL_POOL",
    "LABEL_RECIPE",
    "MAC_ADDRESS",
    "BootRequest",
    "Capacity",
    "CapacityExhausted",
    "Config",
    "ConfigError",
    "ConsoleOutput",
    "ErrorMapping",
    "Flavor",
    "GiB",
    "Guest",
    "GuestNotFound",
    "GuestSpec",
    "GuestState",
    "HostRequiresError",
    "ImageBoot",
    "KernelBoot",
    "MiB",
    "NetworkBoot",
    "Options",
    "OwnedResource",
    "PermanentError",
    "PluginError",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderInfo",
    "Secret",
    "TransientError",
    "VirtprovError",
    "build_provider",
    "build_providers",
    "load_config",
    "mapping_errors",
    "parse_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'virtprov' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from typing import Any

    from virtprov.config import (
        Config,
        Options,
        ProviderConfig,
        Secret,
        load_config,
        parse_config,
    )
    from virtprov.error_mapping import ErrorMapping, mapping_errors
    from virtprov.errors import (
        CapacityExhausted,
        ConfigError,
        GuestNotFound,
        HostRequiresError,
        PermanentError,
        PluginError,
        ProviderError,
        TransientError,
        VirtprovError,
    )
    from virtprov.model import (
        LABEL_POOL,
        LABEL_RECIPE,
        MAC_ADDRESS,
        BootRequest,
        Capacity,
        ConsoleOutput,
        Flavor,
        GiB,
        Guest,
        GuestSpec,
        GuestState,
        ImageBoot,
        KernelBoot,
        MiB,
        NetworkBoot,
        OwnedResource,
        ProviderInfo,
    )
    from virtprov.plugins import build_provider, build_providers
    from virtprov.provider import Provider

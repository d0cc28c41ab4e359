"""Finding provider plugins (entry-point group ``virtprov.providers``) with stevedore.

Loading is lazy and one driver at a time: importing a plugin imports its cloud SDK,
which costs hundreds of milliseconds. stevedore logs and drops a plugin that fails to
load; virtprov never does: every failure becomes a :class:`~virtprov.errors.PluginError`
(or a :class:`PluginStatus` with the error) naming the entry point, the distribution
that declared it, its version and the traceback.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any, Final

import attrs

from virtprov.errors import PluginError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from virtprov.config import Config, ProviderConfig
    from virtprov.provider import Provider

PROVIDERS_GROUP: Final = "virtprov.providers"
#: Entry-point group for extra CLI commands (click commands or groups).
CLI_GROUP: Final = "virtprov.cli"
#: The drivers virtprov's own distributions provide, for the hint when one is missing
#: (an absent driver has no entry point to ask). A test checks each against the
#: ``virtprov.providers`` entry points those distributions declare.
KNOWN_DRIVERS: Final = {
    "fake": "virtprov",
    "openstack": "virtprov-openstack",
    "ovirt": "virtprov-ovirt",
    "libcloud": "virtprov-libcloud",
}


@attrs.frozen
class PluginStatus:
    """One entry point of ``virtprov.providers``: where it comes from and whether it loads."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _entry_points(group: str) -> list[EntryPoint]:
    from stevedore import ExtensionManager

    # list_entry_points reads stevedore's cache without importing any plugin.
    manager = ExtensionManager.__new__(ExtensionManager)
    manager.namespace = group
    return list(manager.list_entry_points())


def _distribution_of(entry_point: EntryPoint) -> tuple[str | None, str | None]:
    """Which installed distribution declares this entry point (stevedore's cache drops it)."""
    import importlib.metadata

    dist = getattr(entry_point, "dist", None)
    if dist is not None:
        return dist.metadata["Name"], dist.version
    for dist in importlib.metadata.distributions():
        for candidate in dist.entry_points:
            if (candidate.group, candidate.name, candidate.value) == (
                entry_point.group,
                entry_point.name,
                entry_point.value,
            ):
                return dist.metadata["Name"], dist.version
    return None, None


def _load(entry_point: EntryPoint) -> type[Provider]:
    from virtprov.provider import Provider

    try:
        plugin = entry_point.load()
    except Exception as exc:  # a broken plugin must not take the caller down
        raise _plugin_error(
            entry_point,
            f"cannot be loaded: {type(exc).__name__}: {exc}",
            traceback.format_exc(),
        ) from exc
    if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
        raise _plugin_error(entry_point, f"{entry_point.value} is not a virtprov.Provider subclass")
    return plugin


def _plugin_error(
    entry_point: EntryPoint, message: str, formatted_traceback: str | None = None
) -> PluginError:
    distribution, version = _distribution_of(entry_point)
    origin = f" (from {distribution} {version})" if distribution else ""
    return PluginError(
        f"provider plugin {entry_point.name!r}{origin} {message}",
        name=entry_point.name,
        distribution=distribution,
        version=version,
        traceback=formatted_traceback,
    )


def driver_names() -> list[str]:
    """Names of every installed provider driver, without importing any of them."""
    return sorted({ep.name for ep in _entry_points(PROVIDERS_GROUP)})


def load_driver(name: str) -> type[Provider]:
    """Import one provider driver by entry-point name."""
    matches = [ep for ep in _entry_points(PROVIDERS_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(driver_names()) or "none"
        raise PluginError(
            f"no provider driver named {name!r} is installed (installed: {known}); "
            f"{install_hint(name)}",
            name=name,
        )
    if len(matches) > 1:
        origins = ", ".join(filter(None, (_distribution_of(ep)[0] for ep in matches)))
        raise PluginError(
            f"provider driver {name!r} is declared more than once ({origins})", name=name
        )
    return _load(matches[0])


def install_hint(name: str) -> str:
    """What to install for a missing driver: only a distribution known to provide it."""
    distribution = KNOWN_DRIVERS.get(name)
    if distribution == "virtprov":
        return f"the {name!r} driver comes with virtprov itself: reinstall virtprov"
    if distribution is not None:
        return f"it comes with the {distribution} distribution: pip install {distribution}"
    return (
        "no virtprov distribution provides it: install the third-party distribution that "
        "declares it in the virtprov.providers entry-point group, or fix the driver name"
    )


def discover() -> list[PluginStatus]:
    """Every installed provider plugin, loaded, with its error if it failed to load."""
    statuses = []
    for entry_point in sorted(_entry_points(PROVIDERS_GROUP), key=lambda ep: ep.name):
        distribution, version = _distribution_of(entry_point)
        try:
            _load(entry_point)
        except PluginError as exc:
            statuses.append(
                PluginStatus(
                    entry_point.name,
                    entry_point.value,
                    distribution,
                    version,
                    error=str(exc),
                    traceback=exc.traceback,
                )
            )
        else:
            statuses.append(
                PluginStatus(entry_point.name, entry_point.value, distribution, version)
            )
    return statuses


def build_provider(config: ProviderConfig) -> Provider:
    """Load the driver a ``[providers.NAME]`` table names and build the provider."""
    from virtprov.errors import ConfigError

    try:
        driver = load_driver(config.driver)
    except PluginError as exc:
        raise ConfigError(
            str(exc), path=config.path, key=f"providers.{config.name}.driver"
        ) from exc
    provider = driver.from_config(config)
    if config.flavor_properties:
        provider.declarations = config.flavor_properties
    return provider


def build_providers(config: Config) -> dict[str, Provider]:
    """Every configured provider, in configuration order."""
    return {provider.name: build_provider(provider) for provider in config}


def cli_entry_points() -> list[Any]:
    """Entry points of extra CLI commands, unloaded."""
    return _entry_points(CLI_GROUP)

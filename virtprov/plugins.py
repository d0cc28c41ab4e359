"""Finding provider plugins (entry-point group ``virtprov.providers``).

Loading is lazy and one driver at a time: importing a plugin imports its cloud SDK,
which costs hundreds of milliseconds. stevedore loads them (``DriverManager`` for one
driver, ``ExtensionManager`` for all); it logs and drops a plugin that fails to load
unless given a failure callback, and virtprov's callbacks make every failure a
:class:`~virtprov.errors.PluginError` (or a :class:`PluginStatus` with the error) naming
the entry point, the distribution that declared it, its version and the traceback.
Listing names, and finding an entry point's distribution, is what stevedore cannot do
without importing every plugin: ``importlib.metadata`` does it, reading metadata only.
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
    """The installed entry points of ``group``, each with its distribution, none imported."""
    import importlib.metadata

    return list(importlib.metadata.entry_points(group=group))


def _distribution_of(entry_point: EntryPoint) -> tuple[str | None, str | None]:
    """Which installed distribution declares this entry point (stevedore's carry none)."""
    for candidate in _entry_points(entry_point.group):
        if (candidate.name, candidate.value) == (entry_point.name, entry_point.value):
            dist = candidate.dist
            if dist is not None:
                return dist.metadata["Name"], dist.version
    return None, None


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


def _load_error(entry_point: EntryPoint, exc: BaseException) -> PluginError:
    return _plugin_error(
        entry_point,
        f"cannot be loaded: {type(exc).__name__}: {exc}",
        "".join(traceback.format_exception(exc)),
    )


def _load_failed(manager: Any, entry_point: EntryPoint, exc: BaseException) -> None:
    """stevedore's ``on_load_failure_callback``: a broken plugin is a ``PluginError``,
    never a log line, and never anything else (it must not take the caller down)."""
    raise _load_error(entry_point, exc) from exc


def _provider_class(entry_point: EntryPoint, plugin: Any) -> type[Provider]:
    from virtprov.provider import Provider

    if not (isinstance(plugin, type) and issubclass(plugin, Provider)):
        raise _plugin_error(entry_point, f"{entry_point.value} is not a virtprov.Provider subclass")
    return plugin


def driver_names() -> list[str]:
    """Names of every installed provider driver, without importing any of them."""
    return sorted({ep.name for ep in _entry_points(PROVIDERS_GROUP)})


def load_driver(name: str) -> type[Provider]:
    """Import one provider driver by entry-point name (and no other plugin)."""
    from stevedore import DriverManager
    from stevedore.exception import NoUniqueMatch

    declared = [ep for ep in _entry_points(PROVIDERS_GROUP) if ep.name == name]
    if not declared:
        known = ", ".join(driver_names()) or "none"
        raise PluginError(
            f"no provider driver named {name!r} is installed (installed: {known}); "
            f"{install_hint(name)}",
            name=name,
        )
    if len(declared) > 1:
        origins = ", ".join(filter(None, (_distribution_of(ep)[0] for ep in declared)))
        raise PluginError(
            f"provider driver {name!r} is declared more than once ({origins})", name=name
        )
    try:
        manager: DriverManager[Any] = DriverManager(
            PROVIDERS_GROUP, name, on_load_failure_callback=_load_failed
        )
    except NoUniqueMatch as exc:  # stevedore read the entry points before it was installed
        raise PluginError(
            f"provider driver {name!r} cannot be loaded by this process ({exc}): restart it",
            name=name,
        ) from exc
    (extension,) = manager.extensions
    return _provider_class(extension.entry_point, extension.plugin)


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
    from stevedore import ExtensionManager

    found: list[tuple[EntryPoint, PluginError | None]] = []

    def failed(manager: Any, entry_point: EntryPoint, exc: BaseException) -> None:
        found.append((entry_point, _load_error(entry_point, exc)))

    manager: ExtensionManager[Any] = ExtensionManager(
        PROVIDERS_GROUP, on_load_failure_callback=failed
    )
    for extension in manager.extensions:
        try:
            _provider_class(extension.entry_point, extension.plugin)
        except PluginError as error:
            found.append((extension.entry_point, error))
        else:
            found.append((extension.entry_point, None))
    return [
        PluginStatus(
            entry_point.name,
            entry_point.value,
            *_distribution_of(entry_point),
            error=str(error) if error else None,
            traceback=error.traceback if error else None,
        )
        for entry_point, error in sorted(found, key=lambda item: item[0].name)
    ]


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

"""The ``[providers.NAME]`` options of a libcloud provider, read and checked offline."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import attrs

from virtprov.config import Options, ProviderConfig, Secret
from virtprov.model import GiB
from virtprov.urls import redact_url

#: Driver options whose values are credentials: they go in ``secret``, never inline.
_SECRET_WORDS: Final = re.compile(r"pass|secret|token|credential|private_key", re.IGNORECASE)
#: The OpenStack drivers' Keystone URL option, and the version path libcloud adds to it
#: per auth version family (``3.x_password`` -> ``/v3/auth/tokens``, ``2.0_password`` ->
#: ``/v2.0/tokens``).
_AUTH_URL: Final = "ex_force_auth_url"
_AUTH_VERSION: Final = "ex_force_auth_version"
_KEYSTONE_PATHS: Final = {"v3": "3", "v2.0": "2.0"}


@attrs.frozen
class SizeOverride:
    """What a driver cannot report about a size, set in the configuration."""

    vcpus: int | None = None
    ram_mib: int | None = None
    disk_bytes: int | None = None
    arch: str | None = None


@attrs.frozen(repr=False)
class Settings:
    name: str
    lab: str
    #: the libcloud driver: a ``libcloud.compute.types.Provider`` value (``ec2``, ``gce``...)
    libcloud_driver: str
    key: str | None
    secret: Secret | None
    #: keyword arguments of the driver's constructor (region, host, port, project...)
    driver_options: Mapping[str, Any]
    image: str
    location: str | None
    #: the network guests join (name or id), unless a guest's spec names another
    network: str | None
    #: size ids offered (empty: every size the driver lists)
    sizes: tuple[str, ...]
    size_overrides: Mapping[str, SizeOverride]
    #: keyword arguments added to every ``create_node`` call (key pair, network, ...)
    create_options: Mapping[str, Any]
    max_instances: int | None
    stop_when_built: bool
    arches: tuple[str, ...]
    hypervisor: str

    def __repr__(self) -> str:
        return (
            f"Settings(name={self.name!r}, libcloud_driver={self.libcloud_driver!r}, "
            f"key={self.key!r})"
        )


def read_settings(config: ProviderConfig) -> Settings:
    options = config.options
    libcloud_driver = options.string("libcloud_driver", required=True)
    _check_driver(options, libcloud_driver)
    settings = Settings(
        name=config.name,
        lab=config.lab,
        libcloud_driver=libcloud_driver,
        key=options.string("key"),
        secret=options.secret("secret"),
        driver_options=_keystone_root(options, _plain_table(options, "driver_options")),
        image=options.string("image", required=True),
        location=options.string("location"),
        network=options.string("network"),
        sizes=tuple(options.string_list("sizes")),
        size_overrides=_size_overrides(options),
        create_options=_plain_table(options, "create_options"),
        max_instances=options.integer("max_instances"),
        stop_when_built=options.boolean("stop_when_built", True),
        arches=tuple(options.string_list("arches", ["x86_64"])),
        hypervisor=options.string("hypervisor", "KVM"),
    )
    if not settings.arches:
        raise options.error("arches", "must name at least one architecture")
    unknown = sorted(set(settings.size_overrides) - set(settings.sizes)) if settings.sizes else []
    if unknown:
        raise options.error(f"size_overrides.{unknown[0]}", "overrides a size that is not in sizes")
    options.finish()
    return settings


def _check_driver(options: Options, name: str) -> None:
    from libcloud.compute.providers import DRIVERS

    known = {str(key) for key in DRIVERS}
    if name not in known:
        close = sorted(k for k in known if k.startswith(name[:2]))[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise options.error("libcloud_driver", f"{name!r} is not a libcloud compute driver{hint}")


def _plain_table(options: Options, key: str) -> dict[str, Any]:
    table = options.table(key)
    values: dict[str, Any] = {}
    for name in table.names():
        value = table.raw(name)
        if _SECRET_WORDS.search(name):
            raise table.error(
                name,
                "looks like a credential: give it as the provider's `secret` "
                '(a reference such as { env = "VARIABLE" }), not inline',
            )
        values[name] = value
    return values


def _keystone_root(options: Options, driver_options: dict[str, Any]) -> dict[str, Any]:
    """``ex_force_auth_url`` as libcloud wants it: Keystone's root, not its ``/v3``.

    Every ``clouds.yaml`` holds ``https://keystone.example.com:5000/v3``; libcloud adds
    the version path itself, so that URL would ask for ``/v3/v3/auth/tokens`` and get a
    404 that reads like a missing flavor list. A trailing version path that matches the
    auth version is dropped; one that contradicts it is an error naming both options.
    """
    url = driver_options.get(_AUTH_URL)
    if not isinstance(url, str):
        return driver_options
    parts = urlsplit(url)
    head, _, last = parts.path.rstrip("/").rpartition("/")
    if last not in _KEYSTONE_PATHS:
        return driver_options
    version = driver_options.get(_AUTH_VERSION)
    if isinstance(version, str) and not version.startswith(_KEYSTONE_PATHS[last]):
        root = redact_url(urlunsplit(parts._replace(path=head)))
        raise options.error(
            f"driver_options.{_AUTH_URL}",
            f"{redact_url(url)!r} is Keystone's {last} URL, but {_AUTH_VERSION} is "
            f"{version!r}: give Keystone's root URL ({root!r}) and the auth version you mean",
        )
    return {**driver_options, _AUTH_URL: urlunsplit(parts._replace(path=head))}


def _size_overrides(options: Options) -> dict[str, SizeOverride]:
    table = options.table("size_overrides")
    overrides = {}
    for size_id in table.names():
        entry = table.table(size_id)
        disk = entry.integer("disk")  # GiB
        overrides[size_id] = SizeOverride(
            vcpus=entry.integer("vcpus", minimum=1),
            ram_mib=entry.integer("memory", minimum=64),
            disk_bytes=None if disk is None else disk * GiB,
            arch=entry.string("arch"),
        )
        entry.finish()
    return overrides

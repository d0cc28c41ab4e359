"""The ``[providers.NAME]`` options of an oVirt provider, read and checked offline."""

from __future__ import annotations

import logging
from typing import Any, Final

import attrs

from virtprov.config import Options, ProviderConfig, Secret
from virtprov.model import Flavor, GiB
from virtprov.urls import redact_url
from virtprov_ovirt.naming import data_center_for_lab

log = logging.getLogger(__name__)


@attrs.frozen
class DataCenterMap:
    """One data center this provider's lab uses, with optional storage domain and clusters."""

    name: str
    storage_domain: str | None = None
    clusters: tuple[str, ...] = ()


@attrs.frozen
class Size:
    """A rung of the size ladder (memory in MiB, disk in bytes)."""

    name: str
    vcpus: int
    ram_mib: int
    disk_bytes: int


#: The ladder offered when the configuration names none: cheap first.
DEFAULT_SIZES: Final = (
    Size("small", 1, 1024, 20 * GiB),
    Size("medium", 2, 2048, 20 * GiB),
    Size("large", 2, 4096, 40 * GiB),
    Size("xlarge", 4, 8192, 40 * GiB),
    Size("xxlarge", 8, 16384, 80 * GiB),
)


@attrs.frozen(repr=False)
class Settings:
    name: str
    lab: str
    url: str
    username: str
    password: Secret
    ca_file: str | None
    insecure: bool
    timeout: float
    data_centers: tuple[DataCenterMap, ...]
    derived_data_center: bool
    template: str
    vnic_profile: str
    network: str | None
    sizes: tuple[Size, ...]
    instance_types: bool
    arches: tuple[str, ...]
    poll_interval: float
    destroy_timeout: float
    min_ram_mib: int
    min_disk_bytes: int

    def __repr__(self) -> str:
        url = redact_url(self.url)
        return f"Settings(name={self.name!r}, url={url!r}, username={self.username!r})"

    @property
    def hypervisor(self) -> str:
        """What the engine's hosts run guests on."""
        return "KVM"

    def floor(self, flavor: Flavor) -> tuple[int, int]:
        """Memory (MiB) and disk (bytes) to create: the flavor's, raised to the defaults."""
        return max(flavor.ram_mib, self.min_ram_mib), max(flavor.disk_bytes, self.min_disk_bytes)


def read_settings(config: ProviderConfig) -> Settings:
    options = config.options
    url = options.string("url", required=True)
    if not url.startswith(("https://", "http://")) or "/ovirt-engine/api" not in url:
        raise options.error(
            "url",
            "must be the engine's API URL, like "
            f"https://engine.example.com/ovirt-engine/api, got {url!r}",
        )
    insecure = options.boolean("insecure", False)
    ca_file = options.string("ca_file")
    if url.startswith("http://"):
        log.warning(
            "%s: url %s is plain HTTP: the password and every token cross the network in clear",
            config.name,
            url,
        )
    if insecure:
        # Loud on purpose: Beaker shipped with verification off and a "XXX add CA" comment.
        log.warning(
            "%s: insecure = true: the engine's TLS certificate is NOT verified; anyone on "
            "the path can read the password. Set ca_file to the engine CA instead.",
            config.name,
        )
        if ca_file:
            raise options.error("insecure", "give either ca_file or insecure = true, not both")
    settings = Settings(
        name=config.name,
        lab=config.lab,
        url=url.rstrip("/"),
        username=options.string("username", required=True),
        password=options.secret("password", required=True),
        ca_file=ca_file,
        insecure=insecure,
        timeout=_positive(options, "timeout", 30.0),
        data_centers=_data_centers(options, config.lab),
        derived_data_center="data_centers" not in options,
        template=options.string("template", "Blank"),
        vnic_profile=options.string("vnic_profile", "ovirtmgmt"),
        network=options.string("network"),
        sizes=_sizes(options),
        instance_types=options.boolean("instance_types", True),
        arches=tuple(options.string_list("arches", ["x86_64"])),
        poll_interval=options.number("poll_interval", 1.0),
        destroy_timeout=options.number("destroy_timeout", 60.0),
        min_ram_mib=config.defaults.default_guest_memory_mib,
        min_disk_bytes=config.defaults.default_guest_disk_bytes,
    )
    if not settings.arches:
        raise options.error("arches", "must name at least one architecture")
    options.finish()
    return settings


def _positive(options: Options, key: str, default: float) -> float:
    value: float = options.number(key, default)
    if value <= 0:
        raise options.error(
            key, "must be more than 0 seconds (an engine call must not wait forever)"
        )
    return value


def _data_centers(options: Options, lab: str) -> tuple[DataCenterMap, ...]:
    raw: Any = options.raw("data_centers")
    if raw is None:
        return (DataCenterMap(data_center_for_lab(lab)),)
    if not isinstance(raw, list) or not raw:
        raise options.error(
            "data_centers",
            'must be a non-empty list of names or of tables { name = "...", '
            'storage_domain = "...", clusters = ["..."] }',
        )
    maps = []
    for n, item in enumerate(raw):
        if isinstance(item, str) and item:
            maps.append(DataCenterMap(item))
            continue
        table = _entry(options, "data_centers", n, item, "a name or a table")
        maps.append(
            DataCenterMap(
                name=table.string("name", required=True),
                storage_domain=table.string("storage_domain"),
                clusters=tuple(table.string_list("clusters")),
            )
        )
        table.finish()
    names = [m.name for m in maps]
    if len(set(names)) != len(names):
        raise options.error("data_centers", "names a data center twice")
    return tuple(maps)


def _sizes(options: Options) -> tuple[Size, ...]:
    raw: Any = options.raw("sizes")
    if raw is None:
        return DEFAULT_SIZES
    if not isinstance(raw, list):
        raise options.error(
            "sizes",
            'must be a list of tables { name = "...", vcpus = 1, memory = 1024, disk = 20 }',
        )
    sizes = []
    for n, item in enumerate(raw):
        table = _entry(options, "sizes", n, item, "a table { name, vcpus, memory, disk }")
        sizes.append(
            Size(
                name=table.string("name", required=True),
                vcpus=table.integer("vcpus", required=True, minimum=1),
                ram_mib=table.integer("memory", required=True, minimum=64),  # MiB
                disk_bytes=table.integer("disk", required=True, minimum=1) * GiB,  # GiB
            )
        )
        table.finish()
    if len({s.name for s in sizes}) != len(sizes):
        raise options.error("sizes", "names a size twice")
    return tuple(sizes)


def _entry(options: Options, key: str, n: int, item: Any, what: str) -> Options:
    """Entry ``n`` of the list ``key``, a table, read like the provider's own options (its
    errors name ``key[n].option``); ``what`` says what the entry must be."""
    if not isinstance(item, dict):
        raise options.error(f"{key}[{n}]", f"must be {what}")
    return Options(item, path=options.path, prefix=f"{options.prefix}.{key}[{n}]")

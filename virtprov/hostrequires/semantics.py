"""What every requirement means, whichever language wrote it: the one table of both readers.

A *feature* is one requirement a recipe can make (``memory``, ``arch``, ``hostname``,
``cpu.flag``...), named by tmt's key path where tmt has the key, else by Beaker's element
(``device``, ``system.owner``). The table says, once, what a virtual machine offers for
it (its kind: :data:`SIZE`, :data:`ARCH`, :data:`TARGET`, :data:`DECLARED`,
:data:`NEVER`...) and its unit (:data:`FEATURES`), and where each language writes it, how
the value is read there and with which operators: :data:`XML` (``<hostRequires/>``, per
level, with the operators Beaker's server implements) and :data:`TMT` (``hardware:``
keys).
``elements.py`` (the XML reader's vocabulary), ``tmt.py`` (tmt's keys) and ``convert.py``
(tmt to XML) are built from it, so the two readers cannot give one requirement two
meanings, and the reference pages are checked against it
(``tests/hostrequires/test_hr_semantics.py``).

Rules that hold for every feature of a kind (the reference pages spell them out):

* **Text compares ignoring case**, in both languages, with every operator (``=``, ``!=``,
  orderings, ``like``, tmt's ``~`` and ``!~``): Beaker compares in its MySQL database,
  whose default collation ignores case (only the task library opts out, with
  ``utf8_bin``), so ``<hypervisor value="kvm"/>`` selects KVM hosts there.
* **Negation.** ``!=`` (tmt's ``!~`` too) and ``<not>`` mean the same for sizes, arches and
  provider properties. For what no VM has (:data:`NEVER`: a hostname, a pool, a serial, a
  vendor...), a new VM is not the system, pool or vendor named: ``!=``, ``!~`` and
  ``<not>`` are met by every guest, and every other operator by none. A property a flavor
  may declare (:data:`DECLARED`) keeps Beaker's default-deny: ``!=`` is met by a flavor
  declaring another value, ``<not>`` by every flavor not meeting what it excludes (one
  that declares nothing included).
* **Sizes written with a decimal unit** (kB, MB, GB, TB...) name what is sold under that
  name: ``8 GB`` of RAM is any amount from 8,000,000,000 bytes (what tmt's units say) to
  8 GiB (what an "8 GB" flavor has). ``=`` is met within that span, ``!=`` outside it,
  ``<``/``>=`` compare with its low end and ``<=``/``>`` with its high end
  (:func:`virtprov.hostrequires.quantities.span`). A binary unit (GiB) or no unit is exact.
"""

from __future__ import annotations

from typing import NamedTuple

# What a guest offers for a feature: how it is judged.
SIZE = "size"  # a flavor's size (arg: ram_mib, vcpus, disk_bytes)
ARCH = "arch"  # the arch a guest runs
TARGET = "target"  # a property of the provider, the same for every guest (arg: lab...)
DECLARED = "declared"  # a property a flavor may declare (arg: its name, see properties.py)
NEVER = "never"  # what no VM has (a physical system's identity or inventory)
VIRTUALIZED = "virtualized"  # tmt's virtualization.is-virtualized: every guest is
IGNORED = "ignored"  # not a hardware requirement (a Beaker run option)

# How <hostRequires/> writes a value.
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
BYTES = "bytes"  # an integer times units= (bytes without)
BOOLEAN = "boolean"

# How a tmt key's value is read.
SIZE_MIB = "size-mib"  # a size, MiB without a unit (memory)
SIZE_BYTES = "size-bytes"  # a size, bytes without a unit (disks)
FREQUENCY = "frequency"  # MHz without a unit
FLAG = "flag"
LIST = "list"  # a list of words, each with its own = or != (cpu.flag, compatible.distro)

ALL_OPS = ("=", "!=", "<", "<=", ">", ">=", "like")
NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
EQUALITY = ("=", "!=")
TMT_TEXT_OPS = ("=", "!=", "~", "!~")
TMT_FLAG_OPS = EQUALITY


class Feature(NamedTuple):
    """One requirement: how a guest meets it, and the unit of its value."""

    kind: str
    arg: str  # SIZE: the flavor dimension; TARGET: the provider property; else its name
    unit: str = ""  # for the reference: MiB, bytes, MHz, vCPUs ("" for text and flags)


class XmlForm(NamedTuple):
    """Where ``<hostRequires/>`` writes a feature: one element at one level."""

    feature: str
    value: str  # TEXT, INTEGER, DECIMAL, BYTES, BOOLEAN
    #: the operators Beaker's server implements on this element (needpropertyxml.py's
    #: op_table of its class, less those that fail there); None: it ignores op (reads =)
    beaker_ops: tuple[str, ...] | None = ALL_OPS
    deprecated: bool = False


class TmtForm(NamedTuple):
    """A tmt ``hardware:`` key: how its value is read and which operators it takes."""

    feature: str
    reads: str  # SIZE_MIB, SIZE_BYTES, INTEGER, TEXT, FLAG, LIST, FREQUENCY
    ops: tuple[str, ...]


def _size(arg: str, unit: str) -> Feature:
    return Feature(SIZE, arg, unit)


def _declared(name: str, unit: str = "") -> Feature:
    return Feature(DECLARED, name, unit)


def _never(name: str, unit: str = "") -> Feature:
    return Feature(NEVER, name, unit)


_DEVICE_KEYS = {
    "device-name": TEXT,
    "device": INTEGER,
    "vendor-name": TEXT,
    "vendor": INTEGER,
    "driver": TEXT,
}
#: Per-disk and per-NIC keys (tmt writes them in lists: disk[0] is the root disk).
INDEXED_KEYS: dict[str, dict[str, str]] = {
    "disk": {
        "size": SIZE_BYTES,
        "model-name": TEXT,
        "driver": TEXT,
        "logical-sector-size": SIZE_BYTES,
        "physical-sector-size": SIZE_BYTES,
        "block-device": TEXT,
    },
    "network": {"type": TEXT, **_DEVICE_KEYS},
}

#: Every feature, by name.
FEATURES: dict[str, Feature] = {
    "memory": _size("ram_mib", "MiB"),
    "cpu.processors": _size("vcpus", "vCPUs"),
    "cpu.cores": _size("vcpus", "vCPUs"),
    "disk.size": _size("disk_bytes", "bytes"),  # the root disk: disk[0] in tmt
    "arch": Feature(ARCH, "arch"),
    "location.lab-controller": Feature(TARGET, "lab"),
    "virtualization.hypervisor": Feature(TARGET, "hypervisor"),
    "system.type": Feature(TARGET, "system_type"),
    "virtualization.is-virtualized": Feature(VIRTUALIZED, "virtualization.is-virtualized"),
    "beaker.panic-watchdog": Feature(IGNORED, "beaker.panic-watchdog"),
    # what a flavor may declare (properties.py)
    "system.numa-nodes": _declared("system.numa-nodes"),
    "cpu.family": _declared("cpu.family"),
    "cpu.model": _declared("cpu.model"),
    "cpu.stepping": _declared("cpu.stepping"),
    "cpu.sockets": _declared("cpu.sockets"),
    "cpu.frequency": _declared("cpu.frequency", "MHz"),
    "cpu.hyper-threading": _declared("cpu.hyper-threading"),
    "cpu.model-name": _declared("cpu.model-name"),
    "cpu.vendor-name": _declared("cpu.vendor-name"),
    "cpu.flag": _declared("cpu.flag"),
    "cpu.cores-per-socket": _declared("cpu.cores-per-socket"),
    "cpu.threads": _declared("cpu.threads"),
    "cpu.threads-per-core": _declared("cpu.threads-per-core"),
    "cpu.family-name": _declared("cpu.family-name"),
    "cpu.vendor": _declared("cpu.vendor"),
    "tpm.version": _declared("tpm.version"),
    "virtualization.is-supported": _declared("virtualization.is-supported"),
    "virtualization.confidential": _declared("virtualization.confidential"),
    "iommu.is-supported": _declared("iommu.is-supported"),
    "iommu.model-name": _declared("iommu.model-name"),
    "boot.method": _declared("boot.method"),
    "compatible.distro": _declared("compatible.distro"),
    "system.management-controller.protocol": _declared("system.management-controller.protocol"),
    **{
        f"{group}.{key}": _declared(f"{group}.{key}")
        for group in ("device", "gpu")
        for key in _DEVICE_KEYS
    },
    **{
        f"system.management-controller.{key}": _declared(f"system.management-controller.{key}")
        for key in _DEVICE_KEYS
    },
    # disk[N] and network[N]: the property of that index (disk[0].size is the root disk's)
    **{
        f"{group}[N].{key}": _declared(f"{group}[N].{key}", "bytes" if reads == SIZE_BYTES else "")
        for group, keys in INDEXED_KEYS.items()
        for key, reads in keys.items()
    },
    # what no VM has: a physical system's identity and Beaker's inventory of it
    "hostname": _never("hostname"),
    "beaker.pool": _never("beaker.pool"),
    "system.vendor-name": _never("system.vendor-name"),
    "system.model-name": _never("system.model-name"),
    "system.vendor": _never("system.vendor"),
    "system.model": _never("system.model"),
    "zcrypt.adapter": _never("zcrypt.adapter"),
    "zcrypt.mode": _never("zcrypt.mode"),
    **{
        f"system.{name}": _never(f"system.{name}")
        for name in (
            "status",
            "lender",
            "owner",
            "user",
            "loaned",
            "location",
            "powertype",
            "serial",
            "added",
            "last_inventoried",
            "compatible_with_distro",
        )
    },
    "device": _never("device"),
    "diskspace": _never("diskspace", "bytes"),
    "diskcount": _never("diskcount"),
    "key_value": _never("key_value"),
    "auto_prov": _never("auto_prov"),
    "disk.model": _never("disk.model"),
    "disk.sector_size": _never("disk.sector_size", "bytes"),
    "disk.phys_sector_size": _never("disk.phys_sector_size", "bytes"),
}

# The operators Beaker's server implements, per element class of needpropertyxml.py
# (beaker-project/beaker, Server/bkr/server/needpropertyxml.py at b598aed3): its own
# op_table, less what fails there: `like` on an element whose value is cast with int()
# or float(), or compared by Python's operator module (getattr(operator, 'like') raises).
_EQUALITY_ONLY = ("=", "!=")  # XmlArch, XmlPool, XmlHostLabController
_NO_LIKE = NUMBER_OPS  # int()/float() casts, dates, XmlHypervisor._matches_kvm
_NO_ORDER = ("=", "!=", "like")  # XmlCpuFlag, XmlDevice, XmlDiskModel
_IGNORES_OP = None  # XmlSystemType, XmlSystemStatus, XmlCpuHyper, XmlAutoProv...

#: <hostRequires/>: per level (the host filter, <system>, <cpu>, <disk>), each element.
XML: dict[str, dict[str, XmlForm]] = {
    "host": {
        "labcontroller": XmlForm("location.lab-controller", TEXT, _EQUALITY_ONLY),
        "hostlabcontroller": XmlForm("location.lab-controller", TEXT, _EQUALITY_ONLY, True),
        "hypervisor": XmlForm("virtualization.hypervisor", TEXT, _NO_LIKE, True),
        "system_type": XmlForm("system.type", TEXT, _IGNORES_OP, True),
        "memory": XmlForm("memory", INTEGER, _NO_LIKE, True),
        "cpu_count": XmlForm("cpu.processors", INTEGER, _NO_LIKE, True),
        "arch": XmlForm("arch", TEXT, _EQUALITY_ONLY, True),
        "hostname": XmlForm("hostname", TEXT, ALL_OPS, True),
        "host": XmlForm("hostname", TEXT, ALL_OPS, True),  # not Beaker's: an <and> there
        "numa_node_count": XmlForm("system.numa-nodes", INTEGER, _NO_LIKE, True),
        "device": XmlForm("device", TEXT, _NO_ORDER),
        "diskspace": XmlForm("diskspace", BYTES, _NO_LIKE),
        "diskcount": XmlForm("diskcount", INTEGER, _NO_LIKE),
        "pool": XmlForm("beaker.pool", TEXT, _EQUALITY_ONLY),
        "group": XmlForm("beaker.pool", TEXT, _EQUALITY_ONLY, True),
        "auto_prov": XmlForm("auto_prov", TEXT, _IGNORES_OP),
        # <key_value key="..."> is looked up in KEY_VALUES by its key
    },
    "system": {
        "memory": XmlForm("memory", INTEGER, _NO_LIKE),
        "hypervisor": XmlForm("virtualization.hypervisor", TEXT, _NO_LIKE),
        "type": XmlForm("system.type", TEXT, _IGNORES_OP),
        "arch": XmlForm("arch", TEXT, _EQUALITY_ONLY),
        "numanodes": XmlForm("system.numa-nodes", INTEGER, _NO_LIKE),
        "name": XmlForm("hostname", TEXT),
        "vendor": XmlForm("system.vendor-name", TEXT),
        "model": XmlForm("system.model-name", TEXT),
        "status": XmlForm("system.status", TEXT, _IGNORES_OP),
        "lender": XmlForm("system.lender", TEXT),
        "owner": XmlForm("system.owner", TEXT),
        "user": XmlForm("system.user", TEXT),
        "loaned": XmlForm("system.loaned", TEXT),
        "location": XmlForm("system.location", TEXT),
        "powertype": XmlForm("system.powertype", TEXT),
        "serial": XmlForm("system.serial", TEXT),
        "added": XmlForm("system.added", TEXT, _NO_LIKE),
        "last_inventoried": XmlForm("system.last_inventoried", TEXT, _NO_LIKE),
        "compatible_with_distro": XmlForm("system.compatible_with_distro", TEXT, _IGNORES_OP),
    },
    "cpu": {
        # a flavor of N vCPUs is N single-core processors (Beaker's choice)
        "processors": XmlForm("cpu.processors", INTEGER, _NO_LIKE),
        "cores": XmlForm("cpu.cores", INTEGER, _NO_LIKE),
        "family": XmlForm("cpu.family", INTEGER, _NO_LIKE),
        "model": XmlForm("cpu.model", INTEGER, _NO_LIKE),
        "stepping": XmlForm("cpu.stepping", INTEGER, _NO_LIKE),
        "sockets": XmlForm("cpu.sockets", INTEGER, _NO_LIKE),
        "speed": XmlForm("cpu.frequency", DECIMAL, _NO_LIKE),  # MHz
        "hyper": XmlForm("cpu.hyper-threading", BOOLEAN, _IGNORES_OP),
        "model_name": XmlForm("cpu.model-name", TEXT),
        "vendor": XmlForm("cpu.vendor-name", TEXT),
        "flag": XmlForm("cpu.flag", TEXT, _NO_ORDER),
    },
    "disk": {
        "size": XmlForm("disk.size", BYTES, _NO_LIKE),
        "model": XmlForm("disk.model", TEXT, _NO_ORDER),
        "sector_size": XmlForm("disk.sector_size", BYTES, _NO_LIKE),
        "phys_sector_size": XmlForm("disk.phys_sector_size", BYTES, _NO_LIKE),
    },
}

#: <key_value key="KEY">: Beaker inventory keys with a meaning here; any other key is the
#: feature ``key_value``. (XmlKeyValue honours every op; its values are text or integers.)
KEY_VALUES: dict[str, XmlForm] = {
    "TPM": XmlForm("tpm.version", TEXT),
    "HVM": XmlForm("virtualization.is-supported", BOOLEAN),
    "VIRT_IOMMU": XmlForm("iommu.is-supported", BOOLEAN),
    "ZCRYPT_MODEL": XmlForm("zcrypt.adapter", TEXT),
    "ZCRYPT_MODE": XmlForm("zcrypt.mode", TEXT),
}
OTHER_KEY_VALUE = XmlForm("key_value", TEXT)


def _tmt_ops(reads: str, feature: str) -> tuple[str, ...]:
    if reads in (FLAG, LIST):
        return TMT_FLAG_OPS
    if reads == TEXT:
        # tmt compares TPM versions with orderings too ("tpm.version: >= 2.0")
        return TMT_TEXT_OPS + NUMBER_OPS[2:] if feature == "tpm.version" else TMT_TEXT_OPS
    return NUMBER_OPS


def _tmt(feature: str, reads: str, ops: tuple[str, ...] | None = None) -> TmtForm:
    return TmtForm(feature, reads, ops or _tmt_ops(reads, feature))


#: tmt's hardware: keys, by their path with list indices dropped (``disk.size``).
TMT: dict[str, TmtForm] = {
    "arch": _tmt("arch", TEXT),
    "memory": _tmt("memory", SIZE_MIB),
    "hostname": _tmt("hostname", TEXT),
    "cpu.processors": _tmt("cpu.processors", INTEGER),
    "cpu.cores": _tmt("cpu.cores", INTEGER),
    "beaker.pool": _tmt("beaker.pool", TEXT, EQUALITY),
    "beaker.panic-watchdog": _tmt("beaker.panic-watchdog", FLAG),
    "location.lab-controller": _tmt("location.lab-controller", TEXT),
    "system.type": _tmt("system.type", TEXT),
    "system.vendor": _tmt("system.vendor", INTEGER),
    "system.vendor-name": _tmt("system.vendor-name", TEXT),
    "system.model": _tmt("system.model", INTEGER),
    "system.model-name": _tmt("system.model-name", TEXT),
    "system.numa-nodes": _tmt("system.numa-nodes", INTEGER),
    "virtualization.is-virtualized": _tmt("virtualization.is-virtualized", FLAG),
    "virtualization.hypervisor": _tmt("virtualization.hypervisor", TEXT),
    "virtualization.is-supported": _tmt("virtualization.is-supported", FLAG),
    "virtualization.confidential": _tmt("virtualization.confidential", FLAG),
    "zcrypt.adapter": _tmt("zcrypt.adapter", TEXT),
    "zcrypt.mode": _tmt("zcrypt.mode", TEXT),
    "cpu.family": _tmt("cpu.family", INTEGER),
    "cpu.model": _tmt("cpu.model", INTEGER),
    "cpu.stepping": _tmt("cpu.stepping", INTEGER),
    "cpu.sockets": _tmt("cpu.sockets", INTEGER),
    "cpu.cores-per-socket": _tmt("cpu.cores-per-socket", INTEGER),
    "cpu.threads": _tmt("cpu.threads", INTEGER),
    "cpu.threads-per-core": _tmt("cpu.threads-per-core", INTEGER),
    "cpu.vendor": _tmt("cpu.vendor", INTEGER),
    "cpu.frequency": _tmt("cpu.frequency", FREQUENCY),
    "cpu.hyper-threading": _tmt("cpu.hyper-threading", FLAG),
    "cpu.model-name": _tmt("cpu.model-name", TEXT),
    "cpu.family-name": _tmt("cpu.family-name", TEXT),
    "cpu.vendor-name": _tmt("cpu.vendor-name", TEXT),
    "cpu.flag": _tmt("cpu.flag", LIST),
    "tpm.version": _tmt("tpm.version", TEXT),
    "iommu.is-supported": _tmt("iommu.is-supported", FLAG),
    "iommu.model-name": _tmt("iommu.model-name", TEXT),
    "boot.method": _tmt("boot.method", TEXT, EQUALITY),
    "compatible.distro": _tmt("compatible.distro", LIST),
    "system.management-controller.protocol": _tmt("system.management-controller.protocol", TEXT),
    **{
        f"{group}.{key}": _tmt(f"{group}.{key}", reads)
        for group in ("device", "gpu", "system.management-controller")
        for key, reads in _DEVICE_KEYS.items()
    },
    **{
        f"{group}.{key}": _tmt(f"{group}[N].{key}", reads)
        for group, keys in INDEXED_KEYS.items()
        for key, reads in keys.items()
    },
    # disk[0].size is the flavor's root disk; disk[N].size, N >= 1, is declared
    "disk.size": _tmt("disk.size", SIZE_BYTES),
}
ROOT_DISK_KEY = "disk.size"


def xml_forms(feature: str) -> list[tuple[str, str, XmlForm]]:
    """Where ``<hostRequires/>`` writes ``feature``: (level, tag, form), the current form
    first (``key_value`` keys as the tag ``key_value[KEY]``)."""
    found = [
        (level, tag, form)
        for level, forms in XML.items()
        for tag, form in forms.items()
        if form.feature == feature
    ]
    found += [
        ("host", f"key_value[{key}]", form)
        for key, form in KEY_VALUES.items()
        if form.feature == feature
    ]
    return sorted(found, key=lambda item: item[2].deprecated)


def feature_of_tmt(key: str) -> str:
    """The feature of a tmt key path with its index (``disk[1].size`` is declared,
    ``disk[0].size`` the root disk)."""
    if key.startswith("disk[0].size"):
        return ROOT_DISK_KEY
    group, _, rest = key.partition("[")
    if rest:
        return f"{group}[N].{rest.split('.', 1)[1]}"
    return TMT[key].feature


__all__ = [
    "ARCH",
    "DECLARED",
    "FEATURES",
    "IGNORED",
    "KEY_VALUES",
    "NEVER",
    "SIZE",
    "TARGET",
    "TMT",
    "VIRTUALIZED",
    "XML",
    "Feature",
    "TmtForm",
    "XmlForm",
    "xml_forms",
]

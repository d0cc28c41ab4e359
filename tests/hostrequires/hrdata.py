"""Flavors, lab, tmt's examples, a tmt plan and document strategies for the hostRequires tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from virtprov.model import Flavor, GiB

LAB = "lab.example.com"

#: Shaped like a default Nova flavor list (m1.*), with bigger disks so that most pass the
#: 10 GiB root-disk rule, plus one diskless and one declared-arch flavor.
FLAVORS = (
    Flavor("1", "m1.tiny", vcpus=1, ram_mib=512, disk_bytes=1 * GiB),
    Flavor("2", "m1.small", vcpus=1, ram_mib=2048, disk_bytes=20 * GiB),
    Flavor("3", "m1.medium", vcpus=2, ram_mib=4096, disk_bytes=40 * GiB),
    Flavor("4", "m1.large", vcpus=4, ram_mib=8192, disk_bytes=80 * GiB),
    Flavor("5", "m1.xlarge", vcpus=8, ram_mib=16384, disk_bytes=160 * GiB),
    Flavor("6", "bfv.large", vcpus=4, ram_mib=8192, disk_bytes=0),
)
ALL_OK = ["m1.small", "m1.medium", "m1.large", "m1.xlarge"]

#: tmt's own examples (spec/hardware/*.fmf, see data/tmt_spec_examples.yaml), and the
#: presets they import.
EXAMPLES: list[dict[str, str]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "tmt_spec_examples.yaml").read_text(encoding="utf-8")
)["examples"]
PRESETS = {
    "AMD__ROME": {"cpu": {"family": 23, "model": 49}},
    "BIG_MEMORY": {"memory": ">= 64 GB"},
}

#: A tmt plan of three provision phases (two named, one not on a VM, one giving a key twice,
#: one importing a preset).
PLAN = """\
provision:
  - name: client
    how: virtual
    hardware:
      memory: ">= 4 GiB"
  - name: server
    hardware:
      memory: 8 GB
      memory: 16 GB
      virtualization:
        is-virtualized: false
  - hardware:
      import-preset: https://example.com/presets.yaml
      cpu:
        flag: [vmx]
"""


def and_or(
    leaf: st.SearchStrategy[dict[str, Any]], *, max_leaves: int
) -> st.SearchStrategy[dict[str, Any]]:
    """tmt ``hardware:`` documents: ``leaf`` requirements under nested ``and``/``or``."""
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda kind, items: {kind: items},
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        max_leaves=max_leaves,
    )

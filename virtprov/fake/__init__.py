"""The fake cloud: the embedded default provider (driver ``fake``).

It ships with the core so that ``pip install virtprov`` alone runs its main job with no
cloud configured; it is also the test bed of the pool, its benchmarks and the
conformance suite (``virtprov-testing``).
"""

from virtprov.fake.faults import NO_VALID_HOST, FaultPlan, Latency, ScriptedFault
from virtprov.fake.provider import DEFAULT_FLAVORS, CallRecord, FakeProvider, SshEndpoint

__all__ = [
    "DEFAULT_FLAVORS",
    "NO_VALID_HOST",
    "CallRecord",
    "FakeProvider",
    "FaultPlan",
    "Latency",
    "ScriptedFault",
    "SshEndpoint",
]

"""The fleet-wide status as Prometheus metrics: what ``virtprov metrics serve`` exports.

A custom collector: each scrape reads the journal once, read-only, in one snapshot
(:func:`virtprov.pool.fleet.read_fleet_status`), so the figures are those of that
moment across every launcher. When the journal cannot be read the scrape still
succeeds, with ``virtprov_journal_up 0`` (alert on it) and no other figures.

Label values are provider names, launcher names and host names (configuration), states
and statuses: bounded. The series are listed in ``docs/operations.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

from virtprov.errors import JournalError
from virtprov.pool.fleet import NO_PROVIDER, WINDOW, FleetStatus, read_fleet_status
from virtprov.pool.prometheus import (
    Collector,
    CollectorRegistry,
    GaugeMetricFamily,
    Metric,
    generate_latest,
)
from virtprov.pool.readonly import ReadOnlyJournal

log = logging.getLogger("virtprov.metrics")

LIVE_STATES = ("queued", "creating", "building", "starting")
GUEST_STATES = ("creating", "live", "doomed", "destroyed")
STATUSES = ("precluded", "skipped", "succeeded", "failed")
RESOURCES = ("instances", "vcpus", "ram_mib", "disk_bytes")


class JournalCollector(Collector):
    """Reads the journal on each scrape and reports the fleet's state.

    ``providers``: the configured providers, whose series start at zero.
    """

    def __init__(
        self, journal: ReadOnlyJournal, providers: Iterable[str] = (), window: float = WINDOW
    ) -> None:
        self.journal = journal
        self.providers = tuple(providers)
        self.window = window
        self._failing = False

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("virtprov_journal_up", "1 when the journal could be read, else 0.")
        try:
            with self.journal.snapshot() as conn:
                status = read_fleet_status(
                    conn, journal=self.journal.safe_url, window=self.window, history=True
                )
        except JournalError as exc:
            if not self._failing:  # once per outage, not once per scrape
                log.warning("%s", exc)
            self._failing = True
            up.add_metric([], 0)
            yield up
            return
        self._failing = False
        up.add_metric([], 1)
        yield up
        yield from self._families(status)
        yield GaugeMetricFamily(
            "virtprov_journal_read_seconds",
            "Seconds this scrape took to read the journal.",
            value=time.perf_counter() - started,
        )

    def _families(self, status: FleetStatus) -> Iterator[Metric]:
        providers = sorted(
            (
                set(self.providers)
                | {p for by in status.launches.values() for p in by}
                | {p for by in status.guests.values() for p in by}
                | set(status.capacity)
                | set(status.disabled)
            )
            - {NO_PROVIDER}
        )

        # A launch may be on no provider yet; a guest is always on one.
        launch_providers = [*providers, NO_PROVIDER]
        yield _counts(
            "virtprov_journal_launches",
            "Undecided launches of every launcher, by state and the provider they are on "
            "(none: not yet on one).",
            "state",
            status.launches,
            LIVE_STATES,
            launch_providers,
        )
        yield _counts(
            "virtprov_journal_outcomes_waiting",
            "Decided launches whose outcome no scheduler has taken yet, by status and provider.",
            "status",
            status.waiting,
            STATUSES,
            launch_providers,
        )
        yield _counts(
            "virtprov_journal_outcomes_recent",
            f"Launches decided in the last {status.window:g} seconds, by status and provider.",
            "status",
            status.recent,
            STATUSES,
            launch_providers,
        )
        yield GaugeMetricFamily(
            "virtprov_journal_oldest_undecided_seconds",
            "Seconds since the oldest undecided launch was submitted (0: none is undecided).",
            value=status.oldest_undecided or 0.0,
        )
        yield GaugeMetricFamily(
            "virtprov_journal_history_launches",
            "Decided launches the journal keeps ([pool] history_days).",
            value=status.history or 0,
        )
        yield _counts(
            "virtprov_journal_guests",
            "Guests holding (or about to hold) a cloud resource, by state and provider.",
            "state",
            status.guests,
            GUEST_STATES,
            providers,
        )

        yield _gauge(
            "virtprov_journal_held",
            "What the pool's guests hold on each provider, by resource.",
            ["provider", "resource"],
            (
                ([provider, resource], getattr(resources, resource) or 0)
                for provider, resources in status.held.items()
                for resource in RESOURCES
            ),
        )
        yield _gauge(
            "virtprov_journal_capacity_free",
            "What each provider can still take as the planner sees it (its last capacity "
            "read less the guests made since), by resource; absent: the cloud does not say.",
            ["provider", "resource"],
            (
                ([provider, resource], value)
                for provider, snapshot in status.capacity.items()
                for resource in RESOURCES
                if (value := getattr(snapshot.free, resource)) is not None
            ),
        )
        yield _gauge(
            "virtprov_journal_capacity_age_seconds",
            "Seconds since each provider's capacity was last read.",
            ["provider"],
            (([provider], snapshot.age) for provider, snapshot in status.capacity.items()),
        )
        yield _gauge(
            "virtprov_journal_provider_disabled",
            "1 while a provider is disabled after a permanent error (for every launcher).",
            ["provider"],
            (([provider], 1 if provider in status.disabled else 0) for provider in providers),
        )
        yield GaugeMetricFamily(
            "virtprov_journal_launchers_alive",
            "Launchers whose lease has not run out.",
            value=status.launchers_alive,
        )
        yield _gauge(
            "virtprov_journal_launcher_up",
            "1 while a launcher's lease has not run out, else 0.",
            ["launcher", "host"],
            (([one.name, one.host], 1 if one.alive else 0) for one in status.launchers),
        )
        yield _gauge(
            "virtprov_journal_launcher_lease_age_seconds",
            "Seconds since each launcher last renewed its lease (it renews every second).",
            ["launcher"],
            (([one.name], one.lease_age) for one in status.launchers if one.lease_age is not None),
        )


def fleet_registry(
    journal: ReadOnlyJournal, providers: Iterable[str] = (), window: float = WINDOW
) -> CollectorRegistry:
    """A registry holding only the journal's fleet-wide metrics."""
    registry = CollectorRegistry()
    registry.register(JournalCollector(journal, providers, window))
    return registry


def exposition(registry: CollectorRegistry) -> str:
    """The registry's metrics in Prometheus' text format."""
    return generate_latest(registry).decode()


def _gauge(
    name: str,
    documentation: str,
    labels: Sequence[str],
    samples: Iterable[tuple[Sequence[str], float]],
) -> GaugeMetricFamily:
    """A gauge family of ``samples``: (label values, value) pairs."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


def _counts(
    name: str,
    documentation: str,
    first_label: str,
    counts: Mapping[str, Mapping[str, int]],
    firsts: Iterable[str],
    providers: Iterable[str],
) -> GaugeMetricFamily:
    """A family of counts by (``first_label``, provider): one sample for each of
    ``firsts`` and ``providers``, zero where there is none yet."""
    seen: dict[tuple[str, str], int] = {
        (first, provider): 0 for first in firsts for provider in providers
    }
    for first, by_provider in counts.items():
        for provider, count in by_provider.items():
            seen[(first, provider)] = count
    return _gauge(
        name,
        documentation,
        [first_label, "provider"],
        (([first, provider], count) for (first, provider), count in sorted(seen.items())),
    )

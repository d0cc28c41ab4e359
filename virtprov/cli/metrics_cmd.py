"""``virtprov metrics serve|show``: the fleet-wide status of the journal for Prometheus."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from virtprov.cli.operators import open_read_only
from virtprov.cli.runtime import Runtime
from virtprov.pool.settings import METRICS_ADDRESS

#: The exporter's default port: next to the pools' own (9464), so both fit on one host.
DEFAULT_PORT = 9465


@click.group()
def metrics() -> None:
    """Prometheus metrics of every launcher, read from the shared journal."""


def _window_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--window",
        type=click.FloatRange(min=1),
        default=3600.0,
        show_default=True,
        help="Seconds of recent outcomes virtprov_journal_outcomes_recent counts.",
    )(function)


@metrics.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port to serve /metrics on (0: any free port, printed on stderr).",
)
@click.option(
    "--address",
    default=METRICS_ADDRESS,
    show_default=True,
    help="Address to listen on (127.0.0.1: this host only).",
)
@_window_option
@click.pass_obj
def serve(runtime: Runtime, port: int, address: str, window: float) -> None:
    """Serve the journal's fleet-wide status on http://ADDRESS:PORT/metrics.

    Every scrape reads the journal once, read-only: launches by state and provider,
    outcomes waiting and recent, guests and what they hold, capacity, launchers and
    their leases, disabled providers. Runs until interrupted (SIGINT or SIGTERM).
    """
    from virtprov.pool.fleet_metrics import fleet_registry
    from virtprov.pool.metrics import MetricsServer

    journal = open_read_only(runtime)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        registry = fleet_registry(journal, runtime.config.providers, window)
        server = MetricsServer(registry, port, address)
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            click.echo(
                f"virtprov: serving {journal.safe_url} on http://{address}:{server.port}/metrics",
                err=True,
            )
            while not stop.wait(1.0):
                pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.close()
    finally:
        journal.close()


@metrics.command()
@_window_option
@click.pass_obj
def show(runtime: Runtime, window: float) -> None:
    """Print the metrics `serve` would export, once (Prometheus text format).

    For node_exporter's textfile collector, or a look by hand.
    """
    from virtprov.pool.fleet_metrics import exposition, fleet_registry

    journal = open_read_only(runtime)
    try:
        registry = fleet_registry(journal, runtime.config.providers, window)
        click.echo(exposition(registry), nl=False)
    finally:
        journal.close()

"""The prometheus_client names the metrics modules use, or a :class:`ConfigError` saying
how to install them (``pip install 'virtprov[metrics]'``): the extra is optional, and
its absence is a configuration problem, not a crash."""

from __future__ import annotations

from virtprov.errors import ConfigError

try:
    import prometheus_client as prom
    from prometheus_client import generate_latest
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector, CollectorRegistry
except ModuleNotFoundError as missing:  # pragma: no cover - the extra is not installed
    if missing.name != "prometheus_client":
        raise
    raise ConfigError(
        "metrics need the prometheus_client package: pip install 'virtprov[metrics]'"
    ) from None

__all__ = [
    "Collector",
    "CollectorRegistry",
    "GaugeMetricFamily",
    "Metric",
    "generate_latest",
    "prom",
]

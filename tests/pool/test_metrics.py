"""Prometheus metrics of a running pool: scraped over HTTP, checked against the outcomes."""

from __future__ import annotations

import collections
import socket
import urllib.request

import pytest
from pool_helpers import VMX, fast_pool, scripted
from prometheus_client.parser import text_string_to_metric_families

from virtprov.config import Options
from virtprov.errors import ConfigError
from virtprov.fake import FakeProvider
from virtprov.fake.faults import Latency
from virtprov.pool import Event, PoolSettings, Recipe, Status
from virtprov.pool.metrics import REASONS, PoolMetrics, reason_class

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return parse(text)


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def values(samples: Samples, name: str, *, nonzero: bool = True) -> dict[tuple[str, ...], float]:
    """``{label values (sorted by label name): value}`` of one series name."""
    return {
        tuple(value for _, value in labels): value
        for (sample, labels), value in samples.items()
        if sample == name and (value or not nonzero)
    }


def test_scraped_counters_match_the_outcomes_the_pool_returned() -> None:
    roomy = FakeProvider(name="roomy", lab="a.example.com", latency=Latency(build=0.05))
    full = FakeProvider(name="full", lab="b.example.com", instances=1)
    broken = FakeProvider(
        name="broken",
        lab="c.example.com",
        faults=scripted(("create", 1, "permanent")),
    )
    flaky = FakeProvider(
        name="flaky",
        lab="d.example.com",
        faults=scripted(*[("create", n, "transient") for n in range(1, 6)]),
    )
    providers = {"roomy": roomy, "full": full, "broken": broken, "flaky": flaky}
    pool = fast_pool(providers, metrics_port=0, metrics_address="127.0.0.1")
    with pool:
        assert pool.metrics_server is not None
        port = pool.metrics_server.port
        handles = [pool.submit(Recipe(f"a{n}", labs=["a.example.com"])) for n in range(4)]
        handles += [pool.submit(Recipe(f"b{n}", labs=["b.example.com"])) for n in range(2)]
        handles.append(pool.submit(Recipe("c0", labs=["c.example.com"])))
        handles.append(pool.submit(Recipe("d0", labs=["d.example.com"])))
        handles.append(pool.submit(Recipe("vmx", VMX)))
        handles.append(pool.submit(Recipe("nowhere", labs=["z.example.com"])))
        handles.append(pool.submit(Recipe("broken-xml", "<hostRequires><and>")))
        during = scrape(port)  # while launches are in flight
        outcomes = [handle.wait(30) for handle in handles]
        # broken is disabled now: a later recipe for its lab is skipped at once
        outcomes.append(pool.submit(Recipe("c1", labs=["c.example.com"])).wait(30))
        after = scrape(port)
        creates = {
            name: sum(1 for c in fake.calls if c.operation == "create")
            for name, fake in providers.items()
        }
    assert all(o is not None for o in outcomes)
    decided = [o for o in outcomes if o is not None]

    by_status = collections.Counter(o.status.value for o in decided)
    assert by_status == {"succeeded": 5, "skipped": 3, "failed": 1, "precluded": 3}
    counted = values(after, "virtprov_launch_outcomes_total")
    for status in Status:
        assert sum(v for k, v in counted.items() if k[2] == status.value) == by_status.get(
            status.value, 0
        )
    # (provider, reason, status): the provider the launch last tried, the reason class
    assert counted == {
        ("roomy", "ready", "succeeded"): 4,
        ("full", "ready", "succeeded"): 1,
        ("none", "capacity", "skipped"): 1,  # full had no room left: never tried
        ("broken", "disabled", "skipped"): 1,  # its create disabled it
        ("none", "disabled", "skipped"): 1,  # c1: broken was disabled already
        ("flaky", "transient", "failed"): 1,
        ("none", "requirements", "precluded"): 1,
        ("none", "lab", "precluded"): 1,
        ("none", "invalid", "precluded"): 1,
    }
    durations = values(after, "virtprov_launch_outcome_seconds_count")
    assert sum(durations.values()) == len(decided)
    assert values(after, "virtprov_guest_ready_seconds_count") == {("full",): 1, ("roomy",): 4}
    # every create the clouds saw, and their errors by class
    calls = values(after, "virtprov_cloud_call_seconds_count")
    assert {k[1]: v for k, v in calls.items() if k[0] == "create"} == {
        name: count for name, count in creates.items() if count
    }
    assert values(after, "virtprov_cloud_errors_total") == {
        ("PermanentError", "create", "broken"): 1,
        ("TransientError", "create", "flaky"): 5,
    }
    assert values(after, "virtprov_launch_retries_total") == {("flaky",): 4}
    assert values(after, "virtprov_launch_attempts_total") == {
        ("broken",): 1,
        ("flaky",): 5,
        ("full",): 1,
        ("roomy",): 4,
    }
    assert values(after, "virtprov_provider_disabled", nonzero=False) == {
        ("broken",): 1,
        ("flaky",): 0,
        ("full",): 0,
        ("roomy",): 0,
    }
    assert values(after, "virtprov_provider_disables_total") == {("broken",): 1}
    assert values(after, "virtprov_capacity_free")[("full", "instances")] == 1
    # counters only grow: what the scrape during the run saw is at most the final count
    for key, value in values(during, "virtprov_launch_outcomes_total").items():
        assert value <= counted.get(key, 0)


def test_label_values_stay_bounded_however_many_recipes() -> None:
    fake = FakeProvider(name="fake", instances=3)
    metrics = PoolMetrics()
    with fast_pool({"fake": fake}, subscribe=metrics) as pool:
        metrics.seed(["fake"])
        before = len(parse(exposition(metrics)))
        handles = [pool.submit(Recipe(f"recipe-{n}", owner=f"user{n}")) for n in range(40)]
        outcomes = [h.wait(30) for h in handles]
        for outcome in outcomes:
            assert outcome is not None
            pool.release(outcome)
        handles = [
            pool.submit(Recipe(f"again-{n}", labs=[f"lab{n}.example.com"])) for n in range(20)
        ]
        assert all(h.wait(30) for h in handles)
        text = exposition(metrics)
    assert "recipe-" not in text
    assert "again-" not in text
    assert "user1" not in text
    assert "lab1" not in text
    # seeded: (1 provider + "none") x 13 (status, reason) pairs; no new outcome series
    outcome_series = values(parse(text), "virtprov_launch_outcomes_total", nonzero=False)
    assert len(outcome_series) == 2 * sum(len(r) for r in REASONS.values()) == 26
    # a few series appear on first use (histograms, call operations), none per recipe
    assert len(parse(text)) - before < 200


def exposition(metrics: PoolMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_events_it_does_not_know_are_counted_and_otherwise_ignored() -> None:
    metrics = PoolMetrics()
    metrics(Event("thread.stalled", {"thread": "virtprov-driver", "seconds": 3.0}))
    metrics(Event("launch.outcome", {"status": "succeeded", "provider": "p", "seconds": "soon"}))
    metrics(Event("launch.outcome", {"status": "exploded", "provider": "p"}))
    metrics(Event("capacity", {"provider": "p", "instances": 4, "vcpus": None}))
    samples = parse(exposition(metrics))
    assert values(samples, "virtprov_pool_events_total") == {
        ("capacity",): 1,
        ("launch.outcome",): 2,
        ("thread.stalled",): 1,
    }
    assert values(samples, "virtprov_launch_outcomes_total") == {("p", "ready", "succeeded"): 1}
    assert values(samples, "virtprov_launch_outcome_seconds_count") == {}
    assert values(samples, "virtprov_capacity_free") == {("p", "instances"): 4}


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("failed", "TimeoutError: not ready within 1800 s", "timeout"),
        ("failed", "CapacityExhausted: no valid host", "capacity"),
        ("failed", "GuestNotFound: the guest vanished while building", "not_found"),
        ("failed", "ProviderError: build failed", "cloud"),
        ("failed", "provider old is not configured", "other"),
        ("skipped", "east: not enough capacity for m1.small", "capacity"),
        ("skipped", "east: Quota exceeded for instances", "capacity"),
        ("skipped", "east: disabled: the image is gone", "disabled"),
    ],
)
def test_reason_classes(status: str, reason: str, expected: str) -> None:
    assert reason_class(status, reason) == expected
    assert expected in REASONS[status]


def test_a_taken_port_is_one_clear_error_and_nothing_stays_open(tmp_path: object) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1 port {port}"):
            fast_pool({"fake": FakeProvider()}, metrics_port=port, metrics_address="127.0.0.1")


def test_no_server_unless_asked() -> None:
    with fast_pool({"fake": FakeProvider()}) as pool:
        assert pool.metrics is None
        assert pool.metrics_server is None


def test_settings_of_metrics_and_history() -> None:
    table = {"metrics_port": 9464, "metrics_address": "127.0.0.1", "history_days": 7}
    settings = PoolSettings.from_options(Options(table, path="virtprov.toml", prefix="pool"))
    assert (settings.metrics_port, settings.metrics_address, settings.history_days) == (
        9464,
        "127.0.0.1",
        7.0,
    )
    defaults = PoolSettings()
    assert (defaults.metrics_port, defaults.metrics_address, defaults.history_days) == (
        None,
        "0.0.0.0",
        30.0,
    )
    with pytest.raises(ConfigError, match=r"pool\.metrics_port.*TCP port"):
        PoolSettings.from_options(
            Options({"metrics_port": 70000}, path="virtprov.toml", prefix="pool")
        )
    with pytest.raises(ConfigError, match=r"pool\.history_days.*must not be negative"):
        PoolSettings.from_options(
            Options({"history_days": -1}, path="virtprov.toml", prefix="pool")
        )


def test_a_pool_without_metrics_never_imports_prometheus_client() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from virtprov.fake import FakeProvider\n"
        "from virtprov.pool import Pool, PoolSettings, Recipe\n"
        "with Pool({'fake': FakeProvider()}, settings=PoolSettings(launcher='t'),"
        " journal='sqlite://') as pool:\n"
        "    assert pool.submit(Recipe(1)).wait(30) is not None\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"

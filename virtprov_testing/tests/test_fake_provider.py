from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from virtprov_testing.conformance import ProviderConformance

from virtprov.config import parse_config
from virtprov.errors import (
    CapacityExhausted,
    ConfigError,
    GuestNotFound,
    PermanentError,
    ProviderError,
    TransientError,
)
from virtprov.fake import DEFAULT_FLAVORS, FakeProvider, SshEndpoint
from virtprov.fake.faults import NO_VALID_HOST, FaultKind, FaultPlan, Latency, ScriptedFault
from virtprov.model import LABEL_POOL, Flavor, GiB, GuestSpec, GuestState, ImageBoot
from virtprov.plugins import build_provider

SMALL = DEFAULT_FLAVORS[1]


class Clock:
    """A clock tests move by hand, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def spec(n: int, flavor: Flavor = SMALL, pool: str = "p") -> GuestSpec:
    return GuestSpec.for_recipe(n, flavor, pool=pool)


class TestFakeConformance(ProviderConformance):
    """Built from virtprov.toml text, through the ``fake`` entry point."""

    image = "fake-image"  # the fake boots any image name

    poll_interval = 0.0
    config = """
        driver = "fake"
        capacity = { instances = 10, vcpus = 40, ram_mib = 65536, disk_gib = 1000 }
    """


class TestFakeWithStateFileConformance(ProviderConformance):
    poll_interval = 0.0
    image = "fake-image"

    @pytest.fixture
    def provider(self, tmp_path: Path) -> FakeProvider:
        return FakeProvider(
            instances=10,
            state_file=tmp_path / "cloud.sqlite",
            ssh=SshEndpoint("127.0.0.1", 2200, authorized_keys=tmp_path / "keys"),
        )


def test_state_sequence_follows_cloud_side_time() -> None:
    clock = Clock()
    cloud = FakeProvider(latency=Latency(build=5.0, shutdown=2.0), clock=clock, sleep=clock.sleep)
    guest = cloud.create_guest(spec(1))
    assert guest.state is GuestState.BUILDING
    assert guest.macs[0].startswith("52:54:00:")
    clock.now += 4.9
    assert cloud.poll([guest.id])[guest.id].state is GuestState.BUILDING
    clock.now += 0.2  # build done: the fake stops the guest, which takes 2 s more
    assert cloud.poll([guest.id])[guest.id].state is GuestState.BUILDING
    clock.now += 2.0
    assert cloud.poll([guest.id])[guest.id].state is GuestState.READY
    cloud.start_guest(guest.id)
    assert cloud.poll([guest.id])[guest.id].state is GuestState.RUNNING
    cloud.stop_guest(guest.id)
    assert cloud.poll([guest.id])[guest.id].state is GuestState.STOPPED


def test_api_latency_is_slept_and_logged() -> None:
    clock = Clock()
    cloud = FakeProvider(
        latency=Latency(create=0.05, poll=0.02),
        clock=clock,
        sleep=clock.sleep,
        monotonic=clock,
    )
    guest = cloud.create_guest(spec(1))
    cloud.poll([guest.id])
    assert clock.now == pytest.approx(1_000_000.07)
    assert [call.operation for call in cloud.calls] == ["create", "poll"]
    assert [call.ended - call.started for call in cloud.calls] == pytest.approx([0.05, 0.02])
    assert not any(call.failed for call in cloud.calls)


def test_latency_ranges_are_seeded() -> None:
    import random

    latency = Latency(build=(1.0, 2.0))
    draws = [latency.draw("build", random.Random(5)) for _ in range(2)]
    assert draws[0] == draws[1]
    assert 1.0 <= draws[0] <= 2.0


def test_capacity_is_consumed_and_freed() -> None:
    cloud = FakeProvider(instances=2, vcpus=2, ram_mib=4096, disk_bytes=100 * GiB)
    a = cloud.create_guest(spec(1))
    free = cloud.capacity()
    assert (free.instances, free.vcpus, free.ram_mib) == (1, 1, 3072)
    assert free.disk_bytes == 90 * GiB
    cloud.create_guest(spec(2))
    with pytest.raises(CapacityExhausted, match="needs 1 instances, 0 free"):
        cloud.create_guest(spec(3))
    cloud.destroy_guest(a.id)
    cloud.destroy_guest(a.id)
    assert cloud.capacity().instances == 1
    assert cloud.create_guest(spec(3)).state is GuestState.BUILDING


def test_unlimited_figures_are_unknown() -> None:
    free = FakeProvider(instances=3).capacity()
    assert free.instances == 3
    assert (free.vcpus, free.ram_mib, free.disk_bytes) == (None, None, None)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("capacity", CapacityExhausted),
        ("transient", TransientError),
        ("timeout", TransientError),
        ("permanent", PermanentError),
    ],
)
@pytest.mark.parametrize("operation", ["create", "poll", "start", "stop", "destroy"])
def test_scripted_faults_at_every_operation(
    operation: str, kind: FaultKind, error: type[Exception]
) -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault(operation, 1, kind),)))
    calls: dict[str, Callable[[], object]] = {
        "create": lambda: cloud.create_guest(spec(1)),
        "poll": lambda: cloud.poll(["x"]),
        "start": lambda: cloud.start_guest("x"),
        "stop": lambda: cloud.stop_guest("x"),
        "destroy": lambda: cloud.destroy_guest("x"),
    }
    with pytest.raises(error, match=f"injected {kind} fault in {operation}"):
        calls[operation]()
    assert cloud.calls[-1].failed
    assert cloud.all_guest_ids() == []  # a create that failed made nothing


def test_lost_response_creates_the_guest_but_says_it_failed() -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault("create", 2, "lost_response"),)))
    cloud.create_guest(spec(1))
    with pytest.raises(TransientError, match="lost_response"):
        cloud.create_guest(spec(2))
    assert len(cloud.all_guest_ids()) == 2
    assert [g.name for g in cloud.list_guests("beaker-")] == ["beaker-recipe-1", "beaker-recipe-2"]


def test_a_destroy_that_loses_its_answer_leaves_network_and_port_orphaned() -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault("destroy", 1, "lost_response"),)))
    gone, kept = cloud.create_guest(spec(1)), cloud.create_guest(spec(2))
    with pytest.raises(TransientError, match="lost_response"):
        cloud.destroy_guest(gone.id)
    assert cloud.all_guest_ids() == [kept.id]
    orphans = cloud.orphan_resource_ids()
    assert len(orphans) == 2
    assert sorted(r.kind for r in cloud.list_resources("") if r.id in orphans) == [
        "network",
        "port",
    ]
    assert len(cloud.all_resource_ids()) == 4  # the kept guest's network and port too
    cloud.destroy_guest(kept.id)
    assert cloud.orphan_resource_ids() == orphans  # a whole destroy leaves nothing


def test_a_build_fault_ends_in_error_classified_as_capacity() -> None:
    cloud = FakeProvider(faults=FaultPlan(script=(ScriptedFault("build", 1, "capacity"),)))
    guest = cloud.create_guest(spec(1))
    failed = cloud.poll([guest.id])[guest.id]
    assert failed.state is GuestState.ERROR
    assert failed.fault == NO_VALID_HOST
    assert cloud.classify_fault(failed) is CapacityExhausted
    other = FakeProvider(faults=FaultPlan(script=(ScriptedFault("build", 1, "transient"),)))
    broken = other.poll([(g := other.create_guest(spec(1))).id])[g.id]
    assert other.classify_fault(broken) is ProviderError


def test_random_faults_are_seeded() -> None:
    def outcomes(seed: int) -> list[str]:
        cloud = FakeProvider(seed=seed, faults=FaultPlan(rates={"create": 0.5}))
        results = []
        for n in range(40):
            try:
                cloud.create_guest(spec(n))
                results.append("ok")
            except ProviderError as exc:
                results.append(type(exc).__name__)
        return results

    first = outcomes(7)
    assert first == outcomes(7)
    assert "ok" in first
    assert len(set(first)) >= 3


def test_poll_is_one_batched_call_for_any_number_of_guests() -> None:
    cloud = FakeProvider()
    ids = [cloud.create_guest(spec(n)).id for n in range(600)]  # more than one SQL chunk
    cloud.destroy_guest(ids[0])
    found = cloud.poll([*ids, ids[1], "nope"])
    assert list(found) == ids[1:]
    assert all(guest.state is GuestState.READY for guest in found.values())
    assert [call.operation for call in cloud.calls].count("poll") == 1


def test_unknown_guests() -> None:
    cloud = FakeProvider()
    with pytest.raises(GuestNotFound):
        cloud.stop_guest("nope")
    with pytest.raises(GuestNotFound):
        cloud.console_output("nope")
    assert cloud.poll(["nope"]) == {}


def test_list_guests_needs_the_pool_label() -> None:
    cloud = FakeProvider()
    ours = cloud.create_guest(spec(1))
    cloud.create_guest(GuestSpec(name="beaker-recipe-2", flavor=SMALL))
    assert [g.id for g in cloud.list_guests("beaker-")] == [ours.id]
    assert ours.labels[LABEL_POOL] == "p"


def test_state_file_is_shared_by_two_instances(tmp_path: Path) -> None:
    state = tmp_path / "cloud.sqlite"
    first = FakeProvider(instances=2, state_file=state)
    second = FakeProvider(instances=2, state_file=state)
    guest = first.create_guest(spec(1))
    assert second.capacity().instances == 1
    assert second.poll([guest.id])[guest.id].name == "beaker-recipe-1"
    assert first.poll([guest.id])[guest.id].state is GuestState.READY
    second.start_guest(guest.id)  # what one instance does, the other sees
    assert first.poll([guest.id])[guest.id].state is GuestState.RUNNING
    second.destroy_guest(guest.id)
    assert first.poll([guest.id]) == {}


def test_state_file_is_shared_by_two_processes(tmp_path: Path) -> None:
    state = tmp_path / "cloud.sqlite"
    script = (
        "import sys\n"
        "from virtprov.model import GuestSpec\n"
        "from virtprov.fake import DEFAULT_FLAVORS, FakeProvider, SshEndpoint\n"
        "cloud = FakeProvider(instances=5, state_file=sys.argv[1])\n"
        "for n in range(int(sys.argv[2]), int(sys.argv[2]) + 3):\n"
        "    cloud.create_guest(GuestSpec.for_recipe(n, DEFAULT_FLAVORS[1], pool='p'))\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", script, str(state), str(start)])
        for start in (0, 100)
    ]
    codes = [run.wait(timeout=60) for run in runs]
    # 6 creates against 5 instances: exactly one process hits the limit, none over-books.
    assert sorted(codes) == [0, 1]
    cloud = FakeProvider(instances=5, state_file=state)
    assert len(cloud.all_guest_ids()) == 5
    assert cloud.capacity().instances == 0
    assert len({g.macs[0] for g in cloud.list_guests("beaker-")}) == 5


def test_threads_never_overbook_or_lose_guests() -> None:
    cloud = FakeProvider(instances=20)
    made: list[str] = []
    refused = []
    lock = threading.Lock()

    def worker(base: int) -> None:
        for n in range(base, base + 10):
            try:
                guest = cloud.create_guest(spec(n))
            except CapacityExhausted:
                with lock:
                    refused.append(n)
                continue
            with lock:
                made.append(guest.id)
            if n % 3 == 0:
                cloud.destroy_guest(guest.id)
                with lock:
                    made.remove(guest.id)

    threads = [threading.Thread(target=worker, args=(base,)) for base in range(0, 80, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made) == cloud.all_guest_ids()
    assert cloud.capacity().instances == 20 - len(made) >= 0
    assert len(made) + len(refused) + sum(1 for n in range(80) if n % 3 == 0) >= 80


def test_from_config(tmp_path: Path) -> None:
    text = f"""
[providers.lab]
driver = "fake"
lab = "lab.example.com"
arches = ["x86_64", "aarch64"]
seed = 3
state_file = "{tmp_path / "c.sqlite"}"
flavors = [{{ name = "one", vcpus = 1, ram_mib = 1024, disk_gib = 20 }}]
[providers.lab.capacity]
instances = 4
disk_gib = 100
[providers.lab.latency]
create = 0.0
build = [0.0, 0.0]
[providers.lab.faults]
script = [{{ operation = "create", nth = 1, kind = "transient" }}]
[providers.lab.faults.rates]
poll = 0.0
build = 1.0
[providers.lab.faults.kinds]
build = ["permanent"]
"""
    cloud = build_provider(parse_config(text).providers["lab"])
    assert isinstance(cloud, FakeProvider)
    assert cloud.info.arches == ("x86_64", "aarch64")
    assert [f.name for f in cloud.flavors()] == ["one"]
    assert cloud.capacity().disk_bytes == 100 * GiB
    with pytest.raises(TransientError):
        cloud.create_guest(spec(1, flavor=cloud.flavors()[0]))
    guest = cloud.create_guest(spec(2, flavor=cloud.flavors()[0]))
    assert cloud.poll([guest.id])[guest.id].fault == "Build failed (permanent)"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("colour = 1", "providers.lab.colour: is not a known option"),
        ("[providers.lab.latency]\nbuild = 'slow'", "providers.lab.latency.build: must be seconds"),
        (
            "[providers.lab.faults.rates]\ncreate = 2",
            "providers.lab.faults.rates.create: is a probability",
        ),
        ("flavors = [{ name = 'x' }]", "providers.lab.flavors[0].vcpus: is required"),
        (
            "[providers.lab.faults.rates]\nreboot = 0.1",
            "providers.lab.faults.rates.reboot: is not one of create",
        ),
        (
            "[providers.lab.faults.kinds]\ncreate = ['meteor']",
            "providers.lab.faults.kinds.create: must list fault kinds",
        ),
        (
            "[providers.lab.faults]\nscript = [{ operation = 'create' }]",
            "providers.lab.faults.script: is not a list of",
        ),
        ("[providers.lab.ssh]\nport = 22", "providers.lab.ssh.host: is required"),
        ("[providers.lab.ssh]\nhost = 'h'\nport = 70000", "providers.lab.ssh.port: must be a TCP"),
        ("[providers.lab.ssh]\nhost = 'h'\nuser = 'x'", "providers.lab.ssh.user: is not a known"),
    ],
)
def test_bad_options_name_the_key(extra: str, message: str) -> None:
    text = f'[providers.lab]\ndriver = "fake"\nlab = "l"\n{extra}\n'
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_provider(parse_config(text).providers["lab"])


def test_an_ssh_endpoint_is_every_guests_address_and_image_keys_reach_it(tmp_path: Path) -> None:
    text = f"""
[providers.lab]
driver = "fake"
lab = "lab.example.com"
[providers.lab.ssh]
host = "127.0.0.1"
port = 2022
authorized_keys = "{tmp_path / "authorized_keys"}"
"""
    clock = Clock()
    cloud = build_provider(parse_config(text).providers["lab"])
    assert isinstance(cloud, FakeProvider)
    assert cloud.ssh == SshEndpoint("127.0.0.1", 2022, tmp_path / "authorized_keys")
    cloud = FakeProvider(
        ssh=cloud.ssh,
        latency=Latency(build=5.0, shutdown=1.0),
        clock=clock,
        sleep=clock.sleep,
        monotonic=clock,
    )
    keys = ("ssh-ed25519 AAAA one", "ssh-rsa BBBB two")
    netboot = cloud.create_guest(spec(1))
    image = cloud.create_guest(
        GuestSpec(name="beaker-recipe-2", flavor=SMALL, boot=ImageBoot("img", ssh_public_keys=keys))
    )
    cloud.create_guest(  # the same key again is written once
        GuestSpec(
            name="beaker-recipe-3", flavor=SMALL, boot=ImageBoot("img", ssh_public_keys=keys[:1])
        )
    )
    assert (tmp_path / "authorized_keys").read_text().splitlines() == list(keys)
    assert image.state is GuestState.BUILDING
    clock.now += 5.0
    seen = cloud.poll([netboot.id, image.id])
    # an image boots straight into running; a netboot guest is stopped first
    assert seen[image.id].state is GuestState.RUNNING
    assert seen[netboot.id].state is GuestState.BUILDING
    assert {g.addresses for g in seen.values()} == {("127.0.0.1",)}
    assert {g.ssh_port for g in seen.values()} == {2022}


def test_a_slow_delete_is_accepted_at_once_and_leaves_the_port_and_network_to_its_caller() -> None:
    clock = Clock()
    cloud = FakeProvider(instances=2, latency=Latency(delete=5.0), clock=clock, sleep=clock.sleep)
    guest = cloud.create_guest(spec(1))
    left = cloud.destroy_guest(guest.id)
    assert [(r.kind, r.guest) for r in left] == [("port", guest.name), ("network", guest.name)]
    assert cloud.destroy_guest(guest.id) == left  # asked again: the same answer
    assert cloud.poll([guest.id])[guest.id].state is GuestState.DELETED
    assert cloud.capacity().instances == 1  # counted until it is gone, as a quota does
    with pytest.raises(ProviderError, match="in use by its guest"):
        cloud.destroy_resource(left[0])  # the port goes only after its guest
    clock.now += 5.0
    assert cloud.poll([guest.id]) == {}
    assert cloud.capacity().instances == 2
    assert cloud.destroy_guest(guest.id) == []  # gone: nothing more to say
    for resource in left:
        cloud.destroy_resource(resource)
    assert cloud.all_resource_ids() == []


def test_a_quick_delete_takes_what_the_guest_had_with_it() -> None:
    cloud = FakeProvider()
    guest = cloud.create_guest(spec(1))
    assert cloud.destroy_guest(guest.id) == []
    assert cloud.poll([guest.id]) == {}
    assert cloud.all_resource_ids() == []


def test_a_started_guest_is_stopped_until_its_boot_is_over() -> None:
    clock = Clock()
    cloud = FakeProvider(latency=Latency(boot=2.0), clock=clock, sleep=clock.sleep)
    guest = cloud.create_guest(spec(1))
    cloud.start_guest(guest.id)
    assert cloud.poll([guest.id])[guest.id].state is GuestState.STOPPED
    cloud.start_guest(guest.id)  # started already: nothing changes
    clock.now += 1.0
    assert cloud.poll([guest.id])[guest.id].state is GuestState.STOPPED
    clock.now += 1.0
    assert cloud.poll([guest.id])[guest.id].state is GuestState.RUNNING

"""The sweeper and what guests own besides themselves (networks, ports...), and its records."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest
from pool_helpers import (
    FAST,
    MEDIUM,
    Recorder,
    create_in_flight,
    fast_pool,
    launched,
    scripted,
    wait_for,
)

from virtprov.fake import FakeProvider
from virtprov.fake.faults import FaultPlan, Latency
from virtprov.model import Guest, GuestSpec, OwnedResource
from virtprov.pool import Journal, Pool, Recipe, Status
from virtprov.pool.pool import Leftover


def kinds(resources: Sequence[OwnedResource]) -> list[tuple[str, str]]:
    return [(r.kind, r.guest) for r in resources]


def leak(fake: FakeProvider, recipe: int, pool: str = "virtprov") -> str:
    guest = fake.create_guest(GuestSpec.for_recipe(recipe, MEDIUM, pool=pool))
    with fake._transaction() as db:  # as a destroy that died after deleting the guest
        db.execute("DELETE FROM guests WHERE id = ?", (guest.id,))
        db.execute("UPDATE resources SET guest_id = NULL WHERE guest_id = ?", (guest.id,))
    return guest.name


def test_a_destroy_that_dies_after_the_guest_leaves_network_and_port_swept_two_sweeps_later() -> (
    None
):
    # The first destroy deletes the guest and dies before its network and port.
    fake = FakeProvider(faults=scripted(("destroy", 1, "lost_response")))
    events = Recorder()
    with fast_pool({"fake": fake}, subscribe=events) as pool:
        kept, doomed = launched(pool, 1), launched(pool, 2)
        assert pool.poll() != []
        pool.release(doomed)
        wait_for(lambda: events.kinds("guest.destroyed"))
        assert fake.all_guest_ids() == [kept.id]
        left = [r for r in fake.list_resources("beaker-") if r.guest == doomed.name]
        assert sorted(r.kind for r in left) == ["network", "port"]

        first = pool.sweep()
        assert [(o.kind, o.sightings, o.deleted) for o in first.orphan_resources] == [
            ("port", 1, False),
            ("network", 1, False),
        ]
        assert first.orphans == ()
        assert first.resources_seen == 4  # the kept guest's network and port included
        second = pool.sweep()
        assert [(o.kind, o.deleted) for o in second.orphan_resources] == [
            ("port", True),
            ("network", True),
        ]
        assert second.errors == ()
    assert kinds(fake.list_resources("")) == [("port", kept.name), ("network", kept.name)]
    assert [e["resource_kind"] for e in events.kinds("leak.resource.removed")] == [
        "port",
        "network",
    ]


def test_resources_are_never_swept_while_their_guest_or_its_create_exists() -> None:
    fake = FakeProvider()
    journal = Journal("sqlite://")
    pool = Pool({"fake": fake}, journal=journal, start=False)
    # A guest of another pool, and one of this pool that nobody owns (swept as a guest).
    stranger = fake.create_guest(GuestSpec.for_recipe(7, MEDIUM, pool="another-pool"))
    orphan = fake.create_guest(GuestSpec.for_recipe(8, MEDIUM, pool="virtprov"))
    # A create in flight: the journal has its name, the cloud already has its network.
    journal.register_launcher("test", lease=30)
    spec = GuestSpec.for_recipe(9, MEDIUM, pool="virtprov")
    create_in_flight(journal, Recipe(9), spec.name, now=0)
    leak(fake, 9)  # its network and port exist; its guest does not yet
    for _ in range(3):
        report = pool.sweep()
    assert report.orphan_resources == ()
    # The orphan guest went on the second sweep: its own destroy took its resources.
    assert orphan.id not in fake.all_guest_ids()
    assert fake.all_guest_ids() == [stranger.id]
    assert {r.guest for r in fake.list_resources("")} == {stranger.name, spec.name}
    journal.close()


def test_the_callers_recipes_keep_their_resources_and_dry_run_changes_nothing() -> None:
    fake = FakeProvider(faults=scripted(("destroy", 1, "lost_response")))
    guest = fake.create_guest(GuestSpec.for_recipe(3, MEDIUM, pool="virtprov"))
    with pytest.raises(Exception, match="lost_response"):
        fake.destroy_guest(guest.id)
    pool = Pool({"fake": fake}, journal="sqlite://", start=False)
    for _ in range(3):
        assert pool.sweep(owned=["3"]).orphan_resources == ()
    for _ in range(3):
        dry = pool.sweep(dry_run=True)
        assert [(o.kind, o.sightings, o.deleted) for o in dry.orphan_resources] == [
            ("port", 1, False),
            ("network", 1, False),
        ]
    assert len(fake.all_resource_ids()) == 2
    pool.sweep()
    assert len(fake.all_resource_ids()) == 2  # one real sighting so far: dry runs count none
    pool.sweep()
    assert fake.all_resource_ids() == []
    pool.journal.close()


class Misbehaving(FakeProvider):
    """A provider whose SDK raises anything, anywhere."""

    def __init__(self, *, listing: Exception | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.listing = listing
        self.refuse: set[str] = set()

    def list_resources(self, prefix: str) -> Sequence[OwnedResource]:
        if self.listing is not None:
            raise self.listing
        return super().list_resources(prefix)

    def destroy_resource(self, resource: OwnedResource) -> None:
        if resource.kind in self.refuse:
            raise KeyError("'status'")  # as an SDK tripping over an unexpected answer
        super().destroy_resource(resource)


def test_whatever_a_provider_raises_is_reported_and_nothing_depends_on_it() -> None:
    broken = Misbehaving(listing=RuntimeError("boom"))
    orphan = broken.create_guest(GuestSpec.for_recipe(1, MEDIUM, pool="virtprov"))
    leak(broken, 2)
    pool = Pool({"broken": broken}, journal="sqlite://", start=False)
    pool.sweep()
    report = pool.sweep()
    assert [o.guest_id for o in report.deleted] == [orphan.id]  # guests are still swept
    assert report.errors == ("broken: listing owned resources: RuntimeError: boom",) * 1
    assert len(broken.all_resource_ids()) == 2

    refusing = Misbehaving()
    refusing.refuse = {"port"}
    leak(refusing, 3)
    pool = Pool({"refusing": refusing}, journal="sqlite://", start=False)
    pool.sweep()
    report = pool.sweep()
    assert [(o.kind, o.deleted) for o in report.orphan_resources] == [
        ("port", False),
        ("network", False),  # the network still has its port: the fake refuses as Neutron
    ]
    assert report.errors[0] == (
        "refusing: destroying port beaker-recipe-3-port of beaker-recipe-3: KeyError: \"'status'\""
    )
    assert "in use by a port" in report.errors[1]
    refusing.refuse = set()
    assert [o.deleted for o in pool.sweep().orphan_resources] == [True, True]


def test_a_guest_the_sweeper_deletes_is_no_longer_live_in_the_journal() -> None:
    fake = FakeProvider()
    with fast_pool({"fake": fake}) as pool:
        launched(pool, 1)
        forgotten = launched(pool, 2)
        assert {o.status for o in pool.poll()} == {Status.SUCCEEDED}
        pool.sweep(owned=["1"])
        report = pool.sweep(owned=["1"])
        assert [o.guest_id for o in report.deleted] == [forgotten.id]
        row = pool.journal.guest_by_id("fake", forgotten.id)
        assert row is not None
        assert row.state in ("destroyed", "gone")
        assert row.reason == "swept: nobody owned it"
        # The launcher confirms it gone, as any destroyed guest.
        wait_for(lambda: pool.journal.guest_by_id("fake", forgotten.id).state == "gone")  # type: ignore[union-attr]


class KeyPairs(FakeProvider):
    """The fake cloud plus a key pair per guest, named after it and unlabelled (as Nova's)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.keypairs: set[str] = set()
        #: The next destroys die after the guest, before its key pair.
        self.keep_keypairs = False

    def create_guest(self, spec: GuestSpec) -> Guest:
        guest = super().create_guest(spec)
        self.keypairs.add(spec.name)
        return guest

    def destroy_guest(self, guest_id: str) -> None:
        names = [g.name for g in self.poll([guest_id]).values()]
        super().destroy_guest(guest_id)
        if not self.keep_keypairs:
            self.keypairs.difference_update(names)

    def list_resources(self, prefix: str) -> Sequence[OwnedResource]:
        pairs = [
            OwnedResource(provider=self.info.name, kind="keypair", id=n, name=n, guest=n)
            for n in sorted(self.keypairs)
            if n.startswith(prefix)
        ]
        return [*super().list_resources(prefix), *pairs]

    def destroy_resource(self, resource: OwnedResource) -> None:
        if resource.kind == "keypair":
            self.keypairs.discard(resource.name)
        else:
            super().destroy_resource(resource)


def test_unlabelled_resources_are_swept_only_for_guests_this_pools_journal_made() -> None:
    cloud = KeyPairs()
    events = Recorder()
    with fast_pool({"fake": cloud}, subscribe=events) as pool:
        launched(pool, 1)
        released = launched(pool, 2)
        assert pool.poll() != []
        cloud.keep_keypairs = True  # the destroy of recipe 2 dies before its key pair
        pool.release(released)
        wait_for(lambda: events.kinds("guest.destroyed"))
        # A guest of another pool (its key pair is named after it), and a key pair that
        # only looks like one of a guest: this journal made neither.
        cloud.create_guest(GuestSpec.for_recipe(8, MEDIUM, pool="another-pool"))
        cloud.keypairs.add("beaker-recipe-77")
        # The caller owns recipe 2: its key pair is kept (the journal names the recipe).
        assert pool.sweep(owned=["1", "2"]).orphan_resources == ()
        first = pool.sweep()
        assert [(o.kind, o.guest, o.sightings, o.deleted) for o in first.orphan_resources] == [
            ("keypair", "beaker-recipe-2", 1, False)
        ]
        second = pool.sweep()
        assert [(o.name, o.deleted) for o in second.orphan_resources] == [("beaker-recipe-2", True)]
        assert second.errors == ()
        for _ in range(3):
            assert pool.sweep().orphan_resources == ()
    # The key pair of the guest that still exists stays, as do the two nobody here made.
    assert cloud.keypairs == {"beaker-recipe-1", "beaker-recipe-8", "beaker-recipe-77"}


def test_the_journal_knows_every_guest_it_made_and_for_which_recipe(journal_url: str) -> None:
    journal = Journal(journal_url)
    try:
        journal.register_launcher("test", lease=30)
        spec = GuestSpec.for_recipe(9, MEDIUM, pool="virtprov")
        row = create_in_flight(journal, Recipe(9), spec.name, now=0)
        journal.update_guest(row, guest_id="g-9", state="gone")  # made, destroyed, confirmed
        names = {spec.name, "beaker-recipe-77"}
        assert journal.made("fake", names) == {spec.name: "9"}
        assert journal.made("another-provider", names) == {}
        assert journal.made("fake", []) == {}
    finally:
        journal.close()


# -- what a pool closed too early left: finished by a sweep with no launcher -------------


def swept_clean(fake: FakeProvider, journal_url: str, guest: Guest, sweeps: int) -> None:
    """Sweep ``sweeps`` times with no launcher (as ``virtprov sweep`` does): then the cloud
    holds nothing, and ``guest``'s row is ``gone`` with nothing left to delete."""
    sweeper = Pool({"fake": fake}, settings=FAST, journal=journal_url, start=False)
    try:
        for _ in range(sweeps):
            assert sweeper.sweep().errors == ()
        assert (fake.all_guest_ids(), fake.all_resource_ids()) == ([], [])
        row = sweeper.journal.guest_by_id("fake", guest.id)
        assert row is not None
        assert (row.state, row.leftovers) == ("gone", ())
    finally:
        sweeper.close()


def test_a_destroy_a_closed_pool_did_not_confirm_is_finished_by_a_sweep(journal_url: str) -> None:
    """Closed before a poll saw the guest gone: its row stays ``destroyed`` with what the
    destroy left. A sweep with no launcher used to protect those forever (the journal
    holds a guest of their name); it confirms the guest gone and deletes them."""
    now = [time.time()]  # the cloud's clock: the delete ends when the test says
    fake = FakeProvider(latency=Latency(delete=60.0), clock=lambda: now[0])
    pool = fast_pool({"fake": fake}, journal=journal_url)
    guest = launched(pool, 1)
    pool.release(guest)
    wait_for(lambda: pool.journal.guests_in(["destroyed"]) != [], what="the delete is accepted")
    assert pool.close(timeout=0) == (Leftover("fake", guest.id, guest.name),)
    now[0] += 120  # the cloud has deleted the guest; its network and port are left
    assert fake.poll([guest.id]) == {}
    assert len(fake.all_resource_ids()) == 2
    swept_clean(fake, journal_url, guest, 1)


def test_a_guest_a_closed_pool_left_doomed_is_destroyed_by_a_sweep(journal_url: str) -> None:
    """Every destroy failed until the pool closed: the guest stays doomed. A sweep with no
    launcher destroys it (it used to leave it, and what it made, for a launcher)."""
    fake = FakeProvider(faults=FaultPlan(rates={"destroy": 1.0}, kinds={"destroy": ("timeout",)}))
    pool = fast_pool({"fake": fake}, journal=journal_url)
    guest = launched(pool, 1)
    pool.release(guest)
    assert pool.close(timeout=0.2) == (Leftover("fake", guest.id, guest.name),)
    assert len(fake.all_resource_ids()) == 2
    fake.faults = FaultPlan()  # the cloud is back
    swept_clean(fake, journal_url, guest, 1)


def test_what_a_destroy_that_died_half_way_left_is_swept_once_a_sweep_finished_its_row(
    journal_url: str,
) -> None:
    """Each destroy deletes the guest and dies before its network and port (which nobody
    recorded); the pool closes with the guest doomed. The row held the guest's name, so
    a sweep without a launcher kept its network and port for ever: the soak's
    ``leaked_resources``. The sweep finishes the row, then sweeps them as orphans."""
    lost = FaultPlan(rates={"destroy": 1.0}, kinds={"destroy": ("lost_response",)})
    fake = FakeProvider(faults=lost)
    pool = fast_pool({"fake": fake}, journal=journal_url)
    guest = launched(pool, 1)
    pool.release(guest)
    wait_for(lambda: fake.all_guest_ids() == [], what="the guest deleted")
    assert pool.close(timeout=0.2) == (Leftover("fake", guest.id, guest.name),)
    assert len(fake.orphan_resource_ids()) == 2
    fake.faults = FaultPlan()
    swept_clean(fake, journal_url, guest, 2)  # an orphan is seen twice


def test_a_sweep_leaves_the_destroys_of_a_running_launcher_to_it(journal_url: str) -> None:
    """A launcher that runs finishes its own destroys: a sweep (here from a pool with no
    launcher, as ``virtprov sweep`` runs beside a scheduler) touches neither the doomed
    guest nor what it made."""
    fake = FakeProvider(faults=FaultPlan(rates={"destroy": 1.0}, kinds={"destroy": ("timeout",)}))
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        guest = launched(pool, 1)
        pool.release(guest)
        sweeper = Pool({"fake": fake}, settings=FAST, journal=journal_url, start=False)
        try:
            for _ in range(3):
                report = sweeper.sweep()
                assert (report.orphans, report.orphan_resources) == ((), ())
            assert fake.all_guest_ids() == [guest.id]
            assert len(fake.all_resource_ids()) == 2
        finally:
            sweeper.close()
        fake.faults = FaultPlan()


def test_an_orphan_whose_destroy_by_a_sweep_died_half_way_leaves_nothing(
    journal_url: str,
) -> None:
    """The sweeper's destroy of an orphan deletes the guest and dies before its network
    and port. Its row stayed ``live``, holding the guest's name, so no sweep ever took
    what the guest made (the kills part of the soak, under load). It is doomed before the
    call: the next sweep finishes it, and the sweep after sweeps its network and port."""
    fake = FakeProvider(faults=scripted(("destroy", 1, "lost_response")))
    with fast_pool({"fake": fake}, journal=journal_url) as pool:
        forgotten = launched(pool, 1)
        assert pool.poll() != []  # taken; the scheduler died before it recorded the guest
    sweeper = Pool({"fake": fake}, settings=FAST, journal=journal_url, start=False)
    try:
        assert sweeper.sweep(owned=[]).deleted == ()  # seen once
        died = sweeper.sweep(owned=[])
        assert "lost_response" in died.errors[0]
        assert fake.all_guest_ids() == []
        row = sweeper.journal.guest_by_id("fake", forgotten.id)
        assert row is not None
        assert (row.state, row.reason) == ("doomed", "swept: nobody owned it")
        for _ in range(3):
            assert sweeper.sweep(owned=[]).errors == ()
        assert fake.all_resource_ids() == []
        row = sweeper.journal.guest_by_id("fake", forgotten.id)
        assert row is not None
        assert row.state == "gone"
    finally:
        sweeper.close()

"""A sweep survives whatever one provider raises or answers: that provider's error is in
the report (logged with its traceback when it is not a ProviderError), the others are
swept."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest
from pool_helpers import MEDIUM, create_in_flight

from virtprov.errors import TransientError
from virtprov.fake import FakeProvider
from virtprov.model import Guest, GuestSpec, OwnedResource
from virtprov.pool import Pool, Recipe

ERRORS = [
    RuntimeError("SDK bug"),
    KeyError("server"),
    ConnectionResetError(104, "Connection reset by peer"),
]


class Raising(FakeProvider):
    """A fake whose SDK raises ``raises[call]`` from that call (or answers ``answers``)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.raises: dict[str, Exception] = {}
        self.answers: list[object] | None = None

    def _raise(self, call: str) -> None:
        if call in self.raises:
            raise self.raises[call]

    def list_guests(self, prefix: str) -> Sequence[Guest]:
        self._raise("list_guests")
        if self.answers is not None:
            return self.answers  # type: ignore[return-value]
        return super().list_guests(prefix)

    def list_resources(self, prefix: str) -> Sequence[OwnedResource]:
        self._raise("list_resources")
        return super().list_resources(prefix)

    def destroy_guest(self, guest_id: str) -> None:
        self._raise("destroy_guest")
        super().destroy_guest(guest_id)

    def destroy_resource(self, resource: OwnedResource) -> None:
        self._raise("destroy_resource")
        super().destroy_resource(resource)


def litter(cloud: FakeProvider) -> None:
    """An orphan guest, and the network and port of a guest whose destroy died."""
    cloud.create_guest(GuestSpec.for_recipe(1, MEDIUM, pool="virtprov"))
    gone = cloud.create_guest(GuestSpec.for_recipe(2, MEDIUM, pool="virtprov"))
    with cloud._transaction() as db:
        db.execute("DELETE FROM guests WHERE id = ?", (gone.id,))
        db.execute("UPDATE resources SET guest_id = NULL WHERE guest_id = ?", (gone.id,))


def clouds() -> tuple[Raising, FakeProvider, Pool]:
    broken, fine = Raising(name="broken"), FakeProvider(name="fine")
    litter(broken)
    litter(fine)
    # the broken provider first: a sweep that stopped at it would never reach the other
    pool = Pool({"broken": broken, "fine": fine}, journal="sqlite://", start=False)
    return broken, fine, pool


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    ("call", "what"),
    [
        ("list_guests", "broken: listing guests: "),
        ("list_resources", "broken: listing owned resources: "),
        ("destroy_guest", "broken: destroying beaker-recipe-1: "),
        ("destroy_resource", "broken: destroying port beaker-recipe-2-port of beaker-recipe-2: "),
    ],
)
def test_whatever_one_provider_raises_is_its_error_alone(
    call: str, what: str, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine, pool = clouds()
    broken.raises[call] = error
    pool.sweep()
    report = pool.sweep()
    assert fine.all_guest_ids() == []
    assert fine.all_resource_ids() == []
    assert report.errors[0] == what + f"{type(error).__name__}: {error}"
    assert all(e.startswith("broken: ") for e in report.errors)
    logged = errors_logged(caplog)
    assert logged[0].getMessage() == "sweep: " + report.errors[0]
    for record in logged:
        assert record.getMessage().startswith("sweep: broken: ")
        assert record.exc_info is not None
        assert record.exc_info[1] is error  # with its traceback, for the plugin's author
    pool.journal.close()


def test_a_provider_error_is_reported_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, _, pool = clouds()
    broken.raises["list_guests"] = TransientError("503 Service Unavailable", provider="broken")
    report = pool.sweep()
    assert report.errors == ("broken: listing guests: 503 Service Unavailable",)
    assert errors_logged(caplog) == []  # the cloud's answer, not a fault in the plugin
    pool.journal.close()


def test_an_answer_the_sweeper_cannot_read_is_that_providers_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, fine, pool = clouds()
    broken.answers = [object()]  # not a Guest: a plugin bug
    pool.sweep()
    report = pool.sweep()
    assert fine.all_guest_ids() == []
    assert fine.all_resource_ids() == []
    (error,) = set(report.errors)
    assert error.startswith("broken: sweeping: AttributeError: 'object' object has no attribute")
    (record, *_) = errors_logged(caplog)
    assert record.exc_info is not None
    assert record.exc_info[0] is AttributeError
    pool.journal.close()


def test_an_abandoned_guest_whose_destroy_raises_is_reported_and_the_sweep_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken, fine, pool = clouds()
    guest = broken.create_guest(GuestSpec.for_recipe("tmt-1", MEDIUM, pool="virtprov"))
    journal = pool.journal
    # an attended launch whose submitter ("tmt-gone", never a live launcher) died
    row = create_in_flight(
        journal,
        Recipe("tmt-1", attended=True),
        guest.name,
        provider="broken",
        launcher="someone",
        submitter="tmt-gone",
        now=0,
    )
    journal.update_guest(row, guest_id=guest.id, state="live")
    broken.raises["destroy_guest"] = RuntimeError("SDK bug")

    report = pool.sweep()

    assert "broken: destroying beaker-recipe-tmt-1: RuntimeError: SDK bug" in report.errors
    assert journal.guest(row).state == "doomed"  # for the next launcher to destroy
    assert any(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in caplog.records)
    pool.sweep()
    assert fine.all_guest_ids() == []  # the other provider is swept all the same
    assert fine.all_resource_ids() == []
    journal.close()

"""The contract every provider plugin implements.

A provider is one configured cloud endpoint (an OpenStack region, an oVirt engine,
the in-memory fake...) that serves one lab. The contract is small and synchronous
so that a third party can implement it in an afternoon; everything clever (choice,
retries, rate limits, rollback, sweeping) lives in the pool above it.

Rules every implementation follows:

* Map the cloud's failures into :mod:`virtprov.errors` (``CapacityExhausted``,
  ``TransientError``, ``PermanentError``, ``GuestNotFound``); never let an SDK
  exception escape, never make the caller match strings. Wrap SDK calls in
  :func:`virtprov.mapping_errors` with the provider's mapping.
* Never wait for the cloud: :meth:`Provider.create_guest` returns as soon as the cloud
  has accepted the request and the guest's id is known, :meth:`Provider.destroy_guest`
  as soon as it has accepted the delete; :meth:`Provider.poll` advances and confirms.
* Label everything you create with ``spec.labels`` and name it after ``spec.name``, so
  that a guest (and any port, network, disk made for it) can always be found again.
  A provider that makes anything besides the guest lists it with
  :meth:`Provider.list_resources` and removes it with :meth:`Provider.destroy_resource`,
  so that what a failed destroy left behind is swept too.
* Secrets never reach logs, ``repr``, exceptions or cassettes.

A plugin is a class registered in the entry-point group ``virtprov.providers``::

    [project.entry-points."virtprov.providers"]
    mycloud = "virtprov_mycloud.provider:MyCloudProvider"

and passes the conformance suite in ``virtprov_testing``. The whole contract, method by
method, with an example plugin: ``docs/plugins.md``.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, Self, TypeVar

import attrs

from virtprov.errors import ProviderError
from virtprov.model import Guest, OwnedResource, ProviderInfo

if TYPE_CHECKING:
    from virtprov.config import ProviderConfig
    from virtprov.model import BootRequest, Capacity, ConsoleOutput, Flavor, GuestSpec

#: The contract's methods whose errors get the provider's name (and, for those whose first
#: argument is a guest id, that id) filled in, and whose guests and owned resources get
#: the provider's name where the implementation left it out. See
#: :meth:`Provider.__init_subclass__`.
_STAMPED: Final = (
    "flavors",
    "capacity",
    "create_guest",
    "poll",
    "start_guest",
    "stop_guest",
    "destroy_guest",
    "console_output",
    "list_guests",
    "list_resources",
    "destroy_resource",
)
_ABOUT_ONE_GUEST: Final = frozenset(
    {"start_guest", "stop_guest", "destroy_guest", "console_output"}
)
_STAMPED_MARK: Final = "__virtprov_stamped__"

_Client = TypeVar("_Client")


class LazyClient(Generic[_Client]):
    """A provider's connection to its cloud, made on first use, once whatever the threads.

    ``make`` builds it (raise :mod:`virtprov.errors` there: its errors reach the caller
    of :meth:`get`, and the next call tries again). :meth:`close` forgets it and hands it
    to ``close``, whose errors are ignored (a provider closes on its way out); the next
    :meth:`get` makes a new one. ``made`` is one already made (a test's, a shared one).
    """

    def __init__(
        self,
        make: Callable[[], _Client],
        close: Callable[[_Client], object] | None = None,
        *,
        made: _Client | None = None,
    ) -> None:
        self._make = make
        self._close = close
        self._lock = threading.Lock()
        self._client = made

    def get(self) -> _Client:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._close is not None:
            with contextlib.suppress(Exception):
                self._close(client)


class Provider(abc.ABC):
    """One configured cloud endpoint. Instances must be safe to call from several threads.

    The provider's name (``info.name``, the ``NAME`` of ``[providers.NAME]``) is filled in
    by this base class wherever an implementation leaves it out: on every
    :class:`~virtprov.errors.ProviderError` leaving a contract method (with the guest id
    too, for ``start_guest``, ``stop_guest``, ``destroy_guest`` and ``console_output``),
    and on the :class:`~virtprov.model.Guest` and :class:`~virtprov.model.OwnedResource`
    values they return. A value the implementation sets is kept as it is.
    """

    #: The entry-point name of the driver (``openstack``, ``ovirt``, ``fake``...).
    driver: ClassVar[str]

    #: What ``virtprov.toml`` declares this provider's flavors offer beyond their size
    #: (``flavor_properties``: flavor name or ``"*"`` -> property -> text). Set by
    #: :func:`virtprov.plugins.build_provider`; drivers need not read it.
    declarations: Mapping[str, Mapping[str, str]] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap the contract methods the subclass defines so that they stamp its name."""
        super().__init_subclass__(**kwargs)
        for name in _STAMPED:
            method = cls.__dict__.get(name)
            if (
                callable(method)
                and not getattr(method, "__isabstractmethod__", False)
                and not getattr(method, _STAMPED_MARK, False)
            ):
                setattr(cls, name, _stamping(name, method))

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        """Build the provider from its ``[providers.NAME]`` table.

        Read options through ``config.options`` (which names the file and key in every
        error) and call ``config.options.finish()`` so unknown keys are reported. Raise
        :class:`~virtprov.errors.ConfigError` for bad options. Do not contact the cloud
        here: construction must be cheap and offline.
        """

    @property
    @abc.abstractmethod
    def info(self) -> ProviderInfo:
        """Name, lab FQDN, hypervisor and arches: static, no cloud call."""

    @abc.abstractmethod
    def flavors(self) -> Sequence[Flavor]:
        """The shapes this provider can create for this project, in any order.

        Flavorless clouds return a catalogue of shapes (instance types, a size ladder).
        """

    def declared_flavors(self) -> list[Flavor]:
        """:meth:`flavors` with :attr:`declarations` merged into their properties: what the
        pool and ``virtprov flavors`` match requirements against."""
        from virtprov.hostrequires.properties import with_declarations

        return with_declarations(self.flavors(), self.declarations)

    @abc.abstractmethod
    def capacity(self) -> Capacity:
        """What the cloud can still take now (quota left, free hosts...).

        A figure the cloud does not expose is ``None``, never a guess.
        """

    @abc.abstractmethod
    def create_guest(self, spec: GuestSpec) -> Guest:
        """Ask the cloud for a guest and return as soon as its id is known.

        The returned guest is normally ``BUILDING``. If anything fails, remove whatever
        this call created for the guest before raising. Raise ``CapacityExhausted`` when
        the cloud refuses for lack of room or quota.
        """

    @abc.abstractmethod
    def poll(self, guest_ids: Sequence[str]) -> Mapping[str, Guest]:
        """One batched look at many guests, advancing multi-step flows.

        Use one list call, not one request per guest. Multi-step creation flows
        advance here (e.g. OpenStack: ``ACTIVE`` -> request stop -> ``SHUTOFF`` is
        ``READY``). The result maps each id the cloud still knows to its guest; an id
        absent from the result is gone. A guest that failed to build is returned in
        ``ERROR`` with ``fault`` set (``CapacityExhausted`` faults such as "No valid host
        was found" are recognisable through :meth:`classify_fault`).
        """

    def classify_fault(self, guest: Guest) -> type[ProviderError]:
        """The error class a guest's ``ERROR`` fault stands for.

        The default is the plain ``ProviderError``: this launch failed, the provider is
        fine. Providers that know their cloud's faults override this (e.g. Nova's "No
        valid host was found" -> ``CapacityExhausted``).
        """
        from virtprov import errors

        return errors.ProviderError

    @abc.abstractmethod
    def start_guest(self, guest_id: str, boot: BootRequest | None = None) -> None:
        """Power the guest on. ``boot`` overrides the boot method for this start."""

    @abc.abstractmethod
    def stop_guest(self, guest_id: str) -> None:
        """Power the guest off (hard stop is fine: the installer owns the disk)."""

    @abc.abstractmethod
    def destroy_guest(self, guest_id: str) -> Sequence[OwnedResource] | None:
        """Ask the cloud to delete the guest and every resource made for it; idempotent.

        Return as soon as the cloud has accepted the delete: never wait for the guest to
        go (the caller's :meth:`poll` confirms it, one batched look for many guests).
        What can only be deleted once the guest is gone (the network its port is on) is
        returned, as :class:`~virtprov.model.OwnedResource` in the order to delete them;
        the caller deletes them with :meth:`destroy_resource` once :meth:`poll` no longer
        sees the guest. A provider that deletes everything with the guest returns
        nothing (``None`` or an empty sequence). Destroying a guest that is already
        gone, or going, succeeds silently.
        """

    @abc.abstractmethod
    def console_output(self, guest_id: str) -> ConsoleOutput:
        """The guest's console log, or a ``ConsoleOutput`` that says why there is none."""

    @abc.abstractmethod
    def list_guests(self, prefix: str) -> Sequence[Guest]:
        """Every guest whose name starts with ``prefix`` and carries ``virtprov-pool``.

        Used by sweepers to find guests nobody owns; the caller filters by label.
        """

    def list_resources(self, prefix: str) -> Sequence[OwnedResource]:
        """What this provider made for guests besides the guests themselves. Optional.

        Every resource (port, network, floating IP, disk...) made for a guest whose name
        starts with ``prefix`` and that carries a ``virtprov-pool`` label, found by its
        labels or tags in the cloud, never by the guest's own record of it: the point is
        to find what outlived its guest (a destroy that died after the guest was deleted).
        Resources of guests that still exist are listed too; the sweeper leaves those
        alone. Return them in an order in which they can be destroyed one by one
        (dependent ones first: a floating IP before its port, a port before its
        network). Use one list call per kind, never one per guest.

        The default returns nothing: this provider makes nothing but guests (or removes
        what it makes together with the guest, in one cloud call that cannot half-fail).
        """
        return ()

    def destroy_resource(self, resource: OwnedResource) -> None:
        """Delete one resource :meth:`list_resources` or :meth:`destroy_guest` returned;
        idempotent.

        A resource that is already gone succeeds silently. Only called for resources
        whose guest is gone (by a sweeper, or by whoever destroyed the guest). A provider
        that overrides :meth:`list_resources` or returns resources from
        :meth:`destroy_guest` overrides this too; the default raises
        ``NotImplementedError``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} lists owned resources but cannot destroy them "
            "(override destroy_resource)"
        )

    def guest_url(self, guest_id: str) -> str | None:
        """A web page that shows the guest (the cloud's dashboard), or ``None``. Optional:
        no request is made; ``virtprov list`` shows it."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Release connections. Optional."""


class ProviderSettings(Protocol):
    """What a provider's settings say of the provider itself: what its ``info`` shows."""

    @property
    def name(self) -> str: ...

    @property
    def lab(self) -> str: ...

    @property
    def hypervisor(self) -> str: ...

    @property
    def arches(self) -> tuple[str, ...]: ...


_Settings = TypeVar("_Settings", bound=ProviderSettings)


class SettingsProvider(Provider, Generic[_Settings]):
    """A provider whose whole configuration is one settings value, ``self.settings``.

    A subclass says how the value is read, as :meth:`read_settings`; :meth:`from_config`
    and :attr:`info` (the settings' name, lab, hypervisor and arches) follow from it.
    """

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings

    @staticmethod
    @abc.abstractmethod
    def read_settings(config: ProviderConfig) -> _Settings:
        """The settings in the provider's ``[providers.NAME]`` table, read as
        :meth:`Provider.from_config` says: offline, every option through ``config.options``,
        then ``config.options.finish()``."""

    @classmethod
    def from_config(cls, config: ProviderConfig) -> Self:
        return cls(cls.read_settings(config))

    @property
    def info(self) -> ProviderInfo:
        settings = self.settings
        return ProviderInfo(
            name=settings.name,
            driver=self.driver,
            lab=settings.lab,
            hypervisor=settings.hypervisor,
            arches=settings.arches,
        )


def _stamping(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with the provider's name filled in on its errors and results."""
    about_one_guest = name in _ABOUT_ONE_GUEST

    @functools.wraps(method)
    def stamped(self: Provider, *args: Any, **kwargs: Any) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except ProviderError as exc:
            guest_id = None
            if about_one_guest:
                guest_id = args[0] if args else kwargs.get("guest_id")
            if not exc.provider or (guest_id is not None and exc.guest_id is None):
                exc.fill_in(provider=self.info.name, guest_id=guest_id)
            raise
        return _named(self, result)

    setattr(stamped, _STAMPED_MARK, True)
    return stamped


def _named(provider: Provider, result: Any) -> Any:
    """``result`` with the provider's name on each guest or owned resource that lacks it.

    Cheap when nothing lacks it (the pool polls constantly): nothing is copied then.
    """
    if isinstance(result, Guest | OwnedResource):
        return result if result.provider else attrs.evolve(result, provider=provider.info.name)
    if isinstance(result, Mapping):
        if all(not isinstance(v, Guest) or v.provider for v in result.values()):
            return result
        name = provider.info.name
        return {
            k: attrs.evolve(v, provider=name) if isinstance(v, Guest) and not v.provider else v
            for k, v in result.items()
        }
    if isinstance(result, list | tuple):
        if all(not isinstance(v, Guest | OwnedResource) or v.provider for v in result):
            return result
        name = provider.info.name
        return [
            attrs.evolve(v, provider=name)
            if isinstance(v, Guest | OwnedResource) and not v.provider
            else v
            for v in result
        ]
    return result

"""tmt's ``provision: how: virtprov``: a guest on any cloud virtprov drives.

Registered through tmt's ``tmt.plugin`` entry point: tmt imports this module, and the
decorator below adds the ``virtprov`` method to its provision step. The classes follow
tmt's own plugins (``connect``, ``artemis``): guest data with every key as a field (so
``tmt run provision --how virtprov --help`` documents it), a :class:`tmt.guest.GuestSsh`
subclass for the guest, a provision plugin whose ``go`` makes it. What talks to virtprov
is :mod:`virtprov_tmt.session`.
"""

from __future__ import annotations

import tmt.guest
import tmt.log
import tmt.steps
import tmt.steps.provision
import tmt.utils
from tmt.container import container, field
from tmt.utils import Command, ProvisionError

from virtprov.model import ImageBoot
from virtprov_tmt.session import Session, SessionError, recipe_id_for

DEFAULT_PROVISION_TIMEOUT = 1800
DEFAULT_REMOVE_TIMEOUT = 600
#: The key type of the key pair made when the plan gives no ``key``.
GENERATED_KEY_TYPE = "ed25519"


@container
class VirtprovGuestData(tmt.guest.GuestSshData):
    provider: str | None = field(
        default=None,
        option="--provider",
        metavar="NAME",
        help="""
             The virtprov provider (a ``[providers.NAME]`` table of ``virtprov.toml``)
             to provision on. Default: the only one configured.
             """,
    )
    image: str | None = field(
        default=None,
        option=("-i", "--image"),
        metavar="IMAGE",
        help="""
             The cloud image to boot: a Glance image name or id (OpenStack), a template
             (oVirt), a driver's image id (libcloud). Required.
             """,
    )
    config: str | None = field(
        default=None,
        option="--config",
        metavar="PATH",
        help="""
             The virtprov configuration file. Default: as the virtprov command finds it
             ($VIRTPROV_CONFIG, ~/.config/virtprov/virtprov.toml,
             /etc/virtprov/virtprov.toml), else virtprov's embedded fake cloud.
             """,
    )
    user_data: str | None = field(
        default=None,
        option="--user-data",
        metavar="TEXT",
        help="""
             Cloud-init user data for the guest (e.g. a ``#cloud-config`` document),
             passed unchanged. It is kept out of tmt's output and virtprov's logs.
             """,
    )
    provision_timeout: int = field(
        default=DEFAULT_PROVISION_TIMEOUT,
        option="--provision-timeout",
        metavar="SECONDS",
        help=f"""
             How long to wait for the guest to run with an address,
             {DEFAULT_PROVISION_TIMEOUT} seconds by default.
             """,
        normalize=tmt.utils.normalize_int,
    )

    # Known once provisioned; saved with the run so that `finish` (of this run, or of
    # `tmt run --last finish` later) releases the guest.
    recipe_id: str | None = field(default=None, internal=True)
    guest_id: str | None = field(default=None, internal=True)
    guest_provider: str | None = field(default=None, internal=True)
    flavor: str | None = field(default=None, internal=True)


@container
class ProvisionVirtprovData(VirtprovGuestData, tmt.steps.provision.ProvisionStepData):
    pass


class GuestVirtprov(tmt.guest.GuestSsh):
    """A guest virtprov's pool launched from a cloud image, reached over SSH."""

    _data_class = VirtprovGuestData

    provider: str | None
    image: str | None
    config: str | None
    user_data: str | None
    provision_timeout: int
    recipe_id: str | None
    guest_id: str | None
    guest_provider: str | None
    flavor: str | None

    def start(self) -> None:
        """Make the guest, unless this run made it already, and check it answers."""
        if self.is_dry_run:
            return
        if self.guest_id is None or self.primary_address is None:
            self._create()
        self.verbose("primary address", self.primary_address, color="green")
        self.verbose("topology address", self.topology_address, color="green")
        self.assert_reachable()

    def _create(self) -> None:
        if not self.image:
            raise tmt.utils.SpecificationError(
                "provision: how: virtprov needs 'image' (a cloud image name or id)."
            )
        assert self.recipe_id is not None
        hardware = self.hardware.to_spec() if self.hardware else None
        try:
            with Session(config=self.config, provider=self.provider) as session:
                # virtprov's evaluator first: an unmeetable requirement fails here, with
                # the reasons, before anything is written to the journal or the cloud.
                judgement = session.judge(hardware)
                for warning in judgement.warnings:
                    self.warn(f"hardware: {warning}")
                usable = judgement.usable
                if not usable:
                    raise ProvisionError(judgement.refusal())
                for verdict in judgement.verdicts:
                    self.verbose(
                        "flavor",
                        f"{verdict.flavor.name} on {verdict.provider}"
                        if verdict.flavor
                        else f"none on {verdict.provider}",
                        color="green" if verdict.flavor else "red",
                    )
                    for reason in verdict.reasons:
                        self.verbose("passed over", reason, color="yellow", level=2)
                boot = ImageBoot(self.image, self.user_data, (self._public_key(),))
                self.info("guest", "has been requested", color="green")
                outcome = session.launch(
                    self.recipe_id,
                    boot=boot,
                    hardware=hardware,
                    timeout=self.provision_timeout,
                    on_wait=lambda seconds: self.debug(f"waiting for the guest: {seconds:.0f} s"),
                )
        except SessionError as exc:
            raise ProvisionError(str(exc)) from None
        guest = outcome.guest
        assert guest is not None
        self.guest_id = guest.id
        self.guest_provider = guest.provider
        self.flavor = outcome.flavor_id
        self.primary_address = self.topology_address = guest.addresses[0]
        if self.port is None and guest.ssh_port is not None:
            self.port = guest.ssh_port
        self.info("guest", f"{guest.name} ({guest.id}) on {guest.provider}", color="green")
        self.verbose("flavor", outcome.flavor_id, color="green")

    def _public_key(self) -> str:
        """The public half of the plan's ``key``, or of a key pair made for this guest."""
        if not self.key:
            self.debug("Generating an ssh key pair for the guest.")
            private = self.guest_workdir / f"id_{GENERATED_KEY_TYPE}"
            if not private.exists():
                self._run_guest_command(
                    Command("ssh-keygen", "-q", "-t", GENERATED_KEY_TYPE, "-N", "", "-f", private),
                    silent=True,
                )
            self.key = [private]
            self.verbose("key", private, color="green")
        output = self._run_guest_command(
            Command("ssh-keygen", "-y", "-f", self.key[0]), silent=True
        )
        public = (output.stdout or "").strip()
        if not public:
            raise ProvisionError(f"Cannot read the public key of '{self.key[0]}'.")
        return public

    def remove(self) -> None:
        """Destroy the guest through virtprov's pool and wait until the cloud confirms."""
        if self.guest_id is None:
            return
        try:
            with Session(config=self.config, provider=self.guest_provider) as session:
                done = session.release(
                    self.guest_provider or session.provider_name,
                    self.guest_id,
                    timeout=DEFAULT_REMOVE_TIMEOUT,
                )
        except SessionError as exc:
            raise ProvisionError(str(exc)) from None
        if done:
            self.info("guest", "has been removed", color="green")
            self.guest_id = None
        else:
            self.warn(
                f"Guest '{self.guest_id}' is being destroyed; virtprov's pool retries until "
                "the cloud confirms (see virtprov journal status)."
            )


@tmt.steps.provides_method("virtprov")
class ProvisionVirtprov(tmt.steps.provision.ProvisionPlugin[ProvisionVirtprovData]):
    """
    Provision a guest on any cloud virtprov drives (OpenStack, oVirt, libcloud...).

    The guest boots a cloud image with cloud-init and is reached over SSH. Its
    ``hardware`` requirements are judged by virtprov's evaluator before any cloud call
    that makes something: one that no flavor can meet fails the step with the reasons.
    The guest is recorded in virtprov's journal before it is created, so an interrupted
    run leaves nothing ``virtprov sweep`` does not remove.

    .. code-block:: yaml

        provision:
            how: virtprov
            provider: lab-openstack
            image: Fedora-Cloud-Base-41
            user: fedora
            become: true
            hardware:
                memory: ">= 4 GiB"

    When no ``key`` is given, a key pair is made for the guest in the run's directory.
    """

    _data_class = ProvisionVirtprovData
    _guest_class = GuestVirtprov

    _thread_safe = True

    _guest = None

    def go(self, *, logger: tmt.log.Logger | None = None) -> None:
        super().go(logger=logger)
        data = VirtprovGuestData.from_plugin(self)
        plan = self.step.plan
        assert plan.my_run is not None  # a provision step always runs within a run
        data.recipe_id = recipe_id_for(str(plan.my_run.workdir), plan.name, self.name)
        # user data may hold secrets: shown by its size only
        shown = [key for key in data.keys() if key != "user_data"]  # noqa: SIM118 - not a dict
        data.show(keys=shown, verbose=self.verbosity_level, logger=self._logger)
        if data.user_data:
            self.info("user data", f"{len(data.user_data)} characters (not shown)", color="green")
        self._guest = GuestVirtprov(
            logger=self._logger, data=data, name=self.name, parent=self.step
        )
        self._guest.start()
        self._guest.setup()

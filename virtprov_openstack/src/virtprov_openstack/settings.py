"""The ``[providers.NAME]`` options of an OpenStack provider, read and checked offline:
how to reach the cloud (:class:`Credentials`) and what to make there (:class:`Settings`)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Final

import attrs

from virtprov.urls import redact_url

if TYPE_CHECKING:
    from openstack.connection import Connection

    from virtprov.config import Options, Secret

MODE_FLOATING: Final = "floating"
MODE_FIXED: Final = "fixed"


@attrs.frozen(repr=False)
class Credentials:
    """How to reach the cloud. Secrets stay :class:`~virtprov.config.Secret` references."""

    cloud: str | None = None
    auth_url: str | None = None
    username: str | None = None
    password: Secret | None = None
    user_domain_name: str = "Default"
    project_name: str | None = None
    project_id: str | None = None
    project_domain_name: str = "Default"
    application_credential_id: str | None = None
    application_credential_secret: Secret | None = None
    trust_id: str | None = None
    region_name: str | None = None
    verify: bool = True
    cacert: str | None = None

    def __repr__(self) -> str:
        where = self.cloud or redact_url(self.auth_url or "OS_CLOUD")
        return f"Credentials({where!r}, region={self.region_name!r}, trust={self.trust_id!r})"

    def connect(self, *, user_agent: str = "virtprov") -> Connection:
        """Open an openstacksdk connection (no request is sent until first use)."""
        import openstack
        import openstack.config

        if self.auth_url is None:
            # A named cloud (or OS_CLOUD / OS_* variables) through clouds.yaml.
            region = openstack.config.get_cloud_region(
                cloud=self.cloud, region_name=self.region_name
            )
            if self.trust_id:
                named = region.config.setdefault("auth", {})
                # A trust carries its own scope: drop the project the cloud names.
                for key in list(named):
                    if key.startswith("project_"):
                        del named[key]
                named["trust_id"] = self.trust_id
            if self.cacert:
                region.config["cacert"] = self.cacert
            return openstack.connection.Connection(config=region, app_name=user_agent)
        auth: dict[str, Any] = {"auth_url": self.auth_url}
        if self.application_credential_id:
            assert self.application_credential_secret is not None
            auth_type = "v3applicationcredential"
            auth["application_credential_id"] = self.application_credential_id
            auth["application_credential_secret"] = self.application_credential_secret.reveal()
        else:
            assert self.password is not None
            auth_type = "v3password"
            auth.update(
                username=self.username,
                password=self.password.reveal(),
                user_domain_name=self.user_domain_name,
            )
            if self.trust_id:
                auth["trust_id"] = self.trust_id
            elif self.project_id:
                auth["project_id"] = self.project_id
            else:
                auth.update(
                    project_name=self.project_name,
                    project_domain_name=self.project_domain_name,
                )
        # Explicit options only: neither clouds.yaml nor OS_* variables may leak in.
        region = openstack.config.get_cloud_region(
            load_yaml_config=False,
            load_envvars=False,
            auth_type=auth_type,
            auth=auth,
            region_name=self.region_name,
            verify=self.verify,
            cacert=self.cacert,
        )
        return openstack.connection.Connection(config=region, app_name=user_agent)


@attrs.frozen
class Settings:
    """What the provider creates, read from its ``[providers.NAME]`` table."""

    image: str | None = None
    image_name: str | None = None
    image_tag: str | None = None
    network_mode: str = MODE_FLOATING
    network: str | None = None
    external_network: str | None = None
    guest_cidr: str = "192.168.10.0/24"
    dns_nameservers: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    arches: tuple[str, ...] = ("x86_64",)
    dashboard_url: str | None = None


def read_credentials(options: Options) -> Credentials:
    cloud = options.string("cloud")
    auth_url = options.string("auth_url")
    username = options.string("username")
    password = options.secret("password")
    app_id = options.string("application_credential_id")
    app_secret = options.secret("application_credential_secret")
    creds = Credentials(
        cloud=cloud,
        auth_url=auth_url,
        username=username,
        password=password,
        user_domain_name=options.string("user_domain_name", "Default"),
        project_name=options.string("project_name"),
        project_id=options.string("project_id"),
        project_domain_name=options.string("project_domain_name", "Default"),
        application_credential_id=app_id,
        application_credential_secret=app_secret,
        trust_id=options.string("trust_id"),
        region_name=options.string("region_name"),
        verify=options.boolean("verify", True),
        cacert=options.string("cacert"),
    )
    if cloud and auth_url:
        raise options.error("auth_url", "give either cloud (clouds.yaml) or auth_url, not both")
    if auth_url:
        if app_id or app_secret:
            if not (app_id and app_secret):
                raise options.error(
                    "application_credential_secret",
                    "application_credential_id and application_credential_secret go together",
                )
        elif not (username and password):
            raise options.error(
                "username",
                "auth_url needs username and password (a secret reference), or "
                "application_credential_id and application_credential_secret",
            )
        elif not (creds.trust_id or creds.project_name or creds.project_id):
            raise options.error("project_name", "is required with a password (or trust_id)")
    else:
        for key in ("username", "password", "application_credential_id", "project_name"):
            if key in options:
                raise options.error(key, "only applies with auth_url; clouds.yaml holds it")
    return creds


def read_settings(options: Options) -> Settings:
    mode = options.string("network_mode", MODE_FLOATING)
    if mode not in (MODE_FLOATING, MODE_FIXED):
        raise options.error("network_mode", f'must be "floating" or "fixed", got {mode!r}')
    network = options.string("network")
    if mode == MODE_FIXED and not network:
        raise options.error(
            "network", 'is required with network_mode = "fixed" (a network name or id)'
        )
    cidr = options.string("guest_cidr", "192.168.10.0/24")
    try:
        ipaddress.ip_network(cidr)
    except ValueError as exc:
        raise options.error("guest_cidr", f"is not a network in CIDR form: {exc}") from None
    image, image_name, image_tag = (
        options.string("image"),
        options.string("image_name"),
        options.string("image_tag"),
    )
    if sum(x is not None for x in (image, image_name, image_tag)) > 1:
        raise options.error("image", "give only one of image, image_name, image_tag")
    if not (image or image_name or image_tag):
        raise options.error(
            "image",
            "is required: the iPXE image id (or image_name / image_tag); "
            "build one with: virtprov openstack create-ipxe-image",
        )
    arches = options.string_list("arches", ["x86_64"])
    if not arches:
        raise options.error("arches", "must name at least one architecture")
    for gone in ("delete_timeout", "wait_interval"):
        if gone in options:
            raise options.error(
                gone,
                "is no longer used: a destroy no longer waits for the server to go "
                "(the pool's polls confirm it); remove it",
            )
    return Settings(
        image=image,
        image_name=image_name,
        image_tag=image_tag,
        network_mode=mode,
        network=network,
        external_network=options.string("external_network"),
        guest_cidr=cidr,
        dns_nameservers=tuple(options.string_list("dns_nameservers")),
        security_groups=tuple(options.string_list("security_groups")),
        arches=tuple(arches),
        dashboard_url=options.string("dashboard_url"),
    )

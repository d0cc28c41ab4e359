"""Turn Beaker's ``server.cfg`` into an equivalent ``virtprov.toml``.

Beaker's ``/etc/beaker/server.cfg`` is an INI file whose values are Python literals
(``openstack.create_floating_ip = False``). Its dynamic-VM keys map onto one
``[providers.*]`` table each; its config items (``guest_name_prefix``,
``guest_private_network``, ``default_guest_memory``, ``default_guest_disk_size``) live
in Beaker's database, so they are given as options. Secrets are never copied: each
becomes an environment-variable reference, and the report says which variable to set.
"""

from __future__ import annotations

import ast
import configparser
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from virtprov.errors import ConfigError

#: Environment variables the converted configuration refers to for Beaker's passwords.
OPENSTACK_PASSWORD_ENV = "VIRTPROV_OPENSTACK_PASSWORD"  # noqa: S105 - a variable name
OVIRT_PASSWORD_ENV = "VIRTPROV_OVIRT_PASSWORD"  # noqa: S105 - a variable name


@attrs.frozen
class BeakerItems:
    """Beaker's config items (from its database), and what server.cfg cannot say."""

    guest_name_prefix: str | None = None
    guest_private_network: str | None = None
    default_guest_memory: int | None = None
    default_guest_disk_size: int | None = None
    openstack_lab: str | None = None
    ipxe_image: str | None = None
    ovirt_lab: str | None = None


@attrs.frozen
class Migration:
    """The converted configuration, and one line per thing that needs a person."""

    document: dict[str, Any]
    report: tuple[str, ...]

    def toml(self, source: str) -> str:
        """The document as TOML; secret references stay inline tables, so keys added
        later under a provider do not land inside them."""
        import tomlkit

        out = tomlkit.document()
        out.add(tomlkit.comment(f"converted from {source} by `virtprov config from-beaker`"))
        for line in self.report:
            out.add(tomlkit.comment(f"to do: {line}"))
        out.add(tomlkit.nl())
        out.add("defaults", self.document["defaults"])
        providers = tomlkit.table(is_super_table=True)
        for name, options in self.document["providers"].items():
            table = tomlkit.table()
            for key, value in options.items():
                if isinstance(value, dict):
                    inline = tomlkit.inline_table()
                    inline.update(value)
                    value = inline
                table.add(key, value)
            providers.add(name, table)
        out.add("providers", providers)
        return tomlkit.dumps(out)


@attrs.frozen
class ServerCfg(Mapping[str, Any]):
    """server.cfg's ``[global]`` keys (values as Python literals), read as a mapping,
    and the dynamic-VM keys found where Beaker does not read them."""

    global_keys: Mapping[str, Any]
    #: (section, key) of each ``openstack.*`` / ``ovirt.*`` key outside ``[global]``,
    #: and of each key of an ``[openstack]`` or ``[ovirt]`` section
    misplaced: tuple[tuple[str, str], ...] = ()
    path: str = "server.cfg"

    def __getitem__(self, key: str) -> Any:
        return self.global_keys[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.global_keys)

    def __len__(self) -> int:
        return len(self.global_keys)

    def misplaced_lines(self) -> list[str]:
        """One report line per misplaced key, saying where Beaker would read it."""
        lines = []
        for section, key in self.misplaced:
            full = key if key.startswith(_PREFIXES) else f"{section.lower()}.{key}"
            lines.append(
                f"[{section}] {key}: Beaker reads its dynamic-VM keys only from [global] "
                f"(as {full}), so Beaker ignores it; not carried over: move it to [global] "
                "if Beaker should use it, and convert again"
            )
        return lines


_PREFIXES: Final = ("openstack.", "ovirt.")


def read_server_cfg(text: str, *, path: str = "server.cfg") -> ServerCfg:
    """The keys of server.cfg's ``[global]`` section, values as Python literals.

    Dynamic-VM keys in any other section (``[openstack] identity_api_url``, or
    ``openstack.username`` under ``[/]``) are collected in ``misplaced``.
    """
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise ConfigError(f"not a Beaker server.cfg: {exc}".replace("\n", " "), path=path) from None
    misplaced = tuple(
        (section, key)
        for section in parser.sections()
        if section != "global"
        for key in parser[section]
        if key.startswith(_PREFIXES)
        or (section.lower() in ("openstack", "ovirt") and f"{section.lower()}.{key}" in _KNOWN_KEYS)
    )
    if not parser.has_section("global"):
        found = _found(misplaced)
        raise ConfigError(
            "has no [global] section, where Beaker reads openstack.* and ovirt.* keys"
            + (
                f"; found {found} instead: move them there"
                if found
                else " (is it Beaker's server.cfg?)"
            ),
            path=path,
        )
    values: dict[str, Any] = {}
    for key, raw in parser.items("global"):
        try:
            values[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            # Beaker reads such values as plain strings too (unquoted, e.g. a URL).
            values[key] = raw.strip()
    return ServerCfg(global_keys=values, misplaced=misplaced, path=path)


def _found(misplaced: tuple[tuple[str, str], ...]) -> str:
    shown = ", ".join(f"[{section}] {key}" for section, key in misplaced[:5])
    return shown + (f" and {len(misplaced) - 5} more" if len(misplaced) > 5 else "")


def migrate(settings: Mapping[str, Any], items: BeakerItems) -> Migration:
    """Map Beaker's settings (from :func:`read_server_cfg`) onto virtprov's configuration."""
    report: list[str] = []
    path = settings.path if isinstance(settings, ServerCfg) else None
    misplaced = settings.misplaced if isinstance(settings, ServerCfg) else ()
    document: dict[str, Any] = {"defaults": _defaults(items)}
    providers: dict[str, Any] = {}
    if settings.get("openstack.identity_api_url"):
        providers["openstack"] = _openstack(settings, items, report)
    if settings.get("ovirt.enabled"):
        providers["ovirt"] = _ovirt(settings, items, report)
    if not providers:
        found = _found(misplaced)
        raise ConfigError(
            "enables no dynamic VMs (neither openstack.identity_api_url nor ovirt.enabled "
            "is set in [global]): there is nothing to convert"
            + (
                f"; found {found}, which Beaker ignores: its keys belong in [global], "
                "as openstack.identity_api_url = ..."
                if found
                else ""
            ),
            path=path,
        )
    document["providers"] = providers
    unknown = sorted(
        key for key in settings if key.startswith(_PREFIXES) and key not in _KNOWN_KEYS
    )
    report.extend(f"{key}: not a key virtprov knows; not carried over" for key in unknown)
    if isinstance(settings, ServerCfg):
        report.extend(settings.misplaced_lines())
    return Migration(document, tuple(report))


def _url(
    settings: Mapping[str, Any], key: str, report: list[str], fix: str
) -> tuple[str, list[str]]:
    """A URL from server.cfg without any secret in it, and what was removed (reported)."""
    from virtprov.urls import strip_secrets

    clean, removed = strip_secrets(str(settings[key]))
    if removed:
        report.append(f"{key}: held {' and '.join(removed)}; removed, never copied: {fix}")
    return clean, removed


def _defaults(items: BeakerItems) -> dict[str, Any]:
    given = {
        "guest_name_prefix": items.guest_name_prefix,
        "default_guest_memory": items.default_guest_memory,
        "default_guest_disk_size": items.default_guest_disk_size,
    }
    return {key: value for key, value in given.items() if value is not None}


def _lab(given: str | None, option: str, report: list[str], what: str) -> str:
    if given:
        return given
    report.append(
        f"providers.{what}.lab: Beaker keeps the lab controller of the {what} cloud in its "
        f"database; name it with {option} (left as a placeholder)"
    )
    return "LAB-CONTROLLER.example.com"


def _secret_reference(provider: str, variable: str, report: list[str]) -> dict[str, str]:
    """A reference in place of a password that must never be copied."""
    report.append(
        f"providers.{provider}.password: not copied; set {variable} (or change the "
        'reference to { file = "/path" })'
    )
    return {"env": variable}


def _openstack(
    settings: Mapping[str, Any], items: BeakerItems, report: list[str]
) -> dict[str, Any]:
    auth_url, url_user, url_password = _login_url(
        settings, "openstack.identity_api_url", "openstack", OPENSTACK_PASSWORD_ENV, report
    )
    table: dict[str, Any] = {
        "driver": "openstack",
        "lab": _lab(items.openstack_lab, "--openstack-lab", report, "openstack"),
        "auth_url": auth_url,
    }
    if settings.get("openstack.username") or url_user:
        table["username"] = settings.get("openstack.username") or url_user
    if settings.get("openstack.password") or url_password:
        table["password"] = _secret_reference("openstack", OPENSTACK_PASSWORD_ENV, report)
    table["user_domain_name"] = settings.get("openstack.user_domain_name") or "Default"
    report.append(
        "providers.openstack.project_name: Beaker acted only through each job owner's trust; "
        "virtprov also needs a project of its own account for capacity and listing: add "
        "project_name (or trust_id)"
    )
    if items.ipxe_image:
        table["image"] = items.ipxe_image
    else:
        report.append(
            "providers.openstack.image: Beaker stored the iPXE image id in its openstack_region "
            "row; give it with --ipxe-image (or set image_tag and upload a new image with "
            "`virtprov openstack create-ipxe-image`)"
        )
    floating = settings.get("openstack.create_floating_ip", True)
    external = settings.get("openstack.external_network_name")
    if floating:
        table["network_mode"] = "floating"
        if external:
            table["external_network"] = external
        if items.guest_private_network:
            table["guest_cidr"] = items.guest_private_network
    else:
        # Beaker put fixed-mode guests straight onto the external network.
        table["network_mode"] = "fixed"
        if external:
            table["network"] = external
        else:
            report.append(
                "providers.openstack.network: fixed mode needs a network; Beaker used the "
                "first router:external network: name it"
            )
    if settings.get("openstack.dashboard_url"):
        table["dashboard_url"], _ = _url(
            settings, "openstack.dashboard_url", report, "the dashboard needs none"
        )
    return table


def _login_url(
    settings: Mapping[str, Any], key: str, provider: str, variable: str, report: list[str]
) -> tuple[str, str, bool]:
    """A login URL (Keystone's, the engine's) without credentials; the user name it held,
    and whether it held a secret (the provider's password reference then stands for it,
    never a copy)."""
    clean, removed = _url(
        settings, key, report, f"set {variable} (providers.{provider}.password) instead"
    )
    parts = urllib.parse.urlsplit(clean)
    user = urllib.parse.unquote(parts.username or "")
    if user:
        # The SDKs ignore a user in the URL: it becomes the username option.
        clean = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if not settings.get(f"{provider}.username"):
            report.append(f"{key}: named the user {user!r}; it is providers.{provider}.username")
    return clean, user, bool(removed)


def _ovirt(settings: Mapping[str, Any], items: BeakerItems, report: list[str]) -> dict[str, Any]:
    table: dict[str, Any] = {
        "driver": "ovirt",
        "lab": _lab(items.ovirt_lab, "--ovirt-lab", report, "ovirt"),
    }
    url_user, url_password = "", False
    if settings.get("ovirt.api_url"):
        api_url, url_user, url_password = _login_url(
            settings, "ovirt.api_url", "ovirt", OVIRT_PASSWORD_ENV, report
        )
        table["url"] = _ovirt_v4_url(api_url, report)
    if settings.get("ovirt.username") or url_user:
        table["username"] = settings.get("ovirt.username") or url_user
    if settings.get("ovirt.password") or url_password:
        table["password"] = _secret_reference("ovirt", OVIRT_PASSWORD_ENV, report)
    report.append(
        "providers.ovirt: Beaker did not verify the engine's TLS certificate; set ca_file to "
        "the engine's CA (virtprov verifies by default)"
    )
    return table


def _ovirt_v4_url(url: str, report: list[str]) -> str:
    """The engine's v4 API URL for the one Beaker configured.

    Beaker's examples use oVirt 3's ``https://engine/api``; API v4 (the only one of
    oVirt 4.2 and later) lives at ``/ovirt-engine/api``.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.path.rstrip("/").endswith("/ovirt-engine/api"):
        return url
    v4 = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/ovirt-engine/api", "", ""))
    report.append(
        f"providers.ovirt.url: {url} is an oVirt 3 API path; virtprov speaks API v4 at {v4}"
    )
    return v4


_KNOWN_KEYS = frozenset(
    {
        "openstack.identity_api_url",
        "openstack.dashboard_url",
        "openstack.username",
        "openstack.password",
        "openstack.user_domain_name",
        "openstack.external_network_name",
        "openstack.create_floating_ip",
        "ovirt.enabled",
        "ovirt.api_url",
        "ovirt.username",
        "ovirt.password",
    }
)

"""``create_node``'s object-typed arguments, from the names or ids a configuration holds.

A configuration says ``networks = ["lab-net"]`` or ``ex_subnet = "lab-subnet"``, but
libcloud's drivers want their own objects there (an ``OpenStackNetwork``, an
``EC2NetworkSubnet``) and fail deep inside with ``'str' object has no attribute 'id'``.
This module turns names and ids into those objects through the driver's own listing
calls (cached by the provider, fetched once when several creates miss together), and
says which option named what when a name matches nothing, or several things:

=================  ====================================  ==================================
family             argument                              resolved through
=================  ====================================  ==================================
OpenStack          ``networks`` (names, ids, or tables   ``ex_list_networks()`` (Nova's
                   with ``id``/``uuid``/``name``)        proxy, or Neutron with
                                                         ``api_version = "2.0"``)
OpenStack          ``ex_security_groups``                ``ex_list_security_groups()``
EC2                ``ex_subnet``                         ``ex_list_subnets()`` (its Name tag
                                                         or id)
EC2                ``ex_security_groups``,               ``ex_get_security_groups()``; with a
                   ``ex_security_group_ids`` (names or   subnet, groups of the subnet's VPC,
                   ids)                                  passed as ids (EC2 refuses group
                                                         names beside a subnet)
OpenStack, EC2     ``ex_keyname``                        ``list_key_pairs()`` (checked)
any                ``location`` (the provider option)    ``list_locations()``
=================  ====================================  ==================================

The guest's network (``GuestSpec.network``, else the provider's ``network`` option) is
the OpenStack ``networks`` argument, the EC2 ``ex_subnet``, and for other drivers
``ex_network`` where ``create_node`` takes one (GCE resolves that name itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from virtprov import errors
from virtprov_libcloud.families import Family

#: Where the guest's network goes, per family.
NETWORK_ARGUMENT: Final = {Family.OPENSTACK: "networks", Family.EC2: "ex_subnet"}
_SHOWN: Final = 12  # names listed in an error, at most


class Unresolved(errors.PermanentError):
    """A name or id in the provider's configuration matches nothing the service lists."""


class ArgumentResolver:
    """Builds ``create_node`` keyword arguments for one driver.

    ``listing(method)`` returns what the driver's listing method of that name returns
    (cached by the provider); ``listing(method, fresh=True)`` lists again, which is done
    once before a name is declared unknown (it may have been made a moment ago).
    """

    def __init__(
        self,
        *,
        provider: str,
        driver: Any,
        family: Family,
        listing: Callable[..., Sequence[Any]],
    ) -> None:
        self.provider = provider
        self.driver = driver
        self.family = family
        self.listing = listing
        self.parameters = frozenset(inspect.signature(driver.create_node).parameters)

    def arguments(
        self,
        options: Mapping[str, Any],
        *,
        network: str | None = None,
        network_from: str = "network",
        location: str | None = None,
    ) -> dict[str, Any]:
        """``options`` (``create_options``) with every name or id turned into what the
        driver wants; ``network`` (from ``network_from``) overrides the network argument.
        """
        kwargs = dict(options)
        sources = {name: f"create_options.{name}" for name in kwargs}
        if network is not None:
            argument = NETWORK_ARGUMENT.get(self.family)
            if argument is None:
                argument = "ex_network" if "ex_network" in self.parameters else None
            if argument is None:
                raise self.error(
                    network_from,
                    f"this libcloud driver ({type(self.driver).__name__}) has no "
                    "create_node argument to choose a network with",
                    spec=network_from.startswith("GuestSpec"),
                )
            kwargs[argument] = [network] if argument == "networks" else network
            sources[argument] = network_from
        if location is not None:
            if "location" not in self.parameters:
                raise self.error(
                    "location",
                    f"this libcloud driver ({type(self.driver).__name__}) takes no location "
                    "in create_node; see its create_options (e.g. ex_availability_zone)",
                )
            kwargs["location"] = self._one("location", "list_locations", location, "location")
            sources["location"] = "location"
        if self.family is Family.OPENSTACK:
            self._openstack(kwargs, sources)
        elif self.family is Family.EC2:
            self._ec2(kwargs, sources)
        return kwargs

    # -- per family -----------------------------------------------------------------------

    def _openstack(self, kwargs: dict[str, Any], sources: dict[str, str]) -> None:
        if "networks" in kwargs:
            where = sources["networks"]
            kwargs["networks"] = [
                self._one("network", "ex_list_networks", _wanted(item, where, self), where)
                for item in _items(kwargs["networks"])
            ]
        if "ex_security_groups" in kwargs:
            where = sources["ex_security_groups"]
            kwargs["ex_security_groups"] = [
                self._one("security group", "ex_list_security_groups", str(item), where)
                for item in _items(kwargs["ex_security_groups"])
            ]
        self._key_pair(kwargs, sources)

    def _ec2(self, kwargs: dict[str, Any], sources: dict[str, str]) -> None:
        subnet = None
        if "ex_subnet" in kwargs:
            where = sources["ex_subnet"]
            subnet = self._one("subnet", "ex_list_subnets", str(kwargs["ex_subnet"]), where)
            kwargs["ex_subnet"] = subnet
        vpc = subnet.extra.get("vpc_id") if subnet is not None else None

        def in_vpc(group: Any) -> bool:
            return vpc is None or group.extra.get("vpc_id") == vpc

        groups: list[Any] = []
        for argument in ("ex_security_groups", "ex_security_group_ids"):
            if argument not in kwargs:
                continue
            where = sources[argument]
            groups += [
                self._one(
                    "security group",
                    "ex_get_security_groups",
                    str(item),
                    where,
                    keep=in_vpc,
                    scope=f" in {vpc}" if vpc else "",
                )
                for item in _items(kwargs.pop(argument))
            ]
        if groups and subnet is not None:
            kwargs["ex_security_group_ids"] = [str(group.id) for group in groups]
        elif groups:
            # Without a subnet (the default VPC) EC2 takes group names, and libcloud takes
            # ids only beside a subnet.
            kwargs["ex_security_groups"] = [str(group.name) for group in groups]
        self._key_pair(kwargs, sources)

    def _key_pair(self, kwargs: dict[str, Any], sources: dict[str, str]) -> None:
        if "ex_keyname" in kwargs and isinstance(kwargs["ex_keyname"], str):
            where = sources["ex_keyname"]
            pair = self._one("key pair", "list_key_pairs", kwargs["ex_keyname"], where)
            kwargs["ex_keyname"] = str(pair.name)

    # -- matching -------------------------------------------------------------------------

    def _one(
        self,
        kind: str,
        method: str,
        wanted: str,
        where: str,
        *,
        keep: Callable[[Any], bool] = lambda item: True,
        scope: str = "",
    ) -> Any:
        """The one item of ``method``'s listing whose id or name is ``wanted``."""
        if not hasattr(self.driver, method):
            raise self.error(
                where, f"this libcloud driver cannot list {kind}s to find {wanted!r} in"
            )
        found: list[Any] = []
        items: Sequence[Any] = ()
        for fresh in (False, True):
            items = [item for item in self.listing(method, fresh=fresh) if keep(item)]
            found = [item for item in items if str(getattr(item, "id", "")) == wanted]
            found = found or [item for item in items if getattr(item, "name", None) == wanted]
            if found:
                break
        if not found:
            names = sorted({str(getattr(item, "name", None) or _ident(item)) for item in items})
            shown = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
            there = f"the service lists: {shown}" if names else f"the service lists no {kind}s"
            raise self.error(
                where,
                f"no {kind} named or numbered {wanted!r}{scope} ({there})",
                spec=where.startswith("GuestSpec"),
            )
        if len(found) > 1:
            ids = ", ".join(sorted(_ident(item) for item in found))
            raise self.error(
                where,
                f"{len(found)} {kind}s are named {wanted!r}{scope} ({ids}): give the id",
                spec=where.startswith("GuestSpec"),
            )
        return found[0]

    def error(self, where: str, problem: str, *, spec: bool = False) -> errors.ProviderError:
        """The error for a value of ``where`` that does not resolve."""
        if spec:
            # The recipe asked for it: this launch fails, the provider is fine.
            return errors.ProviderError(f"{where}: {problem}", provider=self.provider)
        return Unresolved(f"providers.{self.provider}.{where}: {problem}", provider=self.provider)


def _ident(item: Any) -> str:
    """An item's id, or its name where it has none (key pairs)."""
    return str(getattr(item, "id", None) or getattr(item, "name", ""))


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _wanted(item: Any, where: str, resolver: ArgumentResolver) -> str:
    """A network as a configuration gives it: a name or id, or a table with one."""
    if isinstance(item, Mapping):
        for key in ("id", "uuid", "name"):
            if isinstance(item.get(key), str):
                return str(item[key])
        raise resolver.error(where, f"a network table needs id, uuid or name, got {dict(item)}")
    return str(item)

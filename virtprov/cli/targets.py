"""What ``check`` and ``convert`` judge a document against.

With a configuration file, each configured provider (or the one ``--provider`` names):
its lab, arches and hypervisor, and the flavors its cloud lists with what the
configuration declares about them, as the pool would see them. Without one, or with
``--flavors FILE``, an offline target described on the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import click

from virtprov.cli.runtime import InputError, Runtime, describe_failure

if TYPE_CHECKING:
    from virtprov.hostrequires import Target
    from virtprov.model import Flavor


@attrs.frozen
class CheckTarget:
    """One target: a configured provider's, or the offline one (``provider`` ``None``)."""

    provider: str | None
    target: Target
    #: ``None``: no flavor list (offline without ``--flavors``, or listing failed)
    flavors: list[Flavor] | None
    #: why the provider's flavors could not be listed
    error: str | None = None


def configured_runtime(ctx: click.Context) -> Runtime | None:
    """The runtime when a configuration file is in use; ``None`` for the embedded default.

    The embedded fake cloud's flavors say nothing about a lab's clouds, so without a
    configuration a document is checked offline.
    """
    from virtprov.config import find_config_path

    runtime = ctx.find_object(Runtime) or Runtime(config_path=None)
    return None if find_config_path(runtime.config_path) is None else runtime


def provider_targets(
    runtime: Runtime, provider_name: str | None, lab: str | None
) -> list[CheckTarget]:
    """Each configured provider (or the named one) serving ``lab`` (any when ``None``).

    Listing flavors is a cloud call; a provider whose call fails is returned with the
    error, so the others are still judged.
    """
    from virtprov.hostrequires import Target

    names = [provider_name] if provider_name else list(runtime.config.providers)
    targets = []
    for name in names:
        provider = runtime.provider(name)  # unknown name, bad table: ConfigError (status 2)
        if lab is not None and provider.info.lab.lower() != lab.lower():
            continue
        try:
            flavors = provider.declared_flavors()
        except Exception as exc:  # an SDK may raise anything: judge the other providers
            error = describe_failure(exc)
            targets.append(CheckTarget(name, Target.from_info(provider.info), None, error=error))
            continue
        targets.append(CheckTarget(name, Target.from_info(provider.info, flavors), flavors))
    if not targets:
        served = ", ".join(
            f"{name} ({config.lab})" for name, config in runtime.config.providers.items()
        )
        raise InputError(f"--lab {lab}: no configured provider serves it (configured: {served})")
    return targets


def offline_target(
    flavors: list[Flavor] | None, lab: str | None, arches: Sequence[str], hypervisor: str
) -> CheckTarget:
    """The target the command line describes, with the flavors of ``--flavors FILE``."""
    from virtprov.hostrequires import Target
    from virtprov.hostrequires.properties import declared_names

    target = Target(
        hypervisor=hypervisor,
        arches=tuple(arches) or ("x86_64", "i386"),
        lab=lab,
        declared=declared_names(flavor.properties for flavor in flavors or ()),
    )
    return CheckTarget(None, target, flavors)


def choose_targets(
    ctx: click.Context,
    *,
    provider_name: str | None,
    flavors_path: str | None,
    lab: str | None,
    arches: Sequence[str],
    hypervisor: str,
) -> list[CheckTarget] | None:
    """The configured providers' targets, or ``None`` when the check is offline.

    ``--flavors`` always means offline; ``--provider`` needs a configuration; ``--arch``
    and ``--hypervisor`` describe an offline target, so with configured providers (each
    of which has its own) they are refused rather than silently ignored.
    """
    if flavors_path is not None:
        if provider_name is not None:
            raise click.UsageError("give --provider or --flavors, not both", ctx=ctx)
        return None
    runtime = configured_runtime(ctx)
    if runtime is None:
        if provider_name is not None:
            raise InputError(
                f"--provider {provider_name}: no configuration file was found "
                "(--config, $VIRTPROV_CONFIG, /etc/virtprov/virtprov.toml); "
                "check offline with --flavors FILE"
            )
        return None
    given = [
        f"--{name}"
        for name in ("arch", "hypervisor")
        if ctx.get_parameter_source("arches" if name == "arch" else name)
        is click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise click.UsageError(
            f"{' and '.join(given)}: only for an offline target; with a configuration, "
            "each provider's own is used (add --flavors FILE to check offline)",
            ctx=ctx,
        )
    return provider_targets(runtime, provider_name, lab)

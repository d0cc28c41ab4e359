"""``virtprov openstack ...``: commands the OpenStack plugin adds to the virtprov CLI.

Found through the ``virtprov.cli`` entry point, so the core CLI knows nothing of OpenStack.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from virtprov import errors

if TYPE_CHECKING:
    from openstack.connection import Connection


@click.group(name="openstack")
def group() -> None:
    """OpenStack tools (virtprov-openstack)."""


@group.command(name="create-ipxe-image")
@click.option(
    "--chain-url",
    required=True,
    help="URL iPXE chains to; ${uuid} is the instance id, e.g. "
    "http://beaker.example.com/systems/by-uuid/${uuid}/ipxe-script",
)
@click.option("--no-upload", is_flag=True, help="Keep the image file and print its path.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the image (default: a temporary file, kept with --no-upload).",
)
@click.option("--name", help="Glance image name (default: ipxe-beaker-<lab>-<YYYYMMDD>).")
@click.option(
    "--visibility",
    type=click.Choice(["public", "private", "shared", "community"]),
    default="public",
    show_default=True,
)
@click.option(
    "--provider",
    "provider_name",
    help="Upload with the credentials of this [providers.NAME] in virtprov.toml.",
)
@click.option(
    "--cloud",
    help="Upload to this clouds.yaml cloud (default: $OS_CLOUD) when --provider is not given.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="virtprov.toml to read --provider from.",
)
@click.option(
    "--ipxe-kernel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The iPXE kernel (default: Debian's ipxe.lkrn).",
)
def create_ipxe_image(
    chain_url: str,
    no_upload: bool,
    output: Path | None,
    name: str | None,
    visibility: str,
    provider_name: str | None,
    cloud: str | None,
    config_path: Path | None,
    ipxe_kernel: Path | None,
) -> None:
    """Build the iPXE boot disk and upload it to Glance; print the image id.

    With --no-upload, print the path of the image file instead.
    """
    from virtprov_openstack.image import ImageToolError, build_image, default_image_name

    if output is None:
        fd, name_ = tempfile.mkstemp(prefix="ipxe-", suffix=".img")
        os.close(fd)
        output = Path(name_)
    try:
        build_image(chain_url, output, ipxe_kernel=ipxe_kernel)
    except ImageToolError as exc:
        raise click.ClickException(str(exc)) from None
    if no_upload:
        click.echo(str(output))
        return
    try:
        conn, lab = _connection(provider_name, cloud, config_path)
        image_id = _upload(conn, output, name or default_image_name(lab), visibility)
    finally:
        output.unlink(missing_ok=True)
    click.echo(image_id)


def _connection(
    provider_name: str | None, cloud: str | None, config_path: Path | None
) -> tuple[Connection, str]:
    from virtprov_openstack.provider import Credentials, OpenStackProvider, Settings

    if provider_name:
        from virtprov.config import load_config
        from virtprov.plugins import build_provider

        config = load_config(config_path)
        if provider_name not in config.providers:
            raise errors.ConfigError(
                f"no [providers.{provider_name}] table", path=config.path, key="providers"
            )
        provider = build_provider(config.providers[provider_name])
        if not isinstance(provider, OpenStackProvider):
            raise errors.ConfigError(
                f"provider {provider_name} is not an OpenStack provider",
                path=config.path,
                key=f"providers.{provider_name}.driver",
            )
        return provider.conn, provider.info.lab
    # Only the connection is used: no image or network settings are needed to upload.
    uploader = OpenStackProvider(
        "create-ipxe-image", "lab", Credentials(cloud=cloud), Settings(image="unused")
    )
    return uploader.conn, cloud or "lab"


def _upload(conn: Connection, path: Path, name: str, visibility: str) -> str:
    from virtprov_openstack.errors import translate
    from virtprov_openstack.image import upload_image

    size = path.stat().st_size
    # The bar goes to stderr so that stdout carries only the image id.
    with click.progressbar(length=size, label=f"Uploading {name}", file=sys.stderr) as bar:
        try:
            return upload_image(
                conn, path, name=name, visibility=visibility, on_read=cast(Any, bar).update
            )
        except errors.VirtprovError:
            raise
        except Exception as exc:
            raise translate(exc, provider="openstack", action="uploading the image") from exc

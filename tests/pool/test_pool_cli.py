"""``virtprov journal upgrade|status`` and ``virtprov sweep`` on a configured fake cloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pool_helpers import cli_config, configured_cloud, one_line_failure

from virtprov.cli import cli
from virtprov.model import GuestSpec


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return cli_config(tmp_path, monkeypatch)


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_journal_upgrade_is_idempotent_and_status_reads_it(config: Path) -> None:
    assert invoke(config, "journal", "upgrade") == (
        0,
        f"sqlite:///{config.parent / 'journal.sqlite'}: schema (empty) -> 0003\n",
    )
    code, output = invoke(config, "journal", "upgrade", "--json")
    assert code == 0
    assert json.loads(output)["from"] == "0003"
    code, output = invoke(config, "journal", "status", "--json")
    assert code == 0
    assert json.loads(output)["launches"] == {}


def test_sweep_deletes_an_orphan_on_the_second_sighting(config: Path) -> None:
    cloud = configured_cloud(config)
    flavor = cloud.flavors()[2]
    orphan = cloud.create_guest(GuestSpec.for_recipe(5, flavor, pool="virtprov"))
    owned = cloud.create_guest(GuestSpec.for_recipe(6, flavor, pool="virtprov"))
    owned_file = config.parent / "owned.txt"
    owned_file.write_text(f"{owned.id}\n")
    code, output = invoke(config, "sweep", "--dry-run", "--owned", str(owned_file))
    assert code == 0
    assert "1 orphans, 0 deleted;" in output
    assert output.endswith("4 owned resources, 0 without their guest, 0 deleted (dry run)\n")
    invoke(config, "sweep", "--owned", str(owned_file))
    code, output = invoke(config, "sweep", "--owned", str(owned_file), "--json")
    assert code == 0
    report = json.loads(output)
    assert [o["guest_id"] for o in report["orphans"] if o["deleted"]] == [orphan.id]
    assert cloud.poll([orphan.id, owned.id]).keys() == {owned.id}


def test_a_newer_journal_is_exit_2_with_one_line(config: Path) -> None:
    import sqlalchemy as sa

    invoke(config, "journal", "upgrade")
    engine = sa.create_engine(f"sqlite:///{config.parent / 'journal.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    code, line = one_line_failure("--config", config, "journal", "status")
    assert code == 2
    assert "schema 0099, newer than this virtprov knows (0003)" in line

"""`wapang db check-migrations` on sample revisions: Alembic's own operation objects, recorded
from each pending revision's upgrade(), flag what breaks the release still serving."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from alembic.script import ScriptDirectory

from harness.apps import WAPANG, clean_env
from tests.examples import TEST_SECRETS
from wapang.db.migration_safety import check_pending

BASE = """
op.create_table("orders", sa.Column("id", sa.String(36), primary_key=True),
                sa.Column("note", sa.String(200)), sa.Column("legacy", sa.Integer()))
"""
SAMPLES = {
    "expand": 'op.add_column("orders", sa.Column("channel", sa.String(20), nullable=True))\n'
    'op.create_index("ix_orders_channel", "orders", ["channel"])',
    "defaulted": 'op.add_column("orders", sa.Column("n", sa.Integer(), nullable=False, '
    'server_default="0"))',
    "drop_column": 'op.drop_column("orders", "legacy")',
    "rename_column": 'op.alter_column("orders", "note", new_column_name="remark", '
    "existing_type=sa.String(200))",
    "narrow": 'op.alter_column("orders", "note", type_=sa.String(50), '
    "existing_type=sa.String(200))",
    "not_null": 'op.add_column("orders", sa.Column("region", sa.String(10), nullable=False))',
    "drop_index": 'op.drop_index("ix_orders_channel", table_name="orders")',
    "rename_table": 'op.rename_table("orders", "purchases")',
}


def write_revisions(directory: Path, chain: list[tuple[str, str, str]]) -> ScriptDirectory:
    """(revision, body, extra module text) in order, each on the previous."""
    versions = directory / "versions"
    versions.mkdir(parents=True)
    down = None
    for revision, body, extra in chain:
        (versions / f"{revision}.py").write_text(
            "import sqlalchemy as sa\nfrom alembic import op\n"
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            f"branch_labels = None\ndepends_on = None\n{extra}\n"
            f"def upgrade() -> None:\n{textwrap.indent(body.strip(), '    ')}\n\n"
            "def downgrade() -> None:\n    pass\n"
        )
        down = revision
    return ScriptDirectory(str(directory))


def findings_for(tmp_path: Path, name: str) -> list[str]:
    scripts = write_revisions(tmp_path, [("start", BASE, ""), (name, SAMPLES[name], "")])
    pending, findings = check_pending(scripts, applied={"start"})
    assert pending == [name]
    return [f.operation for f in findings]


def test_expand_steps_are_safe(tmp_path: Path) -> None:
    scripts = write_revisions(
        tmp_path,
        [
            ("start", BASE, ""),
            ("expand", SAMPLES["expand"], ""),
            ("defaulted", SAMPLES["defaulted"], ""),
        ],
    )
    assert check_pending(scripts, applied={"start"}) == (["expand", "defaulted"], [])


def test_each_breaking_operation_is_named(tmp_path: Path) -> None:
    expected = {
        "drop_column": "drops column orders.legacy",
        "rename_column": "renames column orders.note to remark",
        "narrow": "narrows orders.note from VARCHAR(200) to VARCHAR(50)",
        "not_null": "adds NOT NULL column orders.region without a server default",
        "drop_index": "drops index ix_orders_channel",
        "rename_table": "renames table orders to purchases",
    }
    for name, words in expected.items():
        found = findings_for(tmp_path / name, name)
        assert len(found) == 1, (name, found)
        assert found[0].startswith(words), (name, found)


def test_a_contract_step_passes_once_its_expand_step_is_applied(tmp_path: Path) -> None:
    marker = 'contract_step_after = "expand"'
    chain = [
        ("start", BASE, ""),
        ("expand", SAMPLES["expand"], ""),
        ("contract", SAMPLES["drop_column"], marker),
    ]
    scripts = write_revisions(tmp_path, chain)
    # Both in one release: the serving release never ran on the expanded schema.
    _, findings = check_pending(scripts, applied={"start"})
    assert [str(f) for f in findings] == ["contract: drops column orders.legacy"]
    # The expand step shipped in an earlier release: the contract step is accepted.
    assert check_pending(scripts, applied={"start", "expand"}) == (["contract"], [])


def test_the_command_on_a_fresh_database_passes_this_repositorys_migrations(
    tmp_path: Path,
) -> None:
    """What CI runs: every revision of wapang/migrations pending on an empty SQLite file."""
    env = clean_env(ENV="test", DB_DATABASE=str(tmp_path / "fresh.db"), **TEST_SECRETS)
    result = subprocess.run(
        [WAPANG, "db", "check-migrations"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "none breaks the serving release" in result.stdout

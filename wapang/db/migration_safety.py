"""`wapang db check-migrations`: the pending revisions' operations that break the release still
serving during a blue/green switch (it runs on the new schema until it is drained).

The operations are Alembic's own objects: each pending revision's `upgrade()` runs against a
recording `Operations` in offline (as-SQL) mode, so nothing touches a database and nothing is
read from the source text. A revision that completes an expand step shipped in an earlier
release declares it at module level:

    contract_step_after = "<the expand revision>"

and is accepted once that revision is applied to the database (the old release already runs on
the expanded schema).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from alembic.operations import Operations, ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import create_engine

from wapang.config import Settings
from wapang.db.migrate import alembic_config
from wapang.db.restore import sync_url

CONTRACT_MARKER = "contract_step_after"


@dataclass(frozen=True)
class Finding:
    revision: str
    operation: str  # what breaks the serving release, in words

    def __str__(self) -> str:
        return f"{self.revision}: {self.operation}"


def operations_of(script: Script) -> list[ops.MigrateOperation]:
    """The operations the revision's upgrade() asks for, recorded, not run."""
    context = MigrationContext.configure(
        dialect_name="mysql", opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    recorded: list[ops.MigrateOperation] = []
    operations = Operations(context)
    operations.invoke = recorded.append  # type: ignore[method-assign,assignment]
    # What Operations.context() does, with this instance as the `op` the revision imports.
    operations._install_proxy()
    try:
        script.module.upgrade()
    finally:
        operations._remove_proxy()
    return recorded


def breaking(operation: ops.MigrateOperation) -> list[str]:
    """Why `operation` breaks a release that still reads and writes the old schema."""
    if isinstance(operation, ops.DropTableOp):
        return [f"drops table {operation.table_name}"]
    if isinstance(operation, ops.RenameTableOp):
        return [f"renames table {operation.table_name} to {operation.new_table_name}"]
    if isinstance(operation, ops.DropColumnOp):
        return [f"drops column {operation.table_name}.{operation.column_name}"]
    if isinstance(operation, ops.DropIndexOp):
        return [f"drops index {operation.index_name} (a query of the old release may need it)"]
    if isinstance(operation, ops.AddColumnOp):
        column = operation.column
        if not column.nullable and column.server_default is None:
            return [
                f"adds NOT NULL column {operation.table_name}.{column.name} without a server "
                "default (the old release's INSERTs fail)"
            ]
        return []
    if isinstance(operation, ops.AlterColumnOp):
        return _altered(operation)
    return []


def _altered(operation: ops.AlterColumnOp) -> list[str]:
    name = f"{operation.table_name}.{operation.column_name}"
    found = []
    if operation.modify_name:
        found.append(f"renames column {name} to {operation.modify_name}")
    if operation.modify_nullable is False:
        found.append(f"makes {name} NOT NULL (the old release may write NULL)")
    new, old = operation.modify_type, operation.existing_type
    if new is not None:
        old_length = getattr(old, "length", None)
        new_length = getattr(new, "length", None)
        if old is None or type(new) is not type(old):
            found.append(f"changes the type of {name} to {new} (not a widening Alembic can see)")
        elif old_length is not None and (new_length is None or new_length < old_length) is True:
            found.append(f"narrows {name} from {old} to {new}")
    return found


def check_pending(scripts: ScriptDirectory, applied: set[str]) -> tuple[list[str], list[Finding]]:
    """The pending revisions (oldest first) and what in them breaks the serving release."""
    pending = [s for s in scripts.walk_revisions() if s.revision not in applied][::-1]
    findings = []
    for script in pending:
        expand = getattr(script.module, CONTRACT_MARKER, None)
        if expand is not None and expand in applied:
            continue  # a contract step: the serving release already runs on the expanded schema
        for operation in operations_of(script):
            findings += [Finding(script.revision, why) for why in breaking(operation)]
    return [s.revision for s in pending], findings


def applied_revisions(settings: Settings, scripts: ScriptDirectory) -> set[str]:
    """Every revision the configured database is at or past."""
    engine = create_engine(sync_url(settings, settings.DB_DATABASE))
    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    if not heads:
        return set()
    return {s.revision for s in scripts.iterate_revisions(heads, "base")}


def check_migrations(settings: Settings) -> tuple[list[str], list[Finding]]:
    scripts = ScriptDirectory.from_config(alembic_config(settings))
    return check_pending(scripts, applied_revisions(settings, scripts))

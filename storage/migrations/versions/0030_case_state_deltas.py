"""A command writes only what it changed of a case's engine state (#17): the deltas after the base in
cases.state_blob go to case_state_deltas (engine/cases/state_delta.py). Existing cases keep their
state as a base with no deltas.

Revision ID: 0030_case_state_deltas
Revises: 0029_lean_case_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0030_case_state_deltas"
down_revision = "0029_lean_case_indexes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_state_deltas",
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("delta", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "version"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Back to whole states: a case with deltas gets its merged state as its blob first."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT c.id, c.state_blob FROM cases c WHERE EXISTS "
                                "(SELECT 1 FROM case_state_deltas d WHERE d.case_id = c.id)")).all()
    for case_id, blob in rows:
        deltas = [r[0] for r in bind.execute(sa.text(
            "SELECT delta FROM case_state_deltas WHERE case_id = :c ORDER BY version"), {"c": case_id})]
        bind.execute(sa.text("UPDATE cases SET state_blob = :b WHERE id = :c"),
                     {"b": _merged(bytes(blob), [bytes(d) for d in deltas]), "c": case_id})
    op.drop_table("case_state_deltas")


def _merged(blob: bytes, deltas: list[bytes]) -> bytes:
    """The blob of a base with its deltas merged (format yjs-delta/1, frozen copy of
    engine/cases/state_delta.apply_delta)."""
    import orjson

    from yijianshi.storage.state_blob import compress, decompress

    state = orjson.loads(decompress(blob))
    subprocesses = state["subprocesses"]
    for delta in deltas:
        change = orjson.loads(decompress(delta))
        for key, part_change in change["parts"].items():
            part = state if key == "" else subprocesses.setdefault(key, {"tasks": {}})
            part.update(part_change.get("fields") or {})
            part["tasks"].update(part_change.get("tasks", {}))
            for sid in part_change.get("gone", ()):
                part["tasks"].pop(sid, None)
        for key in change.get("parts_gone", ()):
            subprocesses.pop(key, None)
    return compress(orjson.dumps(state), 9)

"""Less stored per finished case (#17). events.prev_hash and hash hold the 32 bytes of the digest
instead of its 64 hex digits (BLOB, bytea; storage/tables/base.HexDigest still reads and writes hex,
so hashes, links and checkpoint leaves are the same values as before); on SQLite case_search_terms
becomes a WITHOUT ROWID table (its rows in the primary key's b-tree: each term stored twice instead of
three times). The rest are new forms of existing columns:

- events.prev_hash of a row written since is '' (its link is the hash of the row before in its case,
  GENESIS for the first; the hash still commits to it; storage/case_store.case_events puts it back);
  rows written before keep the link they stored and are checked against it;
- a completed work item's data leaves out `changed` when it is the whole submission and `previous`
  when empty; a ready row leaves out null deadlines (engine/cases/history.event_data);
- cases.state_blob is compressed with a preset dictionary (storage/state_blob.py); blobs written
  before decode as they are;
- a clerk's or applicant's outbox row is queued without its texts (subject '', payload_json the words
  they are made of), written out at delivery (engine/notifications/messages.texts_of).

Apart from the digests the upgrade has no row to convert: every reader accepts both forms. The downgrade puts back what
the code before reads: the stored links (with the append-only guard off meanwhile; checkpoints signed
since over those rows then no longer match them), the blobs without the dictionary, and the texts
of the lean outbox rows.

Revision ID: 0025_lean_history_and_outbox
Revises: 0024_case_outcomes
"""
import json
import zlib

import sqlalchemy as sa
from alembic import op

from yijianshi.storage import state_blob

revision = "0025_lean_history_and_outbox"
down_revision = "0024_case_outcomes"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _search_terms_with_rowid(False)
    _digests_as_bytes(bind)


def _digests_as_bytes(bind) -> None:
    """events.prev_hash and hash: the 32 bytes instead of 64 hex digits (the same values)."""
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE events ALTER COLUMN prev_hash TYPE bytea USING decode(prev_hash, 'hex'), "
                   "ALTER COLUMN hash TYPE bytea USING decode(hash, 'hex')")
        return
    _rebuild_events(sa.LargeBinary(), _unhex)


def _digests_as_text(bind) -> None:
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE events ALTER COLUMN prev_hash TYPE varchar(64) USING encode(prev_hash, 'hex'), "
                   "ALTER COLUMN hash TYPE varchar(64) USING encode(hash, 'hex')")
        return
    _rebuild_events(sa.String(64), _hex)


def _unhex(value):
    return bytes.fromhex(value.decode("ascii") if isinstance(value, bytes) else value)


def _hex(value):
    return value.hex() if isinstance(value, bytes) else value


def _rebuild_events(type_, convert) -> None:
    """SQLite: the events table rebuilt with the columns' new type (which drops its append-only
    triggers) and the values converted row by row, the text ones while the column is still text (a
    rebuild casts the old values to the new type), the triggers made again."""
    op.execute("DROP TRIGGER IF EXISTS events_no_update")
    op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    if convert is _hex:
        _convert_rows(convert)
    with op.batch_alter_table("events", recreate="always") as batch:
        batch.alter_column("prev_hash", type_=type_, existing_nullable=False)
        batch.alter_column("hash", type_=type_, existing_nullable=False)
    if convert is _unhex:
        _convert_rows(convert)
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
                   "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END")


def _convert_rows(convert) -> None:
    bind = op.get_bind()
    after = 0
    while True:
        rows = bind.execute(sa.text("SELECT id, prev_hash, hash FROM events WHERE id > :a ORDER BY id LIMIT 5000"),
                            {"a": after}).all()
        if not rows:
            break
        bind.execute(sa.text("UPDATE events SET prev_hash = :p, hash = :h WHERE id = :i"),
                     [{"p": convert(p), "h": convert(h), "i": i} for i, p, h in rows])
        after = rows[-1][0]


def _search_terms_with_rowid(with_rowid: bool) -> None:
    with op.batch_alter_table("case_search_terms", recreate="always",
                              table_kwargs={"sqlite_with_rowid": with_rowid}):
        pass


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _search_terms_with_rowid(True)
    _digests_as_text(bind)
    _store_links(bind)
    for case_id, blob in bind.execute(sa.text("SELECT id, state_blob FROM cases WHERE state_blob IS NOT NULL")).all():
        plain = zlib.compress(state_blob.decompress(bytes(blob)).encode("utf-8"), 9)
        bind.execute(sa.text("UPDATE cases SET state_blob = :b WHERE id = :i"), {"b": plain, "i": case_id})
    rows = bind.execute(sa.text(
        "SELECT o.id, o.kind, o.payload_json, c.title FROM outbox o LEFT JOIN cases c ON c.id = o.case_id "
        "WHERE o.subject = '' AND o.payload_json LIKE '{%' AND o.channel IN ('inapp', 'email', 'sms')")).all()
    for row_id, kind, payload_json, title in rows:
        subject, body = _texts(kind, json.loads(payload_json), title or "")
        bind.execute(sa.text("UPDATE outbox SET subject = :s, body = :b, payload_json = NULL WHERE id = :i"),
                     {"s": subject[:255], "b": body, "i": row_id})


def _store_links(bind) -> None:
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
    else:
        op.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    op.execute(sa.text(
        "UPDATE events SET prev_hash = COALESCE((SELECT e0.hash FROM events e0 "
        "WHERE e0.case_id = events.case_id AND e0.seq = events.seq - 1), :genesis) "
        "WHERE prev_hash = ''").bindparams(genesis=_GENESIS))
    if sqlite:
        op.execute("CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                   "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END")
    else:
        op.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")


def _texts(kind: str, words: dict, title: str) -> tuple[str, str]:
    """The texts as engine/notifications/messages.py wrote them at 0025 (frozen here)."""
    step, outcome = words.get("step", ""), words.get("outcome", "")
    if words.get("to") == "applicant":
        if kind == "supplement":
            return (f"【一次告知】{title}：请补正材料",
                    f"您的办件“{title}”需要您办理“{step}”。请登录后一次性补齐所需材料和信息。")
        if kind == "accepted":
            return f"【已受理】{title}", f"您的办件“{title}”已受理，正在办理中。"
        if kind == "rating":
            return f"【评价邀请】{title}", f"您的办件“{title}”已办结，欢迎对办理过程和结果作出评价（好差评）。"
        return f"【办理结果】{title}", f"您的办件“{title}”{outcome or '已办结'}。"
    if kind == "warning":
        return f"【预警】{step}", f"办件“{title}”的事项“{step}”即将到期，请抓紧办理。"
    if kind == "overdue":
        return f"【超期】{step}", f"办件“{title}”的事项“{step}”已超过办理时限。"
    return f"【新待办】{step}", f"办件“{title}”有新的待办事项“{step}”。"

"""Tables of cases: the case row with its engine state, the small indexed projections (work items
and their groups, message waits, correlation values) that queries read instead of deserializing
cases, and the append-only, hash-chained event log."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from yijianshi.storage.tables.base import Base, BigId, DigestText, HexDigest, TaskId, UTCDateTime
from yijianshi.storage.tables.event_types import EventType, event_types_sql

# A work item's priority when its task gives none (Camunda's default too).
DEFAULT_PRIORITY = 50


class Case(Base):
    __tablename__ = "cases"
    # The finished cases of a scenario in a period (measured outcomes, storage/outcome_store.py).
    # ix_cases_scenario_ended also finds a scenario's cases (no index of definition_key alone, 0029);
    # ix_cases_business_key holds the cases that have a business key only (0029).
    __table_args__ = (Index("ix_cases_scenario_ended", "definition_key", "ended_at"),
                      Index("ix_cases_business_key", "business_key", sqlite_where=text("business_key IS NOT NULL"),
                            postgresql_where=text("business_key IS NOT NULL")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"), index=True)
    definition_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, completed, cancelled
    version: Mapped[int] = mapped_column(Integer)  # optimistic lock, bumped by every command
    # The engine state as plain JSON in rows written before 0019; '' once case_states holds it.
    engine_state: Mapped[str] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history_seq: Mapped[int] = mapped_column(Integer)  # seq of the last event
    history_head: Mapped[str] = mapped_column(DigestText(64))  # hash of the last event (32 bytes on SQLite)
    attention: Mapped[str | None] = mapped_column(String(512))  # why an administrator must look at it


class CaseStateBase(Base):
    """A case's engine state as last written in full (the base), zlib-compressed JSON; the deltas in
    case_state_deltas follow it (engine/cases/state_delta.py). A row of its own (0031): a command
    that writes a delta updates the small case row and leaves this one alone."""

    __tablename__ = "case_states"
    case_id: Mapped[int] = mapped_column(BigId, ForeignKey("cases.id"), primary_key=True, autoincrement=False)
    base: Mapped[bytes] = mapped_column(LargeBinary)


class CaseStateDelta(Base):
    """What one command changed of a case's engine state since the base in case_states
    (engine/cases/state_delta.py): zlib-compressed JSON, `version` the case version it brings the
    state to. Dropped when a full state is written again (at the latest when the case ends)."""

    __tablename__ = "case_state_deltas"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: the rows in their primary key's b-tree
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delta: Mapped[bytes] = mapped_column(LargeBinary)


class WorkItem(Base):
    """Projection of one human task of a case: what inboxes query."""

    __tablename__ = "work_items"
    __table_args__ = (
        # Only columns an item's ending does not change (state, ended_at, ended_by), so that on
        # PostgreSQL that update is a HOT update (no index entry written): the open items are the
        # work_item_groups rows; the items ended in a time window are found through the history
        # (ix_events_item_ends). A claim still updates the claimer index.
        # (On PostgreSQL the table keeps 15 % of each page free for the new row versions: 0023.)
        # Only claimed items: a lookup is always by a claimer's name (0029).
        Index("ix_work_items_claimed", "claimed_by", sqlite_where=text("claimed_by IS NOT NULL"),
              postgresql_where=text("claimed_by IS NOT NULL")),
    )
    id: Mapped[str] = mapped_column(TaskId, primary_key=True)  # the engine task's id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    task_spec: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    groups: Mapped[str] = mapped_column(String(1024))  # comma-separated, also in work_item_groups
    state: Mapped[str] = mapped_column(String(16))  # ready, completed, cancelled
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(255))
    # camunda:priority (higher first; Camunda's default 50) and camunda:followUpDate.
    priority: Mapped[int] = mapped_column(Integer, server_default=text(str(DEFAULT_PRIORITY)))
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkItemGroup(Base):
    """One row per (open work item, department or role) so an inbox page is one index range scan,
    read in the order of the page and stopped after it. Every work item also has a row under
    EVERY_GROUP for the inboxes that see all departments. The rows carry copies of what inboxes sort
    and filter on, written with the item (case_store.insert_work_items, set_limits, set_claim); they
    are deleted when the item ends (case_store.end_work_items: eight index entries fewer to keep per
    finished item), so `state` is always 'ready' (kept for the indexes' shape). Which departments an
    item ever had is in WorkItemGroupLink."""

    __tablename__ = "work_item_groups"
    __table_args__ = (
        # The default order, covering the quick filters (unclaimed, warning) that read it.
        Index("ix_work_item_groups_due", "group_code", "state", "due_key", "created_at", "work_item_id",
              "warning_at", "claimed_by"),
        # Warning: past the warning time (a short range: warnings and overdue ones), not yet due.
        Index("ix_work_item_groups_warning", "group_code", "state", "warning_at", "due_key", "work_item_id"),
        Index("ix_work_item_groups_received", "group_code", "state", "created_at", "work_item_id"),
        Index("ix_work_item_groups_case", "group_code", "state", "case_id", "created_at", "work_item_id"),
        Index("ix_work_item_groups_scenario", "group_code", "state", "definition_key", "due_key", "created_at",
              "work_item_id"),
        Index("ix_work_item_groups_priority", "group_code", "state", "priority_key", "due_key", "created_at",
              "work_item_id"),
    )
    work_item_id: Mapped[str] = mapped_column(
        ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True
    )
    group_code: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    # The due time, or NO_DEADLINE: never NULL, so "soonest first, none last" is the index order.
    due_key: Mapped[datetime] = mapped_column(UTCDateTime)
    warning_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    case_id: Mapped[int] = mapped_column(BigId)
    definition_key: Mapped[str] = mapped_column(String(255))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    # Minus the work item's priority: the most urgent first in index order.
    priority_key: Mapped[int] = mapped_column(Integer, server_default=text(str(-DEFAULT_PRIORITY)))


class WorkItemGroupLink(Base):
    """Which departments and roles a work item was for, kept after it ends (insert-only): who may
    look at a case, supervision by department, the audit search by department."""

    __tablename__ = "work_item_group_links"
    __table_args__ = (Index("ix_work_item_group_links_group", "group_code", "case_id"),
                      {"sqlite_with_rowid": False})
    work_item_id: Mapped[str] = mapped_column(TaskId, primary_key=True)
    group_code: Mapped[str] = mapped_column(String(128), primary_key=True)
    case_id: Mapped[int] = mapped_column(BigId)


# The work_item_groups row of every work item, whatever its departments (inboxes of all departments).
EVERY_GROUP = "*"
# work_item_groups.due_key of a work item without a due time: after every real one.
NO_DEADLINE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


class CaseSearchTerm(Base):
    """What a case can be found by besides its number and business key: the names in its forms
    (applicant, enterprise, legal representative...) as typed, and its ID numbers and unified social
    credit codes only as a hash of the normalised value (matched by exact value, never shown)."""

    __tablename__ = "case_search_terms"
    # SQLite keeps the rows in their primary key's b-tree (no rowid table beside it: a term stored
    # twice, not three times; 0025).
    __table_args__ = (Index("ix_case_search_terms_lookup", "kind", "term"), {"sqlite_with_rowid": False})
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # name, id
    term: Mapped[str] = mapped_column(DigestText(255), primary_key=True)  # a hash: 32 bytes on SQLite


class MessageWait(Base):
    """A case waiting for a message by name (projection, rewritten by every command)."""

    __tablename__ = "message_waits"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    message_name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class CorrelationValue(Base):
    """A correlation property value of a case (and its business key), to route messages."""

    __tablename__ = "correlation_values"
    __table_args__ = (Index("ix_correlation_values_lookup", "name", "value"),)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


# The events that end a work item (engine/cases/history.py WORK_ITEM_COMPLETED, WORK_ITEM_CANCELLED).
ITEM_END_TYPES = ("work_item_completed", "work_item_cancelled")
# The WHERE of ix_events_item_ends: the names on PostgreSQL, their codes on SQLite (0028). A query
# uses the index only with the same values as literals in its SQL (supervision_store._ended_in).
ITEM_ENDS_SQL = event_types_sql(ITEM_END_TYPES, "postgresql")
ITEM_ENDS_SQLITE = event_types_sql(ITEM_END_TYPES, "sqlite")


# The prev_hash of the first event of a case.
GENESIS_HASH = "0" * 64
# events.prev_hash of a row that links to the row before it in its case (written since 0025): the link
# is that row's hash (GENESIS_HASH for seq 1), not stored twice; storage/case_store.case_events puts it back.
IMPLICIT_LINK = ""


class Event(Base):
    """Append-only history: one row per thing that happened, chained per case by hash."""

    __tablename__ = "events"
    # uq_events_case_seq also finds a case's events (no index of case_id alone). ix_events_item_ends:
    # the work items ended in a time window (supervision), a partial index of those events only.
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
        Index("ix_events_item_ends", "at", postgresql_where=text(ITEM_ENDS_SQL),
              sqlite_where=text(ITEM_ENDS_SQLITE)),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(EventType)  # a code on SQLite (event_types.py)
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    work_item_id: Mapped[str | None] = mapped_column(TaskId)
    task_spec: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(HexDigest)  # IMPLICIT_LINK, or the link stored before 0025
    hash: Mapped[str] = mapped_column(HexDigest)

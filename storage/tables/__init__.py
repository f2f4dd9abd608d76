"""The database tables, one module per concept. Importing this package imports every table module,
so `Base.metadata` is complete (the migrations and `create_all` rely on it)."""
from yijianshi.storage.tables.base import Base, BigId, UTCDateTime
from yijianshi.storage.tables.definitions import Definition, DefinitionFile
from yijianshi.storage.tables.cases import (
    DEFAULT_PRIORITY,
    EVERY_GROUP,
    GENESIS_HASH,
    IMPLICIT_LINK,
    NO_DEADLINE,
    Case,
    CaseSearchTerm,
    CaseStateBase,
    CaseStateDelta,
    CorrelationValue,
    Event,
    MessageWait,
    WorkItem,
    WorkItemGroup,
    WorkItemGroupLink,
)
from yijianshi.storage.tables.calendar import CalendarClosure, CalendarYear
from yijianshi.storage.tables.deadlines import Deadline, SchedulerLease
from yijianshi.storage.tables.accounts import SignInSession, UserAccount
from yijianshi.storage.tables.materials import Material
from yijianshi.storage.tables.audit import CheckpointMark, ExportJob
from yijianshi.storage.tables.supervision import MeasuredOutcome, WeeklyBulletin
from yijianshi.storage.tables.api_clients import ApiClient, ApiIdempotencyKey
from yijianshi.storage.tables.failures import CommandFailure
from yijianshi.storage.tables.external_tasks import ExternalTask
from yijianshi.storage.tables.organisation import OrgAbsence, OrgDeputy, OrgMembership, OrgUnit
from yijianshi.storage.tables.notifications import Notification, OutboxMessage
from yijianshi.storage.tables.shared_files import AppSecret, StoredFile, StoredFileChunk

__all__ = [
    "DEFAULT_PRIORITY", "EVERY_GROUP", "NO_DEADLINE", "ApiClient", "ApiIdempotencyKey", "AppSecret", "Base", "BigId",
    "CalendarClosure",
    "CalendarYear", "Case", "CaseSearchTerm", "CaseStateBase", "CaseStateDelta", "CheckpointMark", "CommandFailure",
    "CorrelationValue", "Deadline", "Definition", "DefinitionFile", "Event", "ExportJob", "ExternalTask", "Material",
    "MeasuredOutcome", "MessageWait", "Notification", "OrgAbsence", "OrgDeputy", "OrgMembership", "OrgUnit",
    "OutboxMessage",
    "SchedulerLease", "SignInSession", "StoredFile", "StoredFileChunk", "UTCDateTime", "UserAccount", "WeeklyBulletin",
    "WorkItem", "WorkItemGroup", "WorkItemGroupLink",
]

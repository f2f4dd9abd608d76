"""Integration API clients: the department systems and platforms (e.g. the 12345 hotline platform)
that start cases, deliver replies and read cases over the API.

A client authenticates with a bearer token shown once at creation; only its SHA-256 is stored. What
it may do is its scopes; which processes it may touch is its list of process keys (empty: every
process). In the history a client acts as `api:<name>`; it belongs to no department."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from yijianshi.engine.access.actors import CLIENT_PREFIX, Actor
from yijianshi.engine.clock import Clock
from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.storage import api_store
from yijianshi.storage.database import Database

SCOPES: dict[str, str] = {
    "cases:start": "立案（启动流程）",
    "cases:read": "查询案件状态与历史",
    "messages:deliver": "投递部门系统的答复消息",
    "external-tasks:work": "领取并办理外部任务（Camunda 外部任务工作者，/engine-rest）",
    "tasks:work": "代办理人员查询、认领、办理人工任务（Camunda engine-rest）",
}
TOKEN_PREFIX = "yjs_"
ACTOR_PREFIX = CLIENT_PREFIX
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_PROCESS_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,254}")


class ApiClientError(EngineError):
    """A client cannot be created or changed as asked."""


@dataclass(frozen=True)
class ApiClient:
    id: int
    name: str
    scopes: frozenset[str]
    processes: frozenset[str]  # empty: every process
    active: bool
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def actor(self) -> Actor:
        return Actor(ACTOR_PREFIX + self.name, frozenset(), name=f"接口客户端 {self.name}")

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_use(self, process_key: str) -> bool:
        return not self.processes or process_key in self.processes

    @property
    def process_limit(self) -> frozenset[str] | None:
        """The processes this client may reach, or None for every process."""
        return self.processes or None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _client(row) -> ApiClient:
    return ApiClient(row.id, row.name, frozenset(row.scopes.split()),
                     frozenset(p for p in row.processes.split(",") if p), row.active, row.created_at,
                     row.revoked_at)


class ApiClientService:
    def __init__(self, db: Database, clock: Clock | None = None):
        self.db = db
        self.clock = clock or Clock()

    def create(self, name: str, scopes: list[str], processes: list[str] | None = None) -> tuple[ApiClient, str]:
        """Create a client; returns it with its token (shown once: only the hash is kept)."""
        processes = sorted(set(processes or ()))
        problems = []
        if not _NAME.fullmatch(name or ""):
            problems.append("名称须为 1–64 位小写字母、数字、“_”“.”“-”，以字母或数字开头。")
        unknown = sorted(set(scopes) - SCOPES.keys())
        if unknown:
            problems.append(f"未知的权限范围：{'、'.join(unknown)}；可选：{'、'.join(SCOPES)}。")
        if not scopes:
            problems.append(f"至少要授予一个权限范围（{'、'.join(SCOPES)}）。")
        bad = [p for p in processes if not _PROCESS_KEY.fullmatch(p)]
        if bad:
            problems.append(f"流程键无效：{'、'.join(bad)}。")
        if problems:
            raise ApiClientError(" ".join(problems))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.writer.begin() as conn:
            if api_store.client_by_name(conn, name) is not None:
                raise ApiClientError(f"接口客户端“{name}”已存在。")
            api_store.add_client(conn, dict(
                name=name, token_hash=token_hash(token), scopes=" ".join(sorted(set(scopes))),
                processes=",".join(processes), active=True, created_at=self.clock.now(), revoked_at=None))
            row = api_store.client_by_name(conn, name)
        return _client(row), token

    def revoke(self, name: str) -> ApiClient:
        """Deactivate a client: its token is refused from the next request on."""
        with self.db.writer.begin() as conn:
            if not api_store.change_client(conn, name, active=False, revoked_at=self.clock.now()):
                raise NotFound(f"接口客户端“{name}”不存在。")
            return _client(api_store.client_by_name(conn, name))

    def all(self) -> list[ApiClient]:
        with self.db.reader.connect() as conn:
            return [_client(r) for r in api_store.all_clients(conn)]

    def authenticate(self, token: str) -> ApiClient | None:
        """The active client holding this token, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self.db.reader.connect() as conn:
            row = api_store.client_by_token_hash(conn, token_hash(token))
        if row is None or not row.active:
            return None
        return _client(row)

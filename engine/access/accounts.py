"""Who may sign in, with which role, and what that role lets a person see and do.

A role says what kind of user someone is (applicant, front-desk clerk, department clerk, supervisor,
designer, auditor, administrator); the departments of an account are the work-item groups it works
for. `Account.actor` turns an account into the engine's `Actor`. Passwords are stored only as Argon2id
hashes (engine/access/passwords.py) and must pass engine/access/password_rules.py.

Signing in: every attempt on an account is counted before its password is checked, in one
conditional UPDATE that refuses a locked account (storage/account_store.py: count_attempt), so that
however many attempts run at once, at most `lock_after` passwords are tried per lock. A lock is
temporary; each further one without a success in between lasts twice as long, up to a maximum.
Unknown user, wrong password and locked account are refused with the same sentence, after a
password check of the same cost. A sign-in opens a server-side session (sign_in_sessions), which
signing out, a password change (the other sessions) and disabling the account end."""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from yijianshi.engine.scripting.foreground_gate import foreground_work
from yijianshi.engine.access.actors import APPLICANT_ROLE, Actor
from yijianshi.engine.access.demo_accounts import DEMO_ACCOUNTS, DemoAccount
from yijianshi.engine.access.organisation import groups_of
from yijianshi.engine.clock import Clock, to_utc
from yijianshi.engine.access.password_rules import DEFAULT_MIN_SCORE, password_problems
from yijianshi.engine.access.passwords import ARGON2, PasswordHasher
from yijianshi.engine.errors import EngineError, NotFound
from yijianshi.engine.modeling.registry import shipped_registry
from yijianshi.engine.settings import Settings
from yijianshi.storage import account_store, session_store
from yijianshi.storage.database import Database

# One sentence for an unknown user name, a wrong password and a locked account: which of them it
# was is not said (a locked account would tell that the user exists).
REFUSED = "用户名或密码不正确，或登录尝试过多已被暂时限制。请稍后再试；如忘记密码，请联系系统管理员。"
_USERNAME_RE = re.compile(r"[a-z][a-z0-9_.-]{1,63}")


@dataclass(frozen=True)
class Role:
    code: str
    label: str
    applicant: bool = False  # applies for services; sees only his own cases
    clerk: bool = False  # works an inbox for his departments
    oversees: bool = False  # reads every case and inbox (supervision, audit, administration)
    sees_personal_data: bool = False  # ID and phone numbers unmasked (数据脱敏 otherwise)
    needs_departments: bool = False
    # Reads process sources as deployed (scripts, conditions) and the full text of script errors;
    # everyone else sees diagrams without them (engine/modeling/drawing_copy.py).
    reads_sources: bool = False


ROLES: dict[str, Role] = {r.code: r for r in (
    Role("citizen", "申请人（个人）", applicant=True),
    Role("enterprise", "申请人（企业）", applicant=True),
    # The front desk checks identity documents at acceptance, so it sees them in full.
    Role("front_desk", "综合窗口工作人员", clerk=True, sees_personal_data=True),
    Role("dept_clerk", "部门审批人员", clerk=True, needs_departments=True),
    Role("supervisor", "督查人员", oversees=True),
    Role("designer", "流程设计人员", reads_sources=True),
    Role("auditor", "审计人员", oversees=True, reads_sources=True),
    Role("admin", "系统管理员", oversees=True, sees_personal_data=True, reads_sources=True),
)}

FRONT_DESK = "front_desk"

# Display names of the department and role codes used in candidate groups and lanes: the registry of
# the shipped processes (processes/registry.json) is their one source.
DEPARTMENTS: dict[str, str] = {code: shipped_registry().name(code)
                               for code in shipped_registry().codes("department") + shipped_registry().codes("role")}


def department_label(code: str) -> str:
    return DEPARTMENTS.get(code, code)


def assignable_departments() -> dict[str, str]:
    """The departments and roles an account may work for (every registered one but the applicant's,
    which an applicant account has by its role), code -> name."""
    return {code: name for code, name in DEPARTMENTS.items() if code != APPLICANT_ROLE}


class AccountError(EngineError):
    """An account cannot be created or changed as asked; the message says why."""


class SignInRefused(EngineError):
    """Wrong user name or password, a disabled account, or one locked after repeated failures."""


@dataclass(frozen=True)
class SignInPolicy:
    """How many attempts an account gets before a lock, how long locks last, how strong a new
    password must be, how long a session lasts."""

    lock_after: int = 5
    lock_seconds: int = 300
    lock_max_seconds: int = 1800
    min_score: int = DEFAULT_MIN_SCORE
    session_seconds: int = 8 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        return cls(lock_after=settings.login_lock_after, lock_seconds=settings.login_lock_seconds,
                   lock_max_seconds=settings.login_lock_max_seconds, min_score=settings.password_min_score,
                   session_seconds=settings.session_lifetime_seconds)

    def lock_lengths(self) -> list[timedelta]:
        """The first lock's length, then each doubled, up to and including the maximum."""
        lengths = [timedelta(seconds=min(self.lock_seconds, self.lock_max_seconds))]
        while lengths[-1].total_seconds() < self.lock_max_seconds:
            lengths.append(min(lengths[-1] * 2, timedelta(seconds=self.lock_max_seconds)))
        return lengths


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: Role
    departments: tuple[str, ...]
    active: bool
    password_hash: str
    # The organisation's `unit:<code>` groups of the day he was read (engine/access/organisation.py).
    unit_groups: frozenset[str] = frozenset()

    @property
    def actor(self) -> Actor:
        """The engine identity: applicants act in the applicant role, clerks for their departments
        and their units (and everyone on the work items naming him: Actor.may_work_on)."""
        groups = set(self.departments) | self.unit_groups
        if self.role.applicant:
            groups.add(APPLICANT_ROLE)
        if self.role.code == FRONT_DESK:
            groups.add(FRONT_DESK)
        return Actor(self.username, frozenset(groups), self.display_name, is_admin=self.role.code == "admin")



@dataclass(frozen=True)
class AccountStatus:
    """An account as administrators list it."""

    account: Account
    last_login_at: datetime | None
    locked_until: datetime | None  # None unless locked now


@dataclass(frozen=True)
class SeededAccount:
    demo: DemoAccount
    created: bool
    password_valid: bool  # False when someone changed the demo password since


class AccountService:
    """Creating accounts, signing in (with a lock after repeated failures), sessions, changing
    passwords."""

    def __init__(self, db: Database, clock: Clock | None = None, *, password_method: str = ARGON2,
                 policy: SignInPolicy | None = None):
        self.db = db
        self.clock = clock or Clock()
        self.hasher = PasswordHasher(password_method)
        self.policy = policy or SignInPolicy()
        # Sessions last by the wall clock, like the cookie that carries them (tests move self.clock
        # through days of deadlines without signing anyone out).
        self.session_clock = Clock()

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """Compared against when the user name is unknown or the account locked, so that every
        refusal takes the time of a password check. Made when first needed: a command that signs
        nobody in does not pay for a hash."""
        return self.hasher.hash(secrets.token_hex(16))

    def create(self, username: str, password: str, display_name: str, role: str,
               departments: tuple[str, ...] | list[str] = ()) -> Account:
        """Create an account; AccountError with a sentence if anything is unacceptable."""
        username = username.strip().lower()
        departments = tuple(dict.fromkeys(d.strip() for d in departments if d.strip()))
        problems = []
        if not _USERNAME_RE.fullmatch(username):
            problems.append("用户名须以小写字母开头，只含小写字母、数字、下划线、点或连字符（2–64 个字符）。")
        if role not in ROLES:
            problems.append(f"角色“{role}”不存在，可选：{'、'.join(ROLES)}。")
        elif ROLES[role].needs_departments and not departments:
            problems.append("部门审批人员必须至少属于一个部门。")
        problems.extend(_department_problems(departments))
        if not display_name.strip():
            problems.append("请填写姓名或单位名称。")
        problems.extend(password_problems(password, min_score=self.policy.min_score))
        if problems:
            raise AccountError("".join(problems))
        values = dict(username=username, display_name=display_name.strip()[:100], role=role,
                      departments=",".join(departments), password_hash=self._hash(password), active=True,
                      created_at=to_utc(self.clock.now()), last_login_at=None, failed_logins=0,
                      locked_until=None, lockouts=0)
        try:
            with self.db.writer.begin() as conn:
                if account_store.get(conn, username) is not None:
                    raise AccountError(f"用户名“{username}”已被使用。")
                account_store.add(conn, values)
        except IntegrityError as err:  # created at the same moment by another process
            raise AccountError(f"用户名“{username}”已被使用。") from err
        return _account(values)

    def get(self, username: str) -> Account | None:
        with self.db.reader.connect() as conn:
            row = account_store.get(conn, username)
            if row is None:
                return None
            return _account(row._mapping, groups_of(conn, username, self.clock.now().date()))

    @foreground_work  # long scripts elsewhere pause while someone signs in
    def authenticate(self, username: str, password: str) -> Account:
        """The account if the password is right; SignInRefused otherwise, with the same sentence
        whether the user name was unknown, the password wrong or the account locked. A hash of an
        older method or cost is replaced by a current one."""
        username = (username or "").strip().lower()[:64]
        password = password or ""
        now = to_utc(self.clock.now())
        ends = [now + length for length in self.policy.lock_lengths()]
        with self.db.writer.begin() as conn:  # committed before the (slow) password check
            row = account_store.count_attempt(conn, username, now, self.policy.lock_after, ends)
        if row is None:  # no such account, or locked: nothing is tried, but it takes as long
            self.hasher.verify(self._dummy_hash, password)
            raise SignInRefused(REFUSED)
        if not self.hasher.verify(row.password_hash, password):
            raise SignInRefused(REFUSED)
        if not row.active:
            raise SignInRefused("该账号已停用，请联系系统管理员。")
        new_hash = self._hash(password) if self.hasher.needs_rehash(row.password_hash) else None
        with self.db.writer.begin() as conn:
            account_store.record_success(conn, username, now, new_hash)
            current = account_store.get(conn, username)
            return _account(current._mapping, groups_of(conn, username, self.clock.now().date()))

    # -- sessions ----------------------------------------------------------------------------

    def start_session(self, username: str) -> str:
        """A new session of a signed-in account; returns its id (for the cookie, never stored)."""
        token = secrets.token_urlsafe(32)
        now = to_utc(self.session_clock.now())
        with self.db.writer.begin() as conn:
            session_store.remove_expired(conn, now)
            session_store.add(conn, _digest(token), username, now,
                              now + timedelta(seconds=self.policy.session_seconds))
        return token

    def session_user(self, token: str) -> str | None:
        """The user name of a live session (None: ended, expired or never started)."""
        if not token:
            return None
        with self.db.reader.connect() as conn:
            return session_store.username_of(conn, _digest(token), to_utc(self.session_clock.now()))

    def end_session(self, token: str) -> None:
        if token:
            with self.db.writer.begin() as conn:
                session_store.remove(conn, _digest(token))

    def end_sessions(self, username: str, *, keep: str | None = None) -> int:
        """End every session of an account but `keep` (a session id); returns how many ended."""
        with self.db.writer.begin() as conn:
            return session_store.remove_of(conn, username, keep=_digest(keep) if keep else None)

    def change_password(self, username: str, old_password: str, new_password: str, *,
                        session: str | None = None) -> Account:
        """Change the password after checking the old one; every session of the account but
        `session` (the one asking) ends."""
        with self.db.reader.connect() as conn:
            row = account_store.get(conn, username)
        if row is None:
            raise NotFound("账号不存在。")
        if not self.hasher.verify(row.password_hash, old_password or ""):
            raise AccountError("原密码不正确。")
        problems = password_problems(new_password, min_score=self.policy.min_score)
        if new_password == old_password:
            problems.append("新密码不能与原密码相同。")
        if problems:
            raise AccountError("".join(problems))
        new_hash = self._hash(new_password)
        with self.db.writer.begin() as conn:
            account_store.change(conn, username, password_hash=new_hash)
            session_store.remove_of(conn, username, keep=_digest(session) if session else None)
        return _account({**row._mapping, "password_hash": new_hash})

    # -- administration ----------------------------------------------------------------------

    def listing(self) -> list[AccountStatus]:
        """Every account, by role and user name, with whether it is locked now."""
        now = to_utc(self.clock.now())
        with self.db.reader.connect() as conn:
            rows = account_store.all_accounts(conn)
        return [AccountStatus(_account(r._mapping), r.last_login_at,
                              r.locked_until if r.locked_until is not None and r.locked_until > now else None)
                for r in rows]

    def set_active(self, username: str, active: bool, *, by: str) -> Account:
        """Disable (or enable again) an account; a disabled account cannot sign in and its sessions end.
        Nobody disables his own account (there would be no administrator left to undo it)."""
        if not active and username == by:
            raise AccountError("不能停用自己正在使用的账号。")
        account = self._change(username, active=active)
        if not active:
            self.end_sessions(username)
        return account

    def set_role(self, username: str, role: str, departments: tuple[str, ...] | list[str]) -> Account:
        """Give an account another role and departments, checked like a new account's."""
        departments = tuple(dict.fromkeys(d.strip() for d in departments if d.strip()))
        problems = []
        if role not in ROLES:
            problems.append(f"角色“{role}”不存在，可选：{'、'.join(ROLES)}。")
        elif ROLES[role].needs_departments and not departments:
            problems.append("部门审批人员必须至少属于一个部门。")
        problems.extend(_department_problems(departments))
        if problems:
            raise AccountError("".join(problems))
        return self._change(username, role=role, departments=",".join(departments))

    def unlock(self, username: str) -> Account:
        """Lift a lock after repeated failed sign-ins (before its minutes are up)."""
        return self._change(username, failed_logins=0, locked_until=None, lockouts=0)

    def _change(self, username: str, **values) -> Account:
        with self.db.writer.begin() as conn:
            if account_store.get(conn, username) is None:
                raise NotFound(f"账号“{username}”不存在。")
            account_store.change(conn, username, **values)
            return _account(account_store.get(conn, username)._mapping)

    def seed_demo(self, accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS) -> list[SeededAccount]:
        """Create the demo accounts that do not exist yet; never overwrite an existing one."""
        seeded = []
        for demo in accounts:
            existing = self.get(demo.username)
            if existing is None:
                try:
                    self.create(demo.username, demo.password, demo.display_name, demo.role, demo.departments)
                    seeded.append(SeededAccount(demo, True, True))
                    continue
                except AccountError:
                    existing = self.get(demo.username)  # created concurrently by another process
                    if existing is None:
                        raise
            seeded.append(SeededAccount(demo, False, self.hasher.verify(existing.password_hash, demo.password)))
        return seeded

    def _hash(self, password: str) -> str:
        return self.hasher.hash(password)


def seeded_lines(seeded: list[SeededAccount]) -> list[str]:
    """One printable line per demo account: user name, password, role, departments, name."""
    lines = []
    for s in seeded:
        d = s.demo
        departments = "、".join(department_label(code) for code in d.departments) or "-"
        note = "（新建）" if s.created else "" if s.password_valid else "（密码已被修改，上面的密码无效）"
        lines.append(f"  {d.username:<10} {d.password:<16} {ROLES[d.role].label:<10} {departments:<8} "
                     f"{d.display_name}{note}")
    return lines


def _department_problems(departments: tuple[str, ...]) -> list[str]:
    unknown = [d for d in departments if d not in assignable_departments()]
    return [f"部门代码未在登记表（processes/registry.json）中登记：{'、'.join(unknown)}。"] if unknown else []


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _account(values, unit_groups: frozenset[str] = frozenset()) -> Account:
    return Account(unit_groups=unit_groups, username=values["username"], display_name=values["display_name"],
                   role=ROLES.get(values["role"], ROLES["citizen"]),
                   departments=tuple(d for d in (values["departments"] or "").split(",") if d),
                   active=bool(values["active"]), password_hash=values["password_hash"])


def account_from_row(row) -> Account:
    """An account from a user_accounts row (for callers that read the row themselves)."""
    return _account(row._mapping)

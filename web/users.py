"""The signed-in person as Flask-Login sees it, and how a session finds its account again.

The Flask-Login cookie carries the id of a server-side session (engine/access/accounts.py: sessions),
looked up on every request: signing out, a password change (the other sessions) or disabling the
account ends it at once, and a cookie replayed afterwards finds no session. Accounts are kept per
worker for a few seconds so a busy clerk's requests do not each read the accounts table."""
from __future__ import annotations

import threading
import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin

from yijianshi.engine.access.accounts import Account
from yijianshi.engine.access.work_item_access import may_give_back
from yijianshi.web.services import services


class SignedInUser(UserMixin):
    def __init__(self, account: Account, session_id: str):
        self.account = account
        self.session_id = session_id
        self.actor = account.actor
        self.role = account.role

    def get_id(self) -> str:
        return self.session_id

    @property
    def is_active(self) -> bool:
        return self.account.active

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def name(self) -> str:
        return self.account.display_name

    @property
    def groups(self) -> frozenset[str]:
        return self.actor.groups

    @property
    def is_applicant(self) -> bool:
        return self.role.applicant

    @property
    def is_clerk(self) -> bool:
        return self.role.clerk

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin

    @property
    def oversees(self) -> bool:
        return self.role.oversees

    @property
    def uses_inbox(self) -> bool:
        return self.role.clerk or self.role.oversees

    def may_give_back(self, item) -> bool:
        """Whether the page offers to return this claimed work item to the common queue."""
        return may_give_back(item, self.actor)


class AccountCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Account]] = {}
        self._lock = threading.Lock()

    def get(self, username: str, ttl: float) -> Account | None:
        now = time.monotonic()
        entry = self._items.get(username)
        if entry is not None and entry[0] > now:
            return entry[1]
        account = services().accounts.get(username)
        if account is not None and ttl > 0:
            with self._lock:
                if len(self._items) > 10_000:
                    self._items.clear()
                self._items[username] = (now + ttl, account)
        return account

    def forget(self, username: str) -> None:
        with self._lock:
            self._items.pop(username, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def init_login(app) -> None:
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.login_message = _l("请先登录。")
    manager.login_message_category = "info"
    manager.session_protection = "basic"
    cache = AccountCache()
    app.extensions["yijianshi.accounts_cache"] = cache

    @manager.user_loader
    def load(session_id: str) -> SignedInUser | None:
        username = services().accounts.session_user(session_id)
        if username is None:
            return None
        account = cache.get(username, current_app.config["ACCOUNT_CACHE_SECONDS"])
        if account is None or not account.active:
            return None
        return SignedInUser(account, session_id)

    manager.init_app(app)

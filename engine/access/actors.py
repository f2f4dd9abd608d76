"""Who issues a command: a person with departments and roles, or the system itself."""
from __future__ import annotations

from dataclasses import dataclass, field

APPLICANT_ROLE = "applicant"  # the group of the applicant's own steps (一表申请, 补正, 评价)
# A work item's group entry naming one person (camunda:candidateUsers, camunda:assignee): "user:zhangsan".
USER_PREFIX = "user:"


def personal_group(username: str) -> str:
    """The group entry of a work item that names this user."""
    return USER_PREFIX + username


def user_of(group: str) -> str | None:
    """The user name a group entry names, or None for a department or role."""
    return group[len(USER_PREFIX):] if group.startswith(USER_PREFIX) else None


@dataclass(frozen=True)
class Actor:
    id: str
    groups: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    is_admin: bool = False

    @property
    def label(self) -> str:
        return self.name or self.id

    def may_work_on(self, groups: tuple[str, ...] | list[str]) -> bool:
        """A work item is open to members of any of its departments/roles, to the users it names
        (candidate users, the assignee) and to administrators."""
        return self.is_admin or bool(self.groups.intersection(groups)) or personal_group(self.id) in groups


SYSTEM = Actor(id="system", name="系统", is_admin=True)
CLIENT_PREFIX = "api:"  # how an integration client acts (engine/access/api_clients.py)


def is_person(actor: Actor) -> bool:
    """Whether a person issues the command (not the system, not an integration client)."""
    return actor.id != SYSTEM.id and not actor.id.startswith(CLIENT_PREFIX)

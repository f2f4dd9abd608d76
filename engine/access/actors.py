"""Who issues a command: a person with departments and roles, or the system itself."""
from __future__ import annotations

from dataclasses import dataclass, field

APPLICANT_ROLE = "applicant"  # the group of the applicant's own steps (一表申请, 补正, 评价)


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
        """A work item is open to members of any of its departments/roles (and to administrators)."""
        return self.is_admin or bool(self.groups.intersection(groups))


SYSTEM = Actor(id="system", name="系统", is_admin=True)

"""系统管理: administrators' pages. Accounts (create, disable, role and departments, unlock) in
accounts.py; cases (stuck cases with retry and cancel, cancelling any case with a reason) in cases.py;
version migration of running cases in migrations.py; the organisation (units, memberships, deputies,
absences) in organisation.py; the notification outbox (failed deliveries queued again) in outbox.py.
One blueprint (blueprint.py), for administrators only."""
from __future__ import annotations

from yijianshi.web.admin import accounts, cases, migrations, organisation, outbox  # noqa: F401  (their routes join the blueprint)
from yijianshi.web.admin.blueprint import administrators, bp

__all__ = ["administrators", "bp"]

"""Who may see what. Every page that shows a case or a work item asks here; a refusal is a 403
page, never a traceback. The engine enforces the same rules again when a command runs."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app
from flask_login import current_user, login_required

from yijianshi.engine.access import work_item_access
from yijianshi.engine.access.actors import APPLICANT_ROLE, personal_group
from yijianshi.engine.access.work_item_access import item_groups
from yijianshi.storage import inbox_store
from yijianshi.engine.modeling.personal_fields import personal_kind
from yijianshi.web.masking import Masker


def audience(check):
    """Route decorator: signed in, and `check(current_user)` true, else 403."""
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


applicants = audience(lambda u: u.is_applicant)
# Process sources as deployed (scripts included): designers, auditors and administrators.
source_readers = audience(lambda u: u.role.reads_sources)
inbox_users = audience(lambda u: u.uses_inbox)


def can_view_case(conn, user, case_row) -> bool:
    """The applicant sees his own cases; clerks the cases their departments worked on or that named
    them (candidate user, assignee); supervisors, auditors and administrators every case."""
    if user.oversees or user.is_admin:
        return True
    if user.is_applicant:
        return case_row.started_by == user.username
    if user.is_clerk:
        return bool(inbox_store.case_groups(conn, case_row.id) & (user.groups | {personal_group(user.username)}))
    return False


def can_view_item(user, item) -> bool:
    """A work item page: its departments' clerks, the applicant for his own steps, overseers."""
    if user.oversees or user.is_admin:
        return True
    groups = item_groups(item.groups)
    if APPLICANT_ROLE in groups:
        return user.is_applicant and item.started_by == user.username
    if personal_group(user.username) in groups:  # a candidate user or the assignee
        return True
    return user.is_clerk and bool(user.groups.intersection(groups))


def may_act(user, item) -> bool:
    """Whether the page offers the form and buttons: the engine's rule of who may act on a work item
    (engine/access/work_item_access.py), which it applies again when the command runs."""
    return work_item_access.may_act(item, user.actor, item.started_by)


def masker_for(user, case_row) -> Masker:
    """Unmasked for the applicant on his own case, roles that need personal data, and the departments
    configured in PERSONAL_DATA_GROUPS (the front desk checks identity documents)."""
    if user.is_applicant and case_row.started_by == user.username:
        return Masker(False)
    if user.role.sees_personal_data:
        return Masker(False)
    if user.groups.intersection(current_app.config["PERSONAL_DATA_GROUPS"]):
        return Masker(False)
    return Masker(True)


def withheld_fields(masker: Masker, bpmn_form) -> frozenset[str]:
    """Personal fields of a form that this viewer sees masked: shown read-only, never sent back."""
    if not masker.enabled or bpmn_form is None:
        return frozenset()
    return frozenset(f.id for f in bpmn_form.fields if personal_kind(f.id))


def require(condition: bool) -> None:
    if not condition:
        abort(403)

"""Submitting a work item from a page: the same steps for an applicant's step and a clerk's.

Order matters so that a refusal leaves nothing behind: the form is validated by the engine's rules
first, then every upload is checked and staged, then the files are stored and the work item is
completed with them attached in one transaction (a refused completion attaches nothing and removes
the files it stored)."""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, request
from flask_login import current_user

from yijianshi.engine.cases.context import CaseSummary
from yijianshi.engine.errors import FormErrors, ProcessFailed
from yijianshi.engine.modeling.forms import Form, validate_submission
from yijianshi.engine.cases.materials import MaterialRefused, Upload
from yijianshi.web.bpmn_forms import TaskForm
from yijianshi.web.failure_text import failure_text
from yijianshi.web.services import services

UPLOAD_FIELD = "materials"


@dataclass
class Outcome:
    summary: CaseSummary | None = None
    upload_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.summary is not None


def uploads() -> list[Upload]:
    return [Upload(f.filename, f.stream) for f in request.files.getlist(UPLOAD_FIELD) if f and f.filename]


def check(bpmn_form: Form | None, task_form: TaskForm | None) -> tuple[dict | None, Outcome | None]:
    """Validate the typed values as the engine will; (submission, None) or (None, failed outcome)."""
    if bpmn_form is None or task_form is None:
        return {}, None
    submission = task_form.submission()
    try:
        validate_submission(bpmn_form, submission)
    except FormErrors as err:
        task_form.show_errors(err.errors)
        return None, Outcome()
    return submission, None


def stage_uploads():
    """(staged files, None) or (None, failed outcome with the reason)."""
    try:
        return services().materials.stage(uploads()), None
    except MaterialRefused as err:
        return None, Outcome(upload_error=str(err))


def submit(work_item_id: str, bpmn_form: Form | None, task_form: TaskForm | None, actor) -> Outcome:
    """Validate, keep the uploads, complete the work item. Engine refusals (NotPermitted,
    WorkItemUnavailable) propagate to the caller; a failure of the process itself (a script) is
    flashed, told as web/failure_text.py says, and the page shown again."""
    submission, failed = check(bpmn_form, task_form)
    if failed is not None:
        return failed
    staged, failed = stage_uploads()
    if failed is not None:
        return failed
    svc = services()
    published = svc.materials.publish(staged)
    try:
        summary = svc.engine.cases.complete_work_item(work_item_id, submission, actor, materials=published.materials)
    except BaseException as err:
        svc.materials.forget(published)  # nothing was attached: the completion and the files are one
        if isinstance(err, FormErrors):  # the rules changed under us; the page shows why
            if task_form is not None:
                task_form.show_errors(err.errors)
            return Outcome()
        if isinstance(err, ProcessFailed):
            flash(failure_text(err, current_user), "warning")
            return Outcome()
        raise
    return Outcome(summary=summary)

"""What a person is told when a command failed because the process itself failed (ProcessFailed: a
script or expression error, whose message may quote the script). Those who may read process
sources (designers, auditors, administrators) get the message; everyone else, applicants and API
clients included, is told that a step failed, with a reference number that is logged with the full
message so that an administrator can find it. Refusals (form errors, permissions, ...) are told as
they are."""
from __future__ import annotations

import logging
import secrets

from yijianshi.engine.errors import ProcessFailed
from yijianshi.web.i18n import gettext as _

log = logging.getLogger("yijianshi.web.failures")


def new_reference() -> str:
    return secrets.token_hex(4).upper()


def failure_text(err: BaseException, user=None) -> str:
    """The sentence for `user` (None: an API client, told the short form)."""
    if not isinstance(err, ProcessFailed):
        return str(err)
    reference = new_reference()
    log.warning("process failure, reference %s, for %s: %s", reference,
                getattr(user, "username", None) or "api", err)
    role = getattr(user, "role", None)
    if role is not None and role.reads_sources:
        return _("%(why)s（参考编号 %(ref)s）", why=str(err), ref=reference)
    return _("办理环节执行出错，未能完成（参考编号 %(ref)s）。请稍后重试；如一直出现，请将参考编号告知系统管理员。",
             ref=reference)

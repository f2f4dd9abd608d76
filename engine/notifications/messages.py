"""The texts of notifications (简体中文), one per kind, and the kinds each audience gets: applicants
are told of a supplement request (一次告知), acceptance, the result and a rating request; clerks of new
work, warning and overdue; the 12345 hotline platform of the answer and the final result."""
from __future__ import annotations

import json

SUPPLEMENT = "supplement"
ACCEPTED = "accepted"
RESULT = "result"
RATING = "rating"
NEW_WORK = "new_work"
WARNING = "warning"
OVERDUE = "overdue"
HOTLINE_ANSWER = "hotline_answer"
HOTLINE_RESULT = "hotline_result"
REVISIT_WATCH = "revisit_watch"
REVISIT_TIMEOUT = "revisit_timeout"
APPLICANT_KINDS = frozenset({SUPPLEMENT, ACCEPTED, RESULT, RATING})

KIND_LABELS = {
    SUPPLEMENT: "一次告知", ACCEPTED: "已受理", RESULT: "办理结果", RATING: "评价邀请", NEW_WORK: "新待办",
    WARNING: "预警", OVERDUE: "超期", HOTLINE_ANSWER: "12345 答复", HOTLINE_RESULT: "12345 办结",
    REVISIT_WATCH: "12345 回访等待", REVISIT_TIMEOUT: "12345 回访超时",
}
STATE_LABELS = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败", "cancelled": "已取消"}


def applicant_text(kind: str, title: str, step: str = "", outcome: str = "") -> tuple[str, str]:
    """(subject, body) of a message to the applicant about the case `title`."""
    if kind == SUPPLEMENT:
        return (f"【一次告知】{title}：请补正材料",
                f"您的办件“{title}”需要您办理“{step}”。请登录后一次性补齐所需材料和信息。")
    if kind == ACCEPTED:
        return f"【已受理】{title}", f"您的办件“{title}”已受理，正在办理中。"
    if kind == RATING:
        return f"【评价邀请】{title}", f"您的办件“{title}”已办结，欢迎对办理过程和结果作出评价（好差评）。"
    return f"【办理结果】{title}", f"您的办件“{title}”{outcome or '已办结'}。"


def clerk_text(kind: str, title: str, step: str) -> tuple[str, str]:
    """(subject, body) of an in-app notification to the clerks of a work item."""
    if kind == WARNING:
        return f"【预警】{step}", f"办件“{title}”的事项“{step}”即将到期，请抓紧办理。"
    if kind == OVERDUE:
        return f"【超期】{step}", f"办件“{title}”的事项“{step}”已超过办理时限。"
    if kind == REVISIT_TIMEOUT:
        return (f"【回访超时】{title}",
                f"12345 工单“{step}”答复后，热线平台未在规定的工作日内反馈回访结果，请跟进。")
    return f"【新待办】{step}", f"办件“{title}”有新的待办事项“{step}”。"


# Since 0025 an in-app, e-mail or SMS row of these texts is queued without them: subject '' and
# payload_json the few words they are made of ({"step": ..., "outcome": ...}, empty ones left out,
# and "to": "applicant" for applicant_text); the dispatcher writes them out when it delivers
# (texts_of) with the case's title. Rows queued with their texts keep them.
def lean_payload(step: str = "", outcome: str = "", *, applicant: bool = False) -> str:
    words = {"to": "applicant"} if applicant else {}
    words.update({k: v for k, v in (("step", step), ("outcome", outcome)) if v})
    return json.dumps(words, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def is_lean(subject: str, payload_json: str | None) -> bool:
    return subject == "" and payload_json is not None and payload_json.startswith("{")


def texts_of(kind: str, payload_json: str, title: str) -> tuple[str, str]:
    """(subject, body) of a row queued by lean_payload, for the case `title`."""
    words = json.loads(payload_json)
    if words.get("to") == "applicant":
        return applicant_text(kind, title, words.get("step", ""), words.get("outcome", ""))
    return clerk_text(kind, title, words.get("step", ""))

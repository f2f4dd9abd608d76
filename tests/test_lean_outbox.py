"""An outbox row of a clerk's or applicant's notice keeps only the words its text is made of (since
0025); the dispatcher writes the text out for the case's title when it delivers. A row queued with
its text (before the upgrade) is delivered with that text."""
from __future__ import annotations

import json

from sqlalchemy import insert, update

from yijianshi.storage import notification_store
from yijianshi.storage.tables import OutboxMessage
from tests.test_notifications import DESK, _configure, _rows, _through_review, setup_accounts


def test_notices_are_queued_lean_and_written_out_when_delivered(engine, tmp_path):
    setup_accounts(engine, tmp_path)
    dispatcher = _configure(engine, tmp_path)
    case, review = _through_review(engine)
    engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
    (new_work,) = _rows(engine, kind="new_work")
    assert (new_work.subject, new_work.body) == ("", "")
    step = json.loads(new_work.payload_json)["step"]
    assert new_work.payload_json == json.dumps({"step": step}, ensure_ascii=False, separators=(",", ":"))
    (accepted,) = _rows(engine, kind="accepted")
    assert (accepted.subject, accepted.body, json.loads(accepted.payload_json)) == ("", "", {"to": "applicant"})
    # one row as queued before 0025: with its texts, and no words
    t = OutboxMessage.__table__
    with engine.db.writer.begin() as conn:
        conn.execute(insert(t).values(channel="inapp", kind="new_work", case_id=case.id, recipient="front_desk",
                                      subject="【新待办】旧的行", body="升级前排队的通知。", payload_json=None,
                                      dedupe_key=None, state="pending", attempts=0,
                                      next_attempt_at=new_work.next_attempt_at, created_at=new_work.created_at))
    assert dispatcher.run_once().failed == 0
    assert {r.state for r in _rows(engine)} == {"sent"}
    with engine.db.reader.connect() as conn:
        desk = {n.title: n.body for n in notification_store.of_user(conn, "desk")}
        zhang = {n.title: n.body for n in notification_store.of_user(conn, "zhang")}
    assert desk == {f"【新待办】{step}": f"办件“通知测试事项”有新的待办事项“{step}”。", "【新待办】旧的行": "升级前排队的通知。"}
    assert zhang["【已受理】通知测试事项"] == "您的办件“通知测试事项”已受理，正在办理中。"

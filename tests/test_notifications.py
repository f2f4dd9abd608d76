"""Notifications: outbox rows written in the case command's own transaction (none when it fails),
delivered by the dispatcher in-app, by e-mail to a real local SMTP server and by SMS to a local HTTP
gateway, with retries, a visible failed state and re-queueing; claims that two dispatchers never
share. On SQLite and PostgreSQL."""
from __future__ import annotations

import email
import json
import time
import email.policy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.errors import ScriptError
from yijianshi.engine.notifications import setup
from yijianshi.engine.notifications.dispatcher import Dispatcher
from yijianshi.engine.settings import Settings
from yijianshi.storage import notification_store, outbox_store
from yijianshi.storage.tables import OutboxMessage
from tests.conftest import FIXTURES, deploy_fixtures
from tests.notify_support import HttpReceiver, SmtpInbox

ZHANG = Actor("zhang", frozenset({"applicant"}), name="张三")
DESK = Actor("desk", frozenset({"front_desk"}), name="窗口 邓")
CONTACT = {"contact_email": "zhang@example.org", "contact_phone": "13912345678"}


def _rows(engine, **where) -> list:
    t = OutboxMessage.__table__
    q = select(t).order_by(t.c.id)
    for k, v in where.items():
        q = q.where(getattr(t.c, k) == v)
    with engine.db.reader.connect() as conn:
        return list(conn.execute(q))


def _count(engine) -> int:
    with engine.db.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(OutboxMessage.__table__)).scalar_one()


def _configure(engine, tmp_path, **fields) -> Dispatcher:
    settings = Settings.at(tmp_path, notify_backoff_seconds=60, **fields)
    setup.configure(engine.cases.runner.notices, settings)
    return setup.dispatcher(engine, settings)


def _through_review(engine):
    deploy_fixtures(engine, "notify.bpmn")
    case = engine.cases.start_case("notify", {}, ZHANG)
    applied = engine.cases.complete_work_item(case.ready[0].id, CONTACT, ZHANG)
    return case, applied.ready[0].id


def test_commands_queue_their_notifications(engine, tmp_path):
    _configure(engine, tmp_path)  # in-app only: no SMTP server, no SMS gateway configured
    case, review = _through_review(engine)
    assert [(r.kind, r.channel, r.recipient) for r in _rows(engine)] == [("new_work", "inapp", "front_desk")]
    supplement = engine.cases.complete_work_item(review, {"boom": "false"}, DESK).ready[0].id
    kinds = [(r.kind, r.recipient) for r in _rows(engine)][1:]
    assert kinds == [("accepted", "user:zhang"), ("supplement", "user:zhang")]
    decide = engine.cases.complete_work_item(supplement, {}, ZHANG).ready[0].id
    rate = engine.cases.complete_work_item(decide, {}, DESK).ready[0].id
    engine.cases.complete_work_item(rate, {}, ZHANG)
    kinds = [r.kind for r in _rows(engine, case_id=case.id)]
    # one acceptance per case (the second clerk step is no new acceptance); the rating step and the end
    assert kinds.count("accepted") == 1
    assert kinds[-3:] == ["rating", "result", "rating"]
    assert all(r.state == "pending" for r in _rows(engine))


def test_a_failed_command_leaves_no_outbox_row(engine, tmp_path):
    _configure(engine, tmp_path)
    _, review = _through_review(engine)
    before = _count(engine)
    with pytest.raises(ScriptError):
        engine.cases.complete_work_item(review, {"boom": "true"}, DESK)
    assert _count(engine) == before
    engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
    assert _count(engine) == before + 2


def test_a_transaction_that_rolls_back_takes_its_outbox_rows_along(engine, tmp_path):
    """The rows are written by the command's write transaction itself: when it fails after they
    were written (here in `within`, the last step before the commit), they go too."""
    _configure(engine, tmp_path)
    deploy_fixtures(engine, "notify.bpmn")
    seen = []

    def fail(conn, summary):
        seen.append(conn.execute(select(func.count()).select_from(OutboxMessage.__table__)).scalar_one())
        raise RuntimeError("the commit never comes")

    with pytest.raises(RuntimeError):
        engine.cases.start_case("notify", {}, DESK, start_form=CONTACT, within=fail)
    assert seen == [1] and _count(engine) == 0  # the desk's new work was written, then rolled back


def test_email_and_sms_reach_local_servers(engine, tmp_path):
    accounts = setup_accounts(engine, tmp_path)  # (its System configures the channels its own way first)
    with SmtpInbox() as smtp, HttpReceiver() as gateway:
        dispatcher = _configure(engine, tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                smtp_sender="noreply@yijianshi.test", sms_gateway_url=gateway.url + "/sms",
                                sms_gateway_token="t0ken")
        _, review = _through_review(engine)
        engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
        outcome = dispatcher.run_once()
        assert outcome.sent == len(_rows(engine)) == 7 and outcome.failed == 0
        assert {r.state for r in _rows(engine)} == {"sent"}
    mails = [email.message_from_string(raw, policy=email.policy.default) for _, raw in smtp.messages]
    assert [rcpt for rcpt, _ in smtp.messages] == [["zhang@example.org"]] * 2
    assert sorted(str(m["Subject"]) for m in mails) == ["【一次告知】通知测试事项：请补正材料", "【已受理】通知测试事项"]
    assert {str(m["From"]) for m in mails} == {"noreply@yijianshi.test"}
    assert "一次性补齐" in "".join(m.get_content() for m in mails)
    assert all(path == "/sms" and headers["Authorization"] == "Bearer t0ken" for path, headers, _ in gateway.requests)
    assert sorted(gateway.json(i)["to"] for i in range(2)) == ["13912345678"] * 2
    assert any("一次告知" in gateway.json(i)["text"] for i in range(2))
    with engine.db.reader.connect() as conn:
        assert [n.kind for n in notification_store.of_user(conn, "zhang")] == ["supplement", "accepted"]
        assert notification_store.unread_count(conn, "zhang") == 2
        assert [n.kind for n in notification_store.of_user(conn, "desk")] == ["new_work"]
    assert accounts


def setup_accounts(engine, tmp_path):
    from tests.web.conftest import web_system

    system = web_system(engine, tmp_path / "web")
    system.accounts.create("zhang", "Xq7!pLm2#wRt9", "张三", "citizen")
    system.accounts.create("desk", "Xq7!pLm2#wRt9", "窗口 邓", "front_desk", ["front_desk"])
    return system


def test_a_delivery_is_retried_with_backoff_then_given_up_and_requeued(engine, tmp_path):
    with HttpReceiver() as gateway:
        dispatcher = _configure(engine, tmp_path, sms_gateway_url=gateway.url, notify_max_attempts=3)
        _, review = _through_review(engine)
        engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
        gateway.statuses = [500, 500]
        dispatcher.run_once()
        sms = _rows(engine, channel="sms")
        assert len(sms) == 2 and {r.state for r in sms} == {"pending"} and {r.attempts for r in sms} == {1}
        assert {r.last_error for r in sms} == {"DeliveryError: HTTP 500"}
        assert dispatcher.run_once().sent == 0  # not due yet: the first retry waits 60 s
        engine.clock.advance(seconds=61)
        assert dispatcher.run_once().sent == 2
        assert len(gateway.requests) == 4 and {r.state for r in _rows(engine, channel="sms")} == {"sent"}

        # A gateway that keeps failing: given up after three attempts, then queued again by hand.
        decide = engine.cases.complete_work_item(_ready(engine), {}, ZHANG).ready[0].id
        engine.cases.complete_work_item(decide, {}, DESK)  # the rating step: a text for the applicant
        gateway.statuses = [503] * 10
        waits = []
        for _ in range(3):
            dispatcher.run_once()
            engine.clock.advance(hours=1)
            waits.append(dispatcher.retry_delay(len(waits) + 1).total_seconds())
        assert waits == [60, 120, 240]
        failed = _rows(engine, state="failed")
        assert failed and {r.attempts for r in failed} == {3}
        gateway.statuses = []
        with engine.db.writer.begin() as conn:
            assert outbox_store.requeue(conn, failed[0].id, engine.clock.now())
        dispatcher.run_once()
        assert _rows(engine, id=failed[0].id)[0].state == "sent"


def _ready(engine) -> str:
    from yijianshi.storage.tables import WorkItem

    t = WorkItem.__table__
    with engine.db.reader.connect() as conn:
        return conn.execute(select(t.c.id).where(t.c.state == "ready")).scalar_one()


def test_two_dispatchers_never_claim_the_same_row(engine, tmp_path):
    _configure(engine, tmp_path)
    _, review = _through_review(engine)
    engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
    now = engine.clock.now()
    with engine.db.writer.begin() as conn:
        first = outbox_store.claim(conn, now, "a", now + timedelta(minutes=2), 2)
    with engine.db.writer.begin() as conn:
        second = outbox_store.claim(conn, now, "b", now + timedelta(minutes=2), 10)
    assert len(first) == 2 and len(second) == 1
    assert not {r.id for r in first} & {r.id for r in second}
    # a dispatcher that died: its claim runs out and another takes the rows over
    later = now + timedelta(minutes=3)
    with engine.db.writer.begin() as conn:
        taken = outbox_store.claim(conn, later, "c", later + timedelta(minutes=2), 10)
    assert {r.id for r in taken} == {r.id for r in first} | {r.id for r in second}


def test_warning_alerts_once_whether_timer_or_scan_comes_first(engine, tmp_path):
    dispatcher = _configure(engine, tmp_path)
    _, review = _through_review(engine)
    supplement = engine.cases.complete_work_item(review, {"boom": "false"}, DESK).ready[0].id
    decide = engine.cases.complete_work_item(supplement, {}, ZHANG).ready[0].id
    engine.clock.advance(hours=2)
    assert dispatcher.queue_alerts() == 1  # the scan sees the work item past its warning time
    assert [r.dedupe_key for r in _rows(engine, kind="warning")] == [f"warning:{decide}"]
    assert dispatcher.queue_alerts() == 0  # and not again: the alert's key names the item (0027: its id in SQL)
    from yijianshi.engine.deadlines.scheduler import fire_due

    assert [f.fired for f in fire_due(engine)] == [True]  # the boundary timer fires: no second alert
    assert len(_rows(engine, kind="warning")) == 1
    assert _rows(engine, kind="warning")[0].recipient == "front_desk"


def test_the_command_line_dispatches_lists_and_requeues(migrated_sqlite_url, capsys):
    from yijianshi.cli.main import main
    from yijianshi.storage.database import Database

    def run(*argv: str) -> tuple[int, str]:
        code = main(["--db", migrated_sqlite_url, *argv])
        return code, capsys.readouterr().out

    assert run("deploy", str(FIXTURES / "notify.bpmn"))[0] == 0
    assert run("start", "notify", "--as", "zhang", "--groups", "applicant")[0] == 0
    code, out = run("work-items", "--json", "--group", "applicant")
    item = json.loads(out)[0]["id"]
    assert run("complete", item, "--as", "zhang", "--groups", "applicant")[0] == 0  # new work for the desk
    db = Database(migrated_sqlite_url)
    with db.writer.begin() as conn:  # a row whose channel is not configured here fails at once
        conn.execute(OutboxMessage.__table__.update().values(channel="sms", attempts=7))
    db.dispose()
    code, out = run("notifications", "dispatch")
    assert code == 0 and "已发送 0 条" in out and "失败 1 条" in out
    code, out = run("notifications", "list", "--state", "failed")
    assert code == 0 and "发送失败\tsms\t新待办" in out and "未配置“sms”通道" in out and "共 1 条" in out
    row_id = out.split("\t")[0]
    assert run("notifications", "requeue", row_id)[0] == 0
    assert run("notifications", "requeue", row_id)[0] == 1  # pending now, not failed
    assert "待发送" in run("notifications", "list")[1]


def test_claims_skip_rows_another_open_transaction_holds(migrated_pg_url, tmp_path):
    """PostgreSQL: a dispatcher whose claim is not committed yet holds its rows locked; another one
    claims past them (FOR UPDATE SKIP LOCKED) instead of waiting or taking them too."""
    from tests.conftest import make_engine

    engine = make_engine(migrated_pg_url)
    _configure(engine, tmp_path)
    _, review = _through_review(engine)
    engine.cases.complete_work_item(review, {"boom": "false"}, DESK)
    now = engine.clock.now()
    with engine.db.writer.connect() as first, engine.db.writer.connect() as second:
        with first.begin():
            mine = outbox_store.claim(first, now, "a", now + timedelta(minutes=2), 2)
            with second.begin():
                theirs = outbox_store.claim(second, now, "b", now + timedelta(minutes=2), 10)
    assert len(mine) == 2 and len(theirs) == 1 and not {r.id for r in mine} & {r.id for r in theirs}
    engine.db.dispose()


def test_applicant_news_reaches_applicants_only(engine, tmp_path):
    """A clerk who registers a request for someone owns the case, but the acceptance is not his news."""
    setup_accounts(engine, tmp_path)
    dispatcher = _configure(engine, tmp_path)
    deploy_fixtures(engine, "notify.bpmn")
    engine.cases.start_case("notify", {}, DESK, start_form=CONTACT)  # registered at the desk: the desk's case
    zhangs = engine.cases.start_case("notify", {}, ZHANG, start_form=CONTACT)
    for item in [r for r in _ready_items(engine) if r.task_spec == "review"]:
        engine.cases.complete_work_item(item.id, {"boom": "false"}, DESK)
    dispatcher.run_once()
    with engine.db.reader.connect() as conn:
        assert {(n.kind, n.case_id) for n in notification_store.of_user(conn, "zhang")} == {
            ("accepted", zhangs.id), ("supplement", zhangs.id)}
        assert {n.kind for n in notification_store.of_user(conn, "desk")} == {"new_work"}


def _ready_items(engine) -> list:
    from yijianshi.storage import case_store

    with engine.db.reader.connect() as conn:
        return list(case_store.query_work_items(conn))


def test_the_scheduler_delivers_notifications_as_a_job(engine, tmp_path):
    from tests.web.conftest import web_system

    system = web_system(engine, tmp_path / "web", notify_every_seconds=0.2)
    _, review = _through_review(engine)
    scheduler = system.scheduler(lease_ttl_s=5.0)
    assert scheduler.notifier is system.notifier and scheduler.notify_every_s == 0.2
    scheduler.start()
    try:
        assert scheduler.job("notifications") is not None
        deadline = time.monotonic() + 10
        while _rows(engine)[0].state != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert _rows(engine)[0].state == "sent"
    assert web_system(engine, tmp_path / "off", notify_every_seconds=0).scheduler().notifier is None

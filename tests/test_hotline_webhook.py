"""12345 both ways, the outbound half: a hotline work order's answer and final result (with the
satisfaction) reach a local receiver as signed webhooks, retried after a 500; the revisit watch is
cancelled by the platform's revisit, or records a timeout and tells the clerks. SQLite and PostgreSQL."""
from __future__ import annotations

from yijianshi.engine.access.actors import Actor
from yijianshi.engine.notifications import hotline, setup
from yijianshi.engine.settings import Settings
from yijianshi.storage import outbox_store
from tests.notify_support import HttpReceiver
from tests.test_notifications import _rows
from tests.test_scenarios_driver import Scenario, at, deploy

START = at(2025, 11, 3, 9, 0)
ORDER_NO = "12345-20251103-0007"
GRID = Actor("grid1", frozenset({"grid_center"}), name="区网格中心")
SECRET = "s3cret-shared-with-12345"
REQUEST = {"channel": "hotline_12345", "work_order_no": ORDER_NO, "enterprise_name": "宁河区某食品有限公司",
           "credit_code": "91120221MA05TEQ0A0", "contact_name": "李四", "contact_phone": "13800000000",
           "grid_area": "芦台街道", "enterprise_address": "芦台街道光明路 8 号", "request_category": "factor",
           "request_summary": "用电增容申请迟迟未获批复。"}


def _answered(engine, tmp_path, url: str):
    engine.clock.set(START)
    settings = Settings.at(tmp_path, hotline_webhook_url=url, hotline_webhook_secret=SECRET,
                           hotline_revisit_working_days=5, notify_backoff_seconds=60)
    setup.configure(engine.cases.runner.notices, settings)
    dispatcher = setup.dispatcher(engine, settings)
    deploy(engine, "enterprise_request")
    sc = Scenario(engine, "enterprise_request")
    case = engine.cases.start_case("enterprise_request", {"work_order_no": ORDER_NO}, GRID, business_key=ORDER_NO,
                                   title=f"12345 工单 {ORDER_NO}")
    sc.complete(case.id, "intake", REQUEST)
    # a 12345 order about electricity goes straight to the power company (intake_route.dmn)
    sc.complete(case.id, "level2", {"l2_outcome": "resolved", "l2_answer": "已完成增容"})
    assert not _rows(engine, channel="webhook")  # nothing for the platform until the answer
    sc.complete(case.id, "answer", {"request_met": "true", "final_answer": "已协调供电公司完成增容"})
    return sc, case.id, dispatcher


def test_an_order_out_of_scope_is_refused_with_its_reason_returned_to_the_hotline(engine, tmp_path):
    with HttpReceiver() as receiver:
        engine.clock.set(START)
        settings = Settings.at(tmp_path, hotline_webhook_url=receiver.url + "/12345", hotline_webhook_secret=SECRET)
        setup.configure(engine.cases.runner.notices, settings)
        dispatcher = setup.dispatcher(engine, settings)
        deploy(engine, "enterprise_request")
        sc = Scenario(engine, "enterprise_request")
        case = engine.cases.start_case("enterprise_request", {"work_order_no": ORDER_NO}, GRID, business_key=ORDER_NO)
        sc.complete(case.id, "intake", {**REQUEST, "request_summary": "与供货商的合同纠纷已向法院起诉，请政府督促法院尽快判决。"})
        assert sc.status(case.id) == "completed" and sc.ready_specs(case.id) == []
        data = sc.final_data(case.id)
        assert data["out_of_scope"] is True and data["request_met"] is False
        assert "涉法涉诉" in data["refusal_reason"] and "二（一）" in data["refusal_reason"]
        dispatcher.run_once()
        result = _checked(receiver, 0)
        assert (result["event"], result["work_order_no"], result["request_met"]) == ("closed", ORDER_NO, False)
        assert result["answer"].startswith("不予受理：涉法涉诉事项不在为企服务范围内")


def _checked(receiver: HttpReceiver, index: int) -> dict:
    path, headers, body = receiver.requests[index]
    assert path == "/12345"
    timestamp = headers[hotline.TIMESTAMP_HEADER]
    assert hotline.verify(SECRET, timestamp, body, headers[hotline.SIGNATURE_HEADER])
    assert not hotline.verify("another secret", timestamp, body, headers[hotline.SIGNATURE_HEADER])
    return receiver.json(index)


def test_answer_and_result_reach_the_hotline_signed_and_retried(engine, tmp_path):
    with HttpReceiver() as receiver:
        sc, cid, dispatcher = _answered(engine, tmp_path, receiver.url + "/12345")
        (watch,) = _rows(engine, channel="revisit")
        assert watch.state == "pending" and watch.next_attempt_at > engine.clock.now()
        receiver.statuses = [500]
        dispatcher.run_once()
        (answer,) = _rows(engine, channel="webhook")
        assert (answer.state, answer.attempts, answer.last_error) == ("pending", 1, "DeliveryError: HTTP 500")
        engine.clock.advance(seconds=61)
        dispatcher.run_once()
        assert _rows(engine, channel="webhook")[0].state == "sent"
        assert len(receiver.requests) == 2
        sent = _checked(receiver, 1)
        assert sent == {"event": "answered", "work_order_no": ORDER_NO, "case_id": cid, "request_met": True,
                        "answer": "已协调供电公司完成增容", "at": sent["at"]}

        engine.cases.deliver_message("hotline_revisit", {"work_order_no": ORDER_NO},
                                     {"satisfaction": "satisfied", "note": "满意"})
        assert sc.status(cid) == "completed"
        assert _rows(engine, channel="revisit")[0].state == "cancelled"  # the platform did revisit
        dispatcher.run_once()
        result = _checked(receiver, 2)
        assert (result["event"], result["satisfaction"], result["revisit_note"], result["answer"]) == (
            "closed", "satisfied", "满意", "已协调供电公司完成增容")


def test_a_revisit_that_does_not_come_is_recorded_and_told(engine, tmp_path):
    with HttpReceiver() as receiver:
        sc, cid, dispatcher = _answered(engine, tmp_path, receiver.url + "/12345")
        dispatcher.run_once()
        (watch,) = _rows(engine, channel="revisit")
        # answered Monday 3 November: five working days end on Monday 10 November
        assert watch.next_attempt_at == at(2025, 11, 10, 23, 59, 59)
        engine.clock.set(at(2025, 11, 10, 23, 59, 58))
        dispatcher.run_once()
        assert _rows(engine, channel="revisit")[0].state == "pending"  # not past its time yet
        engine.clock.advance(seconds=1)
        dispatcher.run_once()
        watch = _rows(engine, channel="revisit")[0]
        assert (watch.state, watch.last_error) == ("sent", "回访超时：已通知办理部门")
        (told,) = _rows(engine, kind="revisit_timeout", channel="inapp")
        # the departments that answered, and the clerk who registered the request and answered it (首问负责)
        assert told.recipient == "street,liaison,user:clerk_street" and ORDER_NO in told.body
        dispatcher.run_once()
        assert _rows(engine, kind="revisit_timeout", channel="inapp")[0].state == "sent"
        with engine.db.reader.connect() as conn:
            assert outbox_store.counts(conn).get("failed", 0) == 0
    assert sc.status(cid) == "running"  # still waiting: the revisit may yet come

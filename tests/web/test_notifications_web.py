"""站内通知 in the web UI: the bell with the unread count, the list, marking read; the administrators'
outbox page with the failed deliveries queued again."""
from __future__ import annotations

from sqlalchemy import update

from tests.web.helpers import start
from yijianshi.engine.clock import to_utc
from yijianshi.storage import outbox_store
from yijianshi.storage.tables import OutboxMessage
from yijianshi.web.services import services


def _dispatch(app) -> None:
    with app.app_context():
        services().notifier.run_once()


def test_a_clerk_sees_new_work_under_the_bell_and_marks_it_read(client_for, app, web_engine):
    c = client_for("chuangkou")
    assert 'id="bell-count"' not in c.page("/inbox/")
    case_id = start(web_engine)  # the application reaches the front desk
    _dispatch(app)
    page = c.page("/inbox/")
    assert '<span class="badge badge-unread" id="bell-count">1</span>' in page
    listed = c.page("/notifications/")
    assert "【新待办】" in listed and f"办件 {case_id}" in listed and 'class="unread"' in listed
    assert client_for("shichang").page("/notifications/").count('data-kind="new_work"') == 0  # not his department
    assert c.post("/notifications/read-all").status_code == 302
    assert 'id="bell-count"' not in c.page("/inbox/")
    assert "已读" in c.page("/notifications/")
    applicant = client_for("zhangsan")  # the applicant hears nothing before a clerk acts
    assert 'id="bell-count"' not in applicant.page("/apply/")


def test_an_administrator_queues_a_failed_delivery_again(client_for, app, web_engine):
    start(web_engine)
    with app.app_context():
        db = services().db
        with db.writer.begin() as conn:
            conn.execute(update(OutboxMessage.__table__).values(state="failed", attempts=8, last_error="HTTP 503"))
            (row,) = outbox_store.listing(conn, "failed")
    assert client_for("chuangkou").get("/admin/outbox").status_code == 403
    admin = client_for("admin")
    page = admin.page("/admin/outbox?state=failed")
    assert f'data-id="{row.id}" data-state="failed"' in page and "HTTP 503" in page and "发送失败 (1)" in page
    response = admin.post(f"/admin/outbox/{row.id}/requeue")
    assert response.status_code == 302
    assert "已重新排队" in admin.page("/admin/outbox?state=failed")
    with app.app_context():
        with services().db.reader.connect() as conn:
            again = outbox_store.listing(conn)[0]
        assert (again.state, again.attempts) == ("pending", 0)
        assert again.next_attempt_at <= to_utc(services().engine.clock.now())
    _dispatch(app)
    assert "【新待办】" in client_for("chuangkou").page("/notifications/")

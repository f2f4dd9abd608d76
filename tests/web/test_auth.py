"""Signing in and out, CSRF on every form, role homes, refusals as pages, the language switch."""
from __future__ import annotations

from yijianshi.engine.access.accounts import REFUSED, SignInPolicy

MAX_FAILED_LOGINS = SignInPolicy().lock_after


def test_sign_in_with_a_demo_account_lands_on_the_role_home(client_for):
    c = client_for()
    assert c.get("/").location.endswith("/login")
    page = c.page("/login")
    assert "登录" in page and 'name="csrf_token"' in page
    response = c.post("/login", {"username": "zhangsan", "password": "demo-zhangsan"})
    assert response.status_code == 302 and response.location.endswith("/apply/")
    assert "办事大厅" in c.page("/apply/")
    assert client_for("shichang").get("/").location.endswith("/inbox/")
    assert client_for("sheji").get("/").location.endswith("/overview")


def test_wrong_password_is_refused_with_one_message_and_locks_after_repeats(client_for, app):
    c = client_for()
    c.get("/login")
    wrong = c.post("/login", {"username": "zhangsan", "password": "nope-nope"})
    unknown = c.post("/login", {"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.get_data(as_text=True)
    assert "用户名或密码不正确" in unknown.get_data(as_text=True)
    for _ in range(MAX_FAILED_LOGINS - 1):
        last = c.post("/login", {"username": "zhangsan", "password": "nope-nope"})
    # Locked now, but the page says nothing it would not say for an unknown user.
    locked = c.post("/login", {"username": "zhangsan", "password": "demo-zhangsan"})
    assert locked.status_code == 401 and REFUSED in locked.get_data(as_text=True)
    assert "锁定" not in locked.get_data(as_text=True)
    app.extensions["yijianshi"].clock.advance(minutes=6)
    assert c.post("/login", {"username": "zhangsan", "password": "demo-zhangsan"}).status_code == 302


def test_every_form_needs_the_csrf_token(client_for, app):
    c = client_for("chuangkou")
    refused = c.post("/logout", token=False)
    assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    forged = c.post("/logout", {"csrf_token": "forged"})
    assert forged.status_code == 400
    assert c.post("/logout").status_code == 302
    assert c.get("/inbox/").status_code == 302  # signed out


def test_pages_refuse_the_wrong_audience_with_a_chinese_403_page(client_for):
    applicant, clerk, designer = client_for("zhangsan"), client_for("shichang"), client_for("sheji")
    for c, url in ((applicant, "/inbox/"), (applicant, "/overview"), (clerk, "/apply/"),
                   (designer, "/inbox/"), (designer, "/apply/")):
        response = c.get(url)
        assert response.status_code == 403, url
        page = response.get_data(as_text=True)
        assert "无权访问" in page and "Traceback" not in page
    missing = applicant.get("/apply/cases/999")
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    assert applicant.get("/no/such/page").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in_and_back(client_for):
    c = client_for()
    response = c.get("/inbox/?show=overdue")
    assert response.status_code == 302 and "/login" in response.location
    c.get(response.location)
    back = c.post(response.location, {"username": "chuangkou", "password": "demo-chuangkou"})
    assert back.location.endswith("/inbox/?show=overdue")
    # A foreign "next" is ignored (no open redirect).
    c2 = client_for()
    c2.get("/login")
    away = c2.post("/login?next=https://evil.example/", {"username": "chuangkou", "password": "demo-chuangkou"})
    assert away.location.endswith("/inbox/")


def test_a_password_change_ends_other_sessions(client_for):
    laptop, phone = client_for("shichang"), client_for("shichang")
    laptop.get("/account/password")
    bad = laptop.post("/account/password", {"old_password": "wrong-one", "new_password": "another-pass"})
    assert bad.status_code == 422 and "原密码不正确" in bad.get_data(as_text=True)
    short = laptop.post("/account/password", {"old_password": "demo-shichang", "new_password": "short"})
    assert "至少 8 个字符" in short.get_data(as_text=True)
    ok = laptop.post("/account/password", {"old_password": "demo-shichang", "new_password": "new-password-1"})
    assert ok.status_code == 302
    assert laptop.get("/inbox/").status_code == 200
    assert phone.get("/inbox/").status_code == 302  # the old session's stamp no longer matches
    fresh = client_for()  # and the old password no longer works
    fresh.get("/login")
    assert fresh.post("/login", {"username": "shichang", "password": "demo-shichang"}).status_code == 401


def test_the_ui_is_chinese_by_default_and_english_on_request(client_for):
    c = client_for("chuangkou")
    assert "待办事项" in c.page("/inbox/")
    response = c.get("/lang/en?next=/inbox/")
    assert response.location.endswith("/inbox/")
    page = c.page("/inbox/")
    assert "Inbox" in page and "待办事项" not in page and 'lang="en"' in page
    c.get("/lang/zh_Hans_CN?next=/inbox/")
    assert "待办事项" in c.page("/inbox/")


def test_security_headers_and_health(client_for):
    c = client_for()
    response = c.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert c.get("/healthz").get_json()["database"] == "ok"


def test_a_disabled_account_cannot_sign_in_or_keep_its_session(client_for, app):
    from yijianshi.storage import account_store

    c = client_for("xiaofang")
    assert c.get("/inbox/").status_code == 200
    engine = app.extensions["yijianshi"]
    with engine.db.writer.begin() as conn:
        account_store.change(conn, "xiaofang", active=False)
    assert c.get("/inbox/").status_code == 302
    fresh = client_for()
    fresh.get("/login")
    refused = fresh.post("/login", {"username": "xiaofang", "password": "demo-xiaofang"})
    assert refused.status_code == 401 and "停用" in refused.get_data(as_text=True)

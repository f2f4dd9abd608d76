"""Security probes of signing in and of what the site exposes (issue #13, items 3-5): the lock cannot be
outrun by concurrent attempts, refusals do not tell whether a user exists, a client is throttled, a
session ends on the server, passwords are Argon2id and must be strong, process sources and script
text reach only those who may read them."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from tests.web.conftest import FAST_HASH, Client, build_app
from yijianshi.engine.access.accounts import REFUSED, AccountService, SignInPolicy, SignInRefused
from yijianshi.engine.access.password_rules import password_problems
from yijianshi.engine.access.passwords import PasswordHasher
from yijianshi.storage import account_store, session_store

LEAKY = Path(__file__).parent / "fixtures" / "leaky"
LEAKY_START = Path(__file__).parent / "fixtures" / "leaky_start"  # the script fails as the case starts
LOCK_AFTER = SignInPolicy().lock_after
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="[^"]+"')


def _form(c: Client, username: str, password: str):
    return c.post("/login", {"username": username, "password": password})


# -- the lock cannot be outrun ------------------------------------------------------------------

class _Gate:
    """Holds every check of a real (non-dummy) hash against a wrong password until released, so that
    all concurrent wrong attempts are in flight when the right one arrives; counts real checks."""

    def __init__(self, accounts: AccountService, right: str):
        self.verify = accounts.hasher.verify
        self.dummy = accounts._dummy_hash
        self.right = right
        self.release = threading.Event()
        self.real_checks = 0
        self.lock = threading.Lock()

    def __call__(self, stored: str, password: str) -> bool:
        if stored != self.dummy:
            with self.lock:
                self.real_checks += 1
            if password != self.right:
                self.release.wait(30)
        return self.verify(stored, password)


def _outrun_the_lock(app, n_wrong: int = 29):
    """29 wrong passwords in flight at once, then the right one: refused (the lock was reached first)."""
    accounts = app.extensions["yijianshi.system"].accounts
    gate = _Gate(accounts, "demo-admin")
    accounts.hasher.verify = gate
    attempts = [Client(app) for _ in range(n_wrong)]
    for c in attempts:
        c.get("/login")
    with ThreadPoolExecutor(n_wrong) as pool:
        futures = [pool.submit(_form, c, "admin", f"wrong-guess-{i}") for i, c in enumerate(attempts)]
        # Wait until every wrong attempt is either refused outright or held at its password check.
        for _ in range(3000):
            done = sum(f.done() for f in futures)
            if done + gate.real_checks >= n_wrong:
                break
            threading.Event().wait(0.01)
        right = Client(app)
        right.get("/login")
        outcome = _form(right, "admin", "demo-admin")
        gate.release.set()
        statuses = [f.result().status_code for f in futures]
    return outcome, statuses, gate.real_checks


def test_a_right_password_among_concurrent_wrong_ones_does_not_outrun_the_lock(web_engine, tmp_path):
    app = build_app(web_engine, tmp_path, settings={"login_rate_limit": "1000 per minute"})
    outcome, statuses, real_checks = _outrun_the_lock(app)
    assert outcome.status_code == 401, "signed in although the account was locked by then"
    assert REFUSED in outcome.get_data(as_text=True)
    assert statuses == [401] * len(statuses)
    assert real_checks == LOCK_AFTER  # only as many passwords were tried as the lock allows


def test_the_lock_holds_against_concurrent_attempts_on_postgresql(pg_web_engine, tmp_path):
    app = build_app(pg_web_engine, tmp_path, settings={"login_rate_limit": "1000 per minute"})
    outcome, statuses, real_checks = _outrun_the_lock(app)
    assert outcome.status_code == 401 and real_checks == LOCK_AFTER


def test_thirty_concurrent_attempts_try_at_most_the_allowed_number_of_passwords(web_engine, tmp_path):
    """No gate: 30 threads at once, the right password among them. Whatever the order, no more
    passwords are checked than the lock allows, and the right one signs in only if it was among them."""
    app = build_app(web_engine, tmp_path, settings={"login_rate_limit": "1000 per minute"})
    accounts = app.extensions["yijianshi.system"].accounts
    checked: list[str] = []
    verify, dummy = accounts.hasher.verify, accounts._dummy_hash

    def counting(stored, password):
        if stored != dummy:
            checked.append(password)
        return verify(stored, password)

    accounts.hasher.verify = counting
    passwords = [f"wrong-guess-{i}" for i in range(29)]
    passwords.insert(17, "demo-admin")
    clients = [Client(app) for _ in passwords]
    for c in clients:
        c.get("/login")
    with ThreadPoolExecutor(30) as pool:
        responses = list(pool.map(lambda cp: _form(cp[0], "admin", cp[1]), zip(clients, passwords)))
    signed_in = [p for p, r in zip(passwords, responses) if r.status_code == 302]
    assert len(checked) <= LOCK_AFTER
    assert signed_in in ([], ["demo-admin"])
    assert not signed_in or "demo-admin" in checked


# -- refusals do not tell, locks end ------------------------------------------------------------

def _refusal(c: Client, username: str, password: str) -> tuple[int, str]:
    response = _form(c, username, password)
    page = _TOKEN.sub("", response.get_data(as_text=True)).replace(f'value="{username}"', 'value="…"')
    return response.status_code, page


def test_unknown_user_wrong_password_and_locked_account_get_the_same_answer(client_for):
    c = client_for()
    c.get("/login")
    unknown = _refusal(c, "nobody-here", "wrong-password")
    wrong = _refusal(c, "zhangsan", "wrong-password")
    for _ in range(LOCK_AFTER):
        _form(c, "zhangsan", "wrong-password")
    locked_right = _refusal(c, "zhangsan", "demo-zhangsan")
    unknown_again = _refusal(c, "nobody-here", "wrong-password")
    assert unknown == wrong == locked_right == unknown_again
    assert unknown[0] == 401 and REFUSED in unknown[1]


def test_a_lock_is_temporary_and_doubles_up_to_a_maximum(web_engine):
    policy = SignInPolicy(lock_after=2, lock_seconds=60, lock_max_seconds=200)
    assert [d.total_seconds() for d in policy.lock_lengths()] == [60, 120, 200]
    accounts = AccountService(web_engine.db, web_engine.clock, password_method=FAST_HASH, policy=policy)
    accounts.create("wanger", "correct horse battery", "王二", "citizen")

    def lock_once() -> float:
        for _ in range(2):
            with pytest.raises(SignInRefused):
                accounts.authenticate("wanger", "wrong-password")
        with web_engine.db.reader.connect() as conn:
            until = account_store.get(conn, "wanger").locked_until
        return (until - web_engine.clock.now()).total_seconds()

    lengths = []
    for _ in range(4):
        lengths.append(lock_once())
        with pytest.raises(SignInRefused):  # locked: even the right password is refused
            accounts.authenticate("wanger", "correct horse battery")
        web_engine.clock.advance(seconds=lengths[-1] + 1)
    assert lengths == [60, 120, 200, 200]  # bounded: an attacker cannot lock anyone out for good
    assert accounts.authenticate("wanger", "correct horse battery").username == "wanger"
    assert lock_once() == 60  # a success starts the doubling again


def test_failed_sign_ins_are_throttled_per_client_address(web_engine, tmp_path):
    app = build_app(web_engine, tmp_path, settings={"login_rate_limit": "3 per minute"})
    guesser, other = Client(app), Client(app)
    other.http.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    guesser.get("/login")
    for i in range(3):
        assert _form(guesser, f"user{i}", "wrong-password").status_code == 401
    throttled = _form(guesser, "zhangsan", "demo-zhangsan")
    assert throttled.status_code == 429 and "尝试过于频繁" in throttled.get_data(as_text=True)
    other.login("zhangsan")  # another address is not affected
    for _ in range(5):  # and successful sign-ins are not counted
        fresh = Client(app)
        fresh.http.environ_base["REMOTE_ADDR"] = "10.0.0.2"
        fresh.login("zhangsan")


# -- sessions end on the server --------------------------------------------------------------------

def test_a_cookie_replayed_after_sign_out_is_refused(client_for, app):
    c = client_for("shichang")
    assert c.get("/inbox/").status_code == 200
    cookie = c.http.get_cookie("session").value
    assert c.post("/logout").status_code == 302
    replay = Client(app)
    replay.http.set_cookie("session", cookie)
    response = replay.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.location


def test_a_password_change_and_disabling_end_the_sessions_on_the_server(client_for, app):
    accounts = app.extensions["yijianshi.system"].accounts
    laptop, phone = client_for("shichang"), client_for("shichang")
    with accounts.db.reader.connect() as conn:
        assert session_store.count_of(conn, "shichang") == 2
    laptop.get("/account/password")
    laptop.post("/account/password", {"old_password": "demo-shichang", "new_password": "tea-kettle-winter-42"})
    with accounts.db.reader.connect() as conn:
        assert session_store.count_of(conn, "shichang") == 1  # only the laptop's
    assert phone.get("/inbox/").status_code == 302 and laptop.get("/inbox/").status_code == 200
    accounts.set_active("shichang", False, by="admin")
    with accounts.db.reader.connect() as conn:
        assert session_store.count_of(conn, "shichang") == 0


# -- passwords ---------------------------------------------------------------------------------------

def test_new_hashes_are_argon2id_and_old_ones_are_replaced_on_sign_in(web_engine):
    accounts = AccountService(web_engine.db, web_engine.clock, password_method=FAST_HASH)
    accounts.create("lisi", "correct horse battery", "李四", "citizen")
    assert accounts.get("lisi").password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    with web_engine.db.writer.begin() as conn:  # as written before Argon2
        account_store.change(conn, "lisi", password_hash=generate_password_hash("correct horse battery",
                                                                                method="pbkdf2:sha256:1000"))
    accounts.authenticate("lisi", "correct horse battery")
    assert accounts.get("lisi").password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    stronger = AccountService(web_engine.db, web_engine.clock, password_method="argon2:2:16:1")
    stronger.authenticate("lisi", "correct horse battery")  # the parameters changed: rehashed too
    assert stronger.get("lisi").password_hash.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    with pytest.raises(SignInRefused):
        stronger.authenticate("lisi", "correct horse batteryX")


def test_the_password_hasher_refuses_other_methods_and_reads_unknown_hashes_as_wrong():
    with pytest.raises(ValueError):
        PasswordHasher("pbkdf2:sha256:1000")
    hasher = PasswordHasher(FAST_HASH)
    assert hasher.verify("not a hash at all", "x") is False
    assert hasher.verify("$argon2id$garbage", "x") is False
    assert hasher.needs_rehash(generate_password_hash("x", method="scrypt"))


@pytest.mark.parametrize("password, problem", [
    ("short", "至少 8 个字符"),
    ("zhimakaimen", "常见密码"),  # zxcvbn scores it 4: only the bundled list knows it
    ("Woaini1314", "常见密码"),
    ("password123", "常见密码"),
    ("aaaaaaaaaaaa", "容易被猜中"),
    ("qwertyuiop12", "容易被猜中"),
    ("x" * 129, "不能超过 128"),
    ("x" * 128, "容易被猜中"),  # past zxcvbn's own limit of 72 characters: still estimated, not an error
])
def test_weak_passwords_are_refused_in_chinese(password, problem):
    (message,) = password_problems(password)
    assert problem in message


def test_strong_and_demo_passwords_pass_and_the_score_is_configurable():
    from yijianshi.engine.access.accounts import DEMO_ACCOUNTS

    assert password_problems("correct horse battery") == []
    assert password_problems("一条很长的中文口令也可以 winter-kettle " * 3) == []  # 100+ characters
    assert all(password_problems(d.password) == [] for d in DEMO_ACCOUNTS)
    assert password_problems("demo-admin", min_score=4) != []


def test_an_account_cannot_be_created_with_a_common_password(web_engine):
    accounts = AccountService(web_engine.db, web_engine.clock, password_method=FAST_HASH)
    with pytest.raises(Exception, match="常见密码"):
        accounts.create("zhaoliu", "woaini5201314", "赵六", "citizen")


# -- less exposure -----------------------------------------------------------------------------------

def _source_links(page: str) -> list[str]:
    return re.findall(r'href="(/design/versions/\d+/files/[0-9a-f]{64})"', page)


def test_process_sources_download_only_for_designers_auditors_and_administrators(client_for):
    designer = client_for("sheji")
    version = re.search(r'href="(/design/versions/\d+)"', designer.page("/design/")).group(1)
    (link, *_) = _source_links(designer.page(version))
    for username in ("sheji", "shenji", "admin"):
        response = client_for(username).get(link)
        assert response.status_code == 200, username
        assert b"<bpmn:" in response.data or b"definitions" in response.data
    for username in ("zhangsan", "canyin", "chuangkou", "shichang", "ducha"):
        assert client_for(username).get(link).status_code == 403, username


@pytest.fixture
def leaky_app(web_engine, tmp_path):
    app = build_app(web_engine, tmp_path)
    web_engine.deploy([LEAKY])
    return app


def _diagram_url(web_engine) -> str:
    from yijianshi.storage import definition_store

    with web_engine.db.reader.connect() as conn:
        row = definition_store.latest(conn, "leaky_permit")
    return f"/diagrams/{row.id}/leaky_permit.bpmn"


def test_diagrams_for_applicants_and_clerks_carry_no_scripts(leaky_app, web_engine):
    url = _diagram_url(web_engine)
    for username in ("zhangsan", "chuangkou", "ducha"):
        c = Client(leaky_app)
        c.login(username)
        xml = c.get(url).get_data(as_text=True)
        assert "internal_weight_secret" not in xml and "camunda" not in xml, username
        assert 'bpmnElement="score"' in xml and "内部评分" in xml  # still drawable
    designer = Client(leaky_app)
    designer.login("sheji")
    assert "internal_weight_secret" in designer.get(url).get_data(as_text=True)


def test_an_applicant_whose_step_runs_a_failing_script_sees_a_reference_not_the_script(leaky_app, caplog):
    applicant = Client(leaky_app)
    applicant.login("zhangsan")
    applicant.get("/apply/scenarios/leaky_permit")
    response = applicant.post("/apply/scenarios/leaky_permit", {"shop_name": "老街面馆"})
    case_page = applicant.get(response.location).get_data(as_text=True) if response.status_code == 302 \
        else response.get_data(as_text=True)
    assert "参考编号" in case_page and "办理环节执行出错" in case_page
    assert "internal_weight_secret" not in case_page and "division" not in case_page
    reference = re.search(r"参考编号 ([0-9A-F]{8})", case_page).group(1)
    assert any(reference in r.getMessage() and "internal_weight_secret" in r.getMessage() for r in caplog.records)
    # A start whose form step fails leaves no case (one transaction): the form comes back with the
    # message; sending it again fails the same way, told the same way, with a new reference.
    assert response.status_code == 422 and "老街面馆" in case_page
    again = applicant.post("/apply/scenarios/leaky_permit", {"shop_name": "老街面馆"}).get_data(as_text=True)
    assert "参考编号" in again and "internal_weight_secret" not in again
    assert re.search(r"参考编号 ([0-9A-F]{8})", again).group(1) != reference


def test_api_problem_bodies_carry_a_reference_not_the_script(web_engine, tmp_path):
    from tests.web.api_support import client_maker, make_api_app, problem

    app = make_api_app(web_engine, tmp_path)
    web_engine.deploy([LEAKY_START])
    api = client_maker(app)("leaky-platform")
    response = api.start({"process": "leaky_start", "data": {}})
    body = problem(response, 422)
    assert "参考编号" in body["detail"]
    assert "internal_weight_secret" not in response.get_data(as_text=True)
    assert "division" not in response.get_data(as_text=True)


def test_a_session_ends_when_its_lifetime_is_over(web_engine):
    from yijianshi.engine.clock import ControlledClock

    accounts = AccountService(web_engine.db, web_engine.clock, password_method=FAST_HASH,
                              policy=SignInPolicy(session_seconds=3600))
    accounts.session_clock = ControlledClock()
    accounts.create("qianqi", "correct horse battery", "钱七", "citizen")
    token = accounts.start_session("qianqi")
    assert accounts.session_user(token) == "qianqi" and accounts.session_user("forged") is None
    accounts.session_clock.advance(seconds=3601)
    assert accounts.session_user(token) is None

"""Accounts: roles map to engine actors, passwords are only stored hashed, demo seeding is idempotent."""
from __future__ import annotations

import pytest

from yijianshi.engine.access.accounts import DEMO_ACCOUNTS, ROLES, AccountError, AccountService, SignInRefused
from yijianshi.engine.access.demo_accounts import DEMO_MEMBERSHIPS, DEMO_UNITS
from yijianshi.storage import account_store
from tests.web.conftest import FAST_HASH


@pytest.fixture
def accounts(web_engine):
    return AccountService(web_engine.db, web_engine.clock, password_method=FAST_HASH)


def test_demo_accounts_cover_every_role_and_seeding_twice_changes_nothing(accounts, web_engine):
    assert {d.role for d in DEMO_ACCOUNTS} == set(ROLES)
    first = accounts.seed_demo()
    assert all(s.created and s.password_valid for s in first)
    with web_engine.db.reader.connect() as conn:
        before = {r.username: r.password_hash for r in account_store.all_accounts(conn)}
    second = accounts.seed_demo()
    assert not any(s.created for s in second) and all(s.password_valid for s in second)
    with web_engine.db.reader.connect() as conn:
        after = {r.username: r.password_hash for r in account_store.all_accounts(conn)}
    assert before == after
    for demo in DEMO_ACCOUNTS:
        assert demo.password not in after[demo.username] and after[demo.username].startswith("$argon2id$")


def test_a_changed_demo_password_is_reported_not_reset(accounts):
    accounts.seed_demo()
    accounts.change_password("zhangsan", "demo-zhangsan", "my-own-password")
    again = {s.demo.username: s for s in accounts.seed_demo()}
    assert again["zhangsan"].password_valid is False
    assert accounts.authenticate("zhangsan", "my-own-password").username == "zhangsan"
    with pytest.raises(SignInRefused):
        accounts.authenticate("zhangsan", "demo-zhangsan")


def test_roles_become_engine_actors(accounts):
    accounts.seed_demo()
    applicant = accounts.get("zhangsan").actor
    assert applicant.groups == {"applicant"} and not applicant.is_admin
    assert accounts.get("chuangkou").actor.groups == {"front_desk"}
    assert accounts.get("shichang").actor.groups == {"market"}
    assert accounts.get("ducha").actor.groups == frozenset()
    assert accounts.get("admin").actor.is_admin


def test_bad_accounts_are_refused_with_reasons(accounts):
    with pytest.raises(AccountError, match="用户名"):
        accounts.create("Bad Name", "long-enough-1", "某人", "citizen")
    with pytest.raises(AccountError, match="至少 8 个字符"):
        accounts.create("someone", "short", "某人", "citizen")
    with pytest.raises(AccountError, match="至少属于一个部门"):
        accounts.create("clerk1", "long-enough-1", "某人", "dept_clerk")
    with pytest.raises(AccountError, match="角色"):
        accounts.create("clerk2", "long-enough-1", "某人", "wizard")
    accounts.create("clerk3", "long-enough-1", "某人", "dept_clerk", ["market", "fire"])
    with pytest.raises(AccountError, match="已被使用"):
        accounts.create("clerk3", "long-enough-1", "某人", "citizen")
    assert accounts.get("clerk3").actor.groups == {"market", "fire"}


def test_the_demo_accounts_can_work_every_shipped_scenario():
    """Every department or role a shipped process assigns work to has a demo account that works it
    (the applicant's steps go to whoever applied, the front desk's to 综合窗口)."""
    import re

    from tests.web.conftest import ROOT

    groups = set()
    for path in (ROOT / "processes").rglob("*.bpmn"):
        for found in re.findall(r'candidateGroups="([^"]+)"', path.read_text(encoding="utf-8")):
            groups.update(g.strip() for g in found.split(","))
    worked = {g for d in DEMO_ACCOUNTS for g in d.departments} | {"applicant", "front_desk"}
    dynamic = {g for g in groups if "${" in g}
    assert groups - dynamic and groups - dynamic <= worked, sorted(groups - dynamic - worked)
    # Unit-routed steps (unit:${field}): every unit the field may name has a demo member; the 片区
    # table's results are demo units or registered groups.
    members = {m.unit for m in DEMO_MEMBERSHIPS}
    for path in (ROOT / "processes").rglob("*.bpmn"):
        text = path.read_text(encoding="utf-8")
        for var in re.findall(r'candidateGroups="unit:\$\{(\w+)\}"', text):
            for field in re.findall(r'<camunda:formField id="' + var + r'".*?</camunda:formField>', text, re.S):
                options = set(re.findall(r'<camunda:value id="(\w+)"', field))
                assert options and options <= members, (path.name, var, sorted(options - members))
    table = (ROOT / "processes" / "enterprise_request" / "grid_area.dmn").read_text(encoding="utf-8")
    results = set(re.findall(r'<outputEntry id="\w+"><text>"([^"]+)"</text>', table))
    grid_units = {r[len("unit:"):] for r in results if r.startswith("unit:")}
    assert grid_units <= {u.code for u in DEMO_UNITS}
    # ...and someone in the demo sees each 片区's work: a member, or a leader of a unit above it.
    parent = {u.code: u.parent for u in DEMO_UNITS}

    def above(code):
        while code is not None:
            yield code
            code = parent.get(code)

    seen = {m.unit for m in DEMO_MEMBERSHIPS}
    leaders = {m.unit for m in DEMO_MEMBERSHIPS if m.role == "leader"}
    unseen = {g for g in grid_units if g not in seen and not leaders & set(above(g))}
    assert not unseen, sorted(unseen)
    assert {r for r in results if not r.startswith("unit:")} <= worked

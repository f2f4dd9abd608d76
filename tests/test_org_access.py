"""Issue #14.6: staff see only their unit's work. Work items routed to `unit:<code>` groups, and
the accounts of a street clerk, a department sub-unit clerk, a department leader and a deputy — on
SQLite and PostgreSQL: who finds which item in the inbox query, and who the engine lets act. Also:
an absent person's new work goes to his deputy."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.conftest import deploy_fixtures
from yijianshi.engine.access.accounts import AccountService
from yijianshi.engine.access.actors import Actor
from yijianshi.engine.access.org_rules import Absence, Deputy, Membership, OrgData, Unit
from yijianshi.engine.access.organisation import OrganisationService, groups_of
from yijianshi.engine.errors import NotPermitted
from yijianshi.storage import inbox_store
from yijianshi.storage.inbox_store import InboxFilter

STARTER = Actor("starter", frozenset({"street"}), name="登记人")
UNITS = [
    Unit("qu", "示范区", "district"),
    Unit("dongcheng", "东城街道", "street", "qu"),
    Unit("xicheng", "西城街道", "street", "qu"),
    Unit("dongcheng_1", "东城街道第一片区", "grid", "dongcheng"),
    Unit("market", "市场监管局", "department"),
    Unit("market_food", "食品经营监管科", "sub_unit", "market"),
    Unit("market_registration", "登记注册科", "sub_unit", "market"),
]
PEOPLE = {"jd_dong": ("dongcheng", "member"), "jd_xi": ("xicheng", "member"),
          "food": ("market_food", "member"), "chief": ("market", "leader")}


@pytest.fixture
def routed(engine):
    """Five work items, one per unit, and the people of UNITS as accounts."""
    org = OrganisationService(engine.db, engine.clock)
    org.replace(OrgData(units=UNITS, memberships=[Membership(u, unit, role) for u, (unit, role) in PEOPLE.items()]))
    accounts = AccountService(engine.db, engine.clock, password_method="argon2:1:8:1")
    for username in [*PEOPLE, "deputy"]:
        accounts.create(username, "long-enough-pass-9", username, "dept_clerk", ["street"])
    deploy_fixtures(engine, "camunda/unit_routing.bpmn")
    items = {}
    for unit in ("dongcheng", "xicheng", "dongcheng_1", "market_food", "market_registration"):
        case = engine.cases.start_case("unit_routing", {"handling_unit": f"unit:{unit}"}, STARTER)
        items[unit] = case.ready[0].id
    return engine, accounts, org, items


def _visible(engine, actor: Actor, items: dict[str, str]) -> set[str]:
    """The units whose item the actor's inbox lists."""
    f = InboxFilter(groups=tuple(sorted(actor.groups)), me=actor.id)
    with engine.db.reader.connect() as conn:
        ids = {r.id for r in inbox_store.inbox(conn, f, engine.clock.now(), limit=100)}
    return {unit for unit, item in items.items() if item in ids}


def test_a_street_clerk_sees_and_works_only_his_streets_items(routed):
    engine, accounts, _, items = routed
    dong = accounts.get("jd_dong").actor
    assert {"unit:dongcheng", "street"} <= dong.groups
    assert _visible(engine, dong, items) == {"dongcheng"}
    assert _visible(engine, accounts.get("jd_xi").actor, items) == {"xicheng"}
    with pytest.raises(NotPermitted):
        engine.cases.complete_work_item(items["xicheng"], {"handled": True}, dong)
    engine.cases.complete_work_item(items["dongcheng"], {"handled": True}, dong)


def test_a_sub_unit_clerk_sees_only_his_sub_units_items_and_the_leader_every_one_below(routed):
    engine, accounts, _, items = routed
    food = accounts.get("food").actor
    assert _visible(engine, food, items) == {"market_food"}
    with pytest.raises(NotPermitted):
        engine.cases.claim(items["market_registration"], food)
    assert _visible(engine, accounts.get("chief").actor, items) == {"market_food", "market_registration"}
    engine.cases.complete_work_item(items["market_registration"], {"handled": True}, accounts.get("chief").actor)


def test_a_deputy_sees_the_principals_items_during_the_period_and_not_after(routed):
    engine, accounts, org, items = routed
    today = engine.clock.now().date()
    org.add_deputy(Deputy("deputy", "jd_dong", today + timedelta(days=1), today + timedelta(days=2)))
    assert _visible(engine, accounts.get("deputy").actor, items) == set()  # not yet
    engine.clock.advance(days=1)
    during = accounts.get("deputy").actor
    assert _visible(engine, during, items) == {"dongcheng"}
    engine.cases.claim(items["dongcheng"], during)
    engine.cases.unclaim(items["dongcheng"], during)
    engine.clock.advance(days=2)
    after = accounts.get("deputy").actor
    assert _visible(engine, after, items) == set()
    with pytest.raises(NotPermitted):
        engine.cases.claim(items["dongcheng"], after)


def test_an_absent_persons_new_work_goes_to_his_deputy(engine):
    org = OrganisationService(engine.db, engine.clock)
    today = engine.clock.now().date()
    org.add_absence(Absence("lisi", today, today + timedelta(days=3), "休假"))
    org.add_deputy(Deputy("zhou", "lisi", today, today + timedelta(days=3)))
    org.add_absence(Absence("wangwu", today, today, "外出"))  # no deputy: keeps his own step
    deploy_fixtures(engine, "camunda/assignment.bpmn")
    wang = Actor("wangwu", frozenset({"applicant"}))
    case = engine.cases.start_case("assignment", {"reviewer": "lisi", "urgent": True}, wang)
    with engine.db.reader.connect() as conn:
        assert inbox_store.work_item(conn, case.ready[0].id).claimed_by == "wangwu"
    review = engine.cases.complete_work_item(case.ready[0].id, {"confirmed": True}, wang).ready[0]
    with engine.db.reader.connect() as conn:
        row = inbox_store.work_item(conn, review.id)
    assert row.groups == "user:shichang,user:zhou"
    with pytest.raises(NotPermitted):
        engine.cases.claim(review.id, Actor("lisi", frozenset()))
    engine.cases.complete_work_item(review.id, {"approved": True}, Actor("zhou", frozenset()))


def test_deputy_and_absence_days_include_both_ends(engine):
    org = OrganisationService(engine.db, engine.clock)
    org.replace(OrgData(units=UNITS[:2], memberships=[Membership("ann", "dongcheng")]))
    day = date(2030, 1, 10)
    org.add_deputy(Deputy("bob", "ann", day, day))
    with engine.db.reader.connect() as conn:
        assert "unit:dongcheng" in groups_of(conn, "bob", day)
        assert groups_of(conn, "bob", day - timedelta(days=1)) == frozenset()
        assert groups_of(conn, "bob", day + timedelta(days=1)) == frozenset()


def test_an_absent_assignee_with_a_deputy_hands_the_claimed_item_over(engine):
    org = OrganisationService(engine.db, engine.clock)
    today = engine.clock.now().date()
    org.add_absence(Absence("wangwu", today, today))
    org.add_deputy(Deputy("zhou", "wangwu", today, today))
    deploy_fixtures(engine, "camunda/assignment.bpmn")
    case = engine.cases.start_case("assignment", {"reviewer": "lisi", "urgent": True},
                                   Actor("wangwu", frozenset({"applicant"})))
    with engine.db.reader.connect() as conn:
        row = inbox_store.work_item(conn, case.ready[0].id)
    assert (row.claimed_by, row.groups) == ("zhou", "user:zhou")

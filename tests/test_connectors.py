"""The data-sharing connectors (engine/connectors/) against a local fake register with the real HTTP
contract: a record found completes the check and the item without a person; not found goes on to
the department's human check; a register that times out or fails is retried with backoff until the
case has an incident; the scheduler and the command line run them; the materials the checks replace
are counted from the models' service tasks."""
from __future__ import annotations

import json
from datetime import datetime, timezone
import pytest

from yijianshi.cli.main import main
from yijianshi.engine.access.actors import SYSTEM
from yijianshi.engine.cases.failures import stuck_cases
from yijianshi.engine.composition import System
from yijianshi.engine.connectors.registry import Answer, DemoRegistry, HttpRegistry, RegistryError
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.deadlines.scheduler import CONNECTORS_JOB
from yijianshi.engine.modeling.definitions import SourceFile
from yijianshi.engine.modeling.scenario_savings import metrics_of_sources
from yijianshi.engine.settings import DEFAULT_CONNECTOR_TOPICS, Settings
from tests.fake_registry import FakeRegistry
from tests.test_scenarios_driver import PROCESSES, Scenario, deploy

START = datetime(2025, 6, 9, 1, 0, tzinfo=timezone.utc)  # a Monday morning in Shanghai
ITEMS = ("hukou_verification", "property_verification", "residence_permit_verification",
         "social_security_verification")


@pytest.fixture
def fake():
    with FakeRegistry() as registry:
        yield registry


def _applied(engine, registry) -> tuple[Scenario, int]:
    engine.clock.set(START)
    deploy(engine, "school_enrolment")
    sc = Scenario(engine, "school_enrolment", registry=registry)
    cid = sc.start()
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)
    return sc, cid


def _waiting(engine, cid) -> list[str]:
    return sorted(t.topic for t in engine.external_tasks.listing(case_id=cid))


def test_records_found_complete_the_checks_without_a_person(engine, fake):
    sc, cid = _applied(engine, None)
    assert _waiting(engine, cid) == ["registry.household", "registry.property", "registry.residence_permit",
                                     "registry.social_insurance"]
    variables = json.loads(engine.external_tasks.listing(case_id=cid)[0].variables_json)
    child, guardian = variables["child_id_no"], variables["guardian_id_no"]
    for register, key in (("household", child), ("property", guardian), ("residence_permit", guardian),
                          ("social_insurance", guardian)):
        fake.records[(register, key)] = {"register": register, "holder": key}
    runner = ConnectorRunner(engine.external_tasks, HttpRegistry(fake.url, 2.0, "tok"), dict(DEFAULT_CONNECTOR_TOPICS))
    outcome = runner.run_once()
    assert (outcome.completed, outcome.failed) == (4, 0)
    assert {r for r, _, _ in fake.requests} == {"household", "property", "residence_permit", "social_insurance"}
    assert ("household", {"id_no": child}, "Bearer tok") in fake.requests
    specs = sc.ready_specs(cid)
    assert not [s for s in specs if s.startswith("review_") and s.removeprefix("review_") in ITEMS]
    assert "review_enrolment_registration" in specs  # the checks are done: the enrolment stage begins
    sc.complete(cid, "review_enrolment_registration", {"enrolment_registration_approved": "true",
                                                        "enrolment_registration_reason": "",
                                                        "enrolment_registration_no": "RX-1"})
    final = sc.task_data(cid, "deliver")
    assert final["hukou_verification_result"] == "approved" and final["hukou_verification_found"] is True
    assert final["hukou_verification_record"] == {"register": "household", "holder": child}
    assert "registry_key" not in final and "registry_found" not in final  # the worker's locals stay local


def test_nothing_on_record_goes_to_the_departments_human_check(engine, fake):
    sc, cid = _applied(engine, HttpRegistry(fake.url, 2.0))
    specs = sc.ready_specs(cid)  # the driver runs the connectors against the fake register first
    assert {f"review_{i}" for i in ITEMS} <= set(specs)
    assert _waiting(engine, cid) == []
    assert sc.task_data(cid, "review_hukou_verification")["hukou_verification_found"] is False


def test_a_register_that_times_out_is_retried_with_backoff_then_an_incident(engine, fake):
    sc, cid = _applied(engine, None)
    fake.delay_s = 1.0
    runner = ConnectorRunner(engine.external_tasks, HttpRegistry(fake.url, 0.2), {"registry.household": "household"},
                             retries=2, backoff_s=30.0)
    first = runner.run_once()
    assert (first.failed, first.incidents) == (1, 0)
    [task] = [t for t in engine.external_tasks.listing(case_id=cid) if t.topic == "registry.household"]
    assert task.retries == 1 and "超时" in task.error_message
    assert runner.run_once().failed == 0  # held back for the backoff (30 s)
    engine.clock.advance(seconds=31)
    fake.delay_s, fake.fail_with_500 = 0.0, True
    second = runner.run_once()
    assert (second.failed, second.incidents) == (1, 1)
    task = engine.external_tasks.get(task.id)
    assert task.retries == 0 and "HTTP 500" in task.error_message
    assert cid in [c.id for c in stuck_cases(engine)]  # the administrators see the incident
    engine.clock.advance(seconds=3600)
    assert runner.run_once().failed == 0  # no more attempts until retries are given again
    engine.external_tasks.set_retries(task.id, 1, SYSTEM)
    fake.fail_with_500 = False
    assert runner.run_once().completed == 1
    assert cid not in [c.id for c in stuck_cases(engine)]
    assert "review_hukou_verification" in sc.ready_specs(cid)


def test_the_http_contract_refuses_malformed_answers(fake):
    with pytest.raises(RegistryError, match="HTTP 404"):
        HttpRegistry(fake.url + "/nowhere").lookup("household", {"id_no": "1"})
    fake.records[("licence", "91120221MA05XXXX0X")] = {"name": "某公司"}
    answer = HttpRegistry(fake.url).lookup("licence", {"credit_code": "91120221MA05XXXX0X"})
    assert answer.found and answer.record == {"name": "某公司"}
    assert DemoRegistry().lookup("household", {"id_no": "110105201501010000"}).found is False
    assert DemoRegistry().lookup("household", {"id_no": "11010520150101001X"}).found is True


def test_the_scheduler_and_the_command_line_run_the_connectors(engine, migrated_db_url, tmp_path, capsys,
                                                                monkeypatch):
    off = System.around(engine, Settings.at(tmp_path))
    assert off.connectors is None and off.scheduler().connectors is None
    on = System.around(engine, Settings.at(tmp_path, registry_url="demo", connector_every_seconds=60))
    scheduler = on.scheduler(lease_ttl_s=5.0)
    scheduler.start()
    try:
        assert scheduler.job(CONNECTORS_JOB) is not None
    finally:
        scheduler.stop()
    sc, cid = _applied(engine, None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YIJIANSHI_REGISTRY_URL", raising=False)
    assert main(["--db", migrated_db_url, "connectors", "run-once"]) == 1
    assert "未配置数据共享接口" in capsys.readouterr().out
    monkeypatch.setenv("YIJIANSHI_REGISTRY_URL", "demo")
    assert main(["--db", migrated_db_url, "connectors", "run-once"]) == 0
    assert "已完成 4 项共享核验" in capsys.readouterr().out  # the demo register knows the sample numbers
    assert _waiting(engine, cid) == []


def test_materials_saved_are_counted_from_the_models_service_tasks():
    files = sorted((PROCESSES / "school_enrolment").rglob("*.bpmn"))
    sources = [SourceFile(str(p), p.read_bytes()) for p in files]
    [shared] = metrics_of_sources(sources)
    assert {"居民户口簿", "儿童户口簿", "不动产权证书", "居住证", "社会保险缴费证明"} <= set(shared.shared_materials)
    assert shared.materials_merged == 2  # 入学报名表, 监护人居民身份证: the rest comes from the registers
    # the same check done by a person (no external service task) saves nothing
    by_hand = [SourceFile(s.filename, s.data.replace(b'camunda:type="external" camunda:topic="registry.household"', b""))
               if s.filename.endswith("hukou_verification.bpmn") else s for s in sources]
    [manual] = metrics_of_sources(by_hand)
    assert "居民户口簿" not in manual.shared_materials
    assert manual.materials_merged == shared.materials_merged + 2  # 居民户口簿, 儿童户口簿 asked again


class NoLicence:
    """A licence register without the enterprise (a wrong credit code, or not yet in force)."""

    def lookup(self, register, query):
        return Answer(False)


def test_a_licence_not_on_record_goes_to_a_person_who_may_refuse(engine):
    engine.clock.set(START)
    deploy(engine, "enterprise_change")
    sc = Scenario(engine, "enterprise_change", registry=NoLicence())
    cid = sc.start()
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)
    for _ in range(3):  # the change registration comes first; the follow-on items check its licence
        specs = sc.ready_specs(cid)
        if "licence_missing_tax_change" in specs:
            break
        sc.decide(cid, "change_registration")
    specs = sc.ready_specs(cid)
    assert "licence_missing_tax_change" in specs and "review_tax_change" not in specs
    assert sc.task_data(cid, "licence_missing_tax_change")["tax_change_found"] is False
    sc.complete(cid, "licence_missing_tax_change", {"tax_change_approved": "false",
                                                    "tax_change_reason": "营业执照无法核实"})
    assert "licence_missing_tax_change" not in sc.ready_specs(cid)


def test_a_licence_on_record_goes_straight_to_the_departments_review(engine):
    engine.clock.set(START)
    deploy(engine, "enterprise_change")
    sc = Scenario(engine, "enterprise_change")  # UsualRegisters: the licence is on record
    cid = sc.start()
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)
    sc.decide(cid, "change_registration")
    specs = sc.ready_specs(cid)
    assert "review_tax_change" in specs and not [s for s in specs if s.startswith("licence_missing_")]
    assert sc.task_data(cid, "review_tax_change")["tax_change_found"] is True


def test_a_marriage_not_on_record_goes_to_a_person_before_the_birth_registration(engine):
    engine.clock.set(START)
    deploy(engine, "newborn")
    sc = Scenario(engine, "newborn", registry=NoLicence())  # nothing on record in any register
    cid = sc.start()
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)
    for _ in range(4):  # the birth certificate first; then the registration checks the marriage
        specs = sc.ready_specs(cid)
        if "marriage_missing_birth_registration" in specs:
            break
        for spec in [s for s in specs if s.startswith("review_")]:
            sc.decide(cid, spec.removeprefix("review_"))
    assert "marriage_missing_birth_registration" in sc.ready_specs(cid)
    assert "review_birth_registration" not in sc.ready_specs(cid)
    sc.decide(cid, "birth_registration", task="marriage_missing")
    assert "marriage_missing_birth_registration" not in sc.ready_specs(cid)


def _package(engine, key: str, registry) -> tuple[Scenario, int]:
    engine.clock.set(START)
    deploy(engine, key)
    sc = Scenario(engine, key, registry=registry)
    cid = sc.start()
    app = sc.application(cid)
    app.update({k: "true" for k in app if k.startswith("want_")})
    sc.complete(cid, "apply", app)
    sc.accept(cid)
    return sc, cid


def test_retirement_checks_household_and_contributions_in_the_registers(engine, fake):
    """退休: the 户籍 and 社保参保缴费 checks are service tasks answered by the registers over HTTP; the
    pension review sees what they found instead of asking whether the household is out of province."""
    sc, cid = _package(engine, "retirement", None)
    assert _waiting(engine, cid) == ["registry.household"]
    id_no = json.loads(engine.external_tasks.listing(case_id=cid)[0].variables_json)["applicant_id_no"]
    fake.records[("household", id_no)] = {"hukou_address": "天津市宁河区芦台街道"}
    fake.records[("social_insurance", id_no)] = {"insured": True, "months_paid": 372}
    runner = ConnectorRunner(engine.external_tasks, HttpRegistry(fake.url, 2.0), dict(DEFAULT_CONNECTOR_TOPICS))
    assert runner.run_once().completed == 1
    assert _waiting(engine, cid) == ["registry.social_insurance"]  # then the contributions
    assert runner.run_once().completed == 1
    assert [(r, q) for r, q, _ in fake.requests] == [("household", {"id_no": id_no}),
                                                     ("social_insurance", {"id_no": id_no})]
    review = sc.task_data(cid, "review_pension_retirement")
    assert review["pension_retirement_hukou_found"] is True
    assert review["pension_retirement_insurance_record"] == {"insured": True, "months_paid": 372}
    form = sc.form(sc.item(cid, "review_pension_retirement"))
    assert form.field("pension_retirement_hukou_found").readonly  # shown to the reviewer, not asked
    assert "household_outside_province" not in sc.application(sc.start())  # the register answers it


def test_restaurant_licence_checks_ask_the_licence_register_with_the_issued_code(engine):
    """开办餐饮店: after the business licence is registered, 食品经营许可, 消防检查 and 烟草零售许可 take the
    licence from the e-licence register by the code the registration gave; not on record: a person."""
    asked = []

    class Register:
        def lookup(self, register, query):
            asked.append((register, query))
            return Answer(False)

    sc, cid = _package(engine, "open_restaurant", Register())
    sc.decide(cid, "business_licence")
    code = sc.given["business_licence"]
    specs = sc.ready_specs(cid)
    for item in ("food_permit", "fire_check", "tobacco_retail"):
        assert f"licence_missing_{item}" in specs and f"review_{item}" not in specs
        assert ("licence", {"credit_code": code}) in asked
    assert "review_signboard" in specs  # reviewed alongside the registration, not after it
    sc.complete(cid, "licence_missing_food_permit", {"food_permit_approved": "false", "food_permit_reason": "营业执照无法核实"})
    assert "licence_missing_food_permit" not in sc.ready_specs(cid)


def test_a_failing_licence_register_leaves_the_restaurant_case_with_an_incident(engine, fake):
    sc, cid = _package(engine, "open_restaurant", None)
    sc.decide(cid, "business_licence")  # the driver's register answers nothing now: tasks wait
    fake.fail_with_500 = True
    runner = ConnectorRunner(engine.external_tasks, HttpRegistry(fake.url, 2.0), dict(DEFAULT_CONNECTOR_TOPICS),
                             retries=2, backoff_s=10.0)
    first = runner.run_once()
    assert first.failed >= 3 and first.incidents == 0  # three follow-on items, retried later
    engine.clock.advance(seconds=11)
    second = runner.run_once()
    assert second.incidents == first.failed
    assert cid in [c.id for c in stuck_cases(engine)]
    assert {t.retries for t in engine.external_tasks.listing(case_id=cid) if t.topic == "registry.licence"} == {0}


def test_materials_saved_by_the_retirement_restaurant_and_after_death_checks_are_counted():
    for key, material in (("retirement", "（省外户籍）户口簿"), ("open_restaurant", "营业执照"), ("after_death", "户口簿")):
        sources = [SourceFile(str(p), p.read_bytes()) for p in sorted((PROCESSES / key).rglob("*.bpmn"))]
        [shared] = [m for m in metrics_of_sources(sources) if m.key == key]
        assert material in shared.shared_materials
        by_hand = [SourceFile(s.filename, s.data.replace(b'camunda:type="external"', b"")) for s in sources]
        [manual] = [m for m in metrics_of_sources(by_hand) if m.key == key]
        assert material not in manual.shared_materials
        assert manual.materials_merged == shared.materials_merged + 1


def test_after_death_takes_the_household_from_the_register_not_the_form(engine, fake):
    """身后一件事: 户口注销 looks the deceased up in the household register; the merged form no longer
    asks the 逝者户籍地址."""
    sc, cid = _package(engine, "after_death", HttpRegistry(fake.url, 2.0))
    assert "hukou_address" not in sc.application(sc.start())
    assert not [r for r, _, _ in fake.requests if r == "household"]  # 户口注销 waits for the 死亡证明
    sc.decide(cid, "death_certificate")
    assert "review_hukou_cancellation" in sc.ready_specs(cid)  # the registry answered, then the review
    deceased = [q["id_no"] for r, q, _ in fake.requests if r == "household"]
    assert deceased and deceased[0] == sc.task_data(cid, "review_hukou_cancellation")["deceased_id_no"]
    assert sc.task_data(cid, "review_hukou_cancellation")["hukou_cancellation_hukou_found"] is False

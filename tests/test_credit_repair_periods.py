"""信用修复: a repair application for a record whose minimum publication period (最短公示期, by
severity, from the decision table min_publication_period) has not passed is refused at acceptance
with the reason and the date from which it may be filed; once passed it is accepted."""
from __future__ import annotations

import shutil

from lxml import etree

from tests.test_scenarios_driver import PROCESSES, Scenario, at, deploy

START = at(2025, 9, 26, 9, 0)
DMN = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}


def _apply(engine, severity: str, penalty_date: str) -> tuple[Scenario, int]:
    engine.clock.set(START)
    deploy(engine, "credit_repair")
    sc = Scenario(engine, "credit_repair")
    cid = sc.start()
    sc.apply(cid, severity=severity, penalty_date=penalty_date)
    sc.accept(cid)
    return sc, cid


def test_a_general_record_within_three_months_is_refused_with_the_date(sqlite_engine):
    sc, cid = _apply(sqlite_engine, "general", "2025-08-01")
    assert sc.ready_specs(cid) == ["issue_refusal"]  # no department starts
    reason = sc.task_data(cid, "issue_refusal")["repair_refusal_reason"]
    assert "一般" in reason and "3 个月" in reason and "2025-11-01" in reason and "国办发〔2025〕22号" in reason
    sc.complete(cid, "issue_refusal", {"refusal_delivery": "online"})
    assert sc.status(cid) == "completed"


def test_a_serious_record_is_accepted_on_the_day_its_year_has_passed(sqlite_engine):
    sc, cid = _apply(sqlite_engine, "serious", "2024-09-26")
    assert "review_credit_china_repair" in sc.ready_specs(cid)


def test_a_serious_record_one_day_short_is_refused(sqlite_engine):
    sc, cid = _apply(sqlite_engine, "serious", "2024-09-27")
    assert sc.ready_specs(cid) == ["issue_refusal"]
    assert "2025-09-27" in sc.task_data(cid, "issue_refusal")["repair_refusal_reason"]


def test_a_minor_record_may_be_repaired_at_once(sqlite_engine):
    sc, cid = _apply(sqlite_engine, "minor", "2025-09-25")
    assert "review_credit_china_repair" in sc.ready_specs(cid)


def test_the_periods_are_the_decision_table_s_data(sqlite_engine, tmp_path, monkeypatch):
    """A locality that shortens the period edits only the table: the same application is accepted."""
    folder = tmp_path / "credit_repair"
    shutil.copytree(PROCESSES / "credit_repair", folder)
    dmn = folder / "publication_period.dmn"
    tree = etree.parse(str(dmn))
    (months,) = tree.getroot().xpath("//dmn:rule[@id='rule_general']/dmn:outputEntry[1]/dmn:text", namespaces=DMN)
    assert months.text == "3"
    months.text = "1"
    tree.write(str(dmn), xml_declaration=True, encoding="UTF-8")
    monkeypatch.setattr("tests.test_scenarios_driver.PROCESSES", tmp_path)
    sc, cid = _apply(sqlite_engine, "general", "2025-08-01")
    assert "review_credit_china_repair" in sc.ready_specs(cid)


def test_every_severity_has_a_period_with_a_source():
    root = etree.parse(str(PROCESSES / "credit_repair" / "publication_period.dmn")).getroot()
    rules = root.xpath("//dmn:rule", namespaces=DMN)
    by_severity = {r.xpath("dmn:inputEntry/dmn:text", namespaces=DMN)[0].text.strip('"'):
                   [e.text for e in r.xpath("dmn:outputEntry/dmn:text", namespaces=DMN)] for r in rules}
    assert {k: int(v[0]) for k, v in by_severity.items()} == {"minor": 0, "general": 3, "serious": 12}
    assert by_severity["minor"][1].startswith('"local default')
    assert all("国办发〔2025〕22号" in v[1] for v in by_severity.values())


def test_add_months_counts_calendar_months_to_the_corresponding_day():
    from yijianshi.engine.scripting.functions import add_months

    assert add_months("2025-08-01", 3) == "2025-11-01"
    assert add_months("2025-08-31", 6) == "2026-02-28"  # no 31st: the month's last day
    assert add_months("2024-02-29", 12) == "2025-02-28"
    assert add_months("2025-11-15T10:00:00+08:00", 0) == "2025-11-15"

"""The case page shows the data-sharing checks a case waits for: waiting for the register (with no
register configured they wait), retrying, or an incident for the administrators; and their history."""
from __future__ import annotations

from yijianshi.engine.connectors.registry import RegistryError
from yijianshi.engine.connectors.runner import ConnectorRunner
from yijianshi.engine.settings import DEFAULT_CONNECTOR_TOPICS
from tests.test_scenarios_driver import PROCESSES, Scenario


class Down:
    def lookup(self, register, query):
        raise RegistryError(f"共享接口 {register} 返回 HTTP 503")


def test_the_case_page_shows_waiting_checks_and_incidents(web_engine, client_for):
    admin = client_for("admin")
    web_engine.deploy([PROCESSES / "school_enrolment"])
    sc = Scenario(web_engine, "school_enrolment")
    cid = sc.start()
    app_data = sc.application(cid)
    app_data.update({k: "true" for k in app_data if k.startswith("want_")})
    sc.complete(cid, "apply", app_data)
    sc.accept(cid)  # the registry checks begin; nobody serves them yet
    page = admin.page(f"/inbox/cases/{cid}")
    assert "等待接口办理" in page and "数据共享核验：户籍" in page and "registry.household" in page
    assert "等待共享接口应答" in page and "“数据共享核验：户籍”等待接口办理" in page
    ConnectorRunner(web_engine.external_tasks, Down(), dict(DEFAULT_CONNECTOR_TOPICS), retries=1).run_once()
    page = admin.page(f"/inbox/cases/{cid}")
    assert "故障：重试次数已用完，待管理员处理（共享接口 household 返回 HTTP 503）" in page
    assert "“数据共享核验：户籍”接口失败，重试次数已用完，转为故障" in page

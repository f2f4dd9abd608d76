"""The demo accounts `yijianshi serve` and `yijianshi stack` create when missing (README lists them),
and the demo district they belong to: a few 街镇 and 片区, a department's sub-units, and the
memberships that make the unit routing of engine/access/organisation.py visible in `./run.sh`."""
from __future__ import annotations

from dataclasses import dataclass

from yijianshi.engine.access.org_rules import Membership, Unit


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    display_name: str
    role: str
    departments: tuple[str, ...] = ()


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("zhangsan", "demo-zhangsan", "张三", "citizen"),
    DemoAccount("canyin", "demo-canyin", "蓉城川味餐饮有限公司", "enterprise"),
    DemoAccount("chuangkou", "demo-chuangkou", "王敏（综合窗口）", "front_desk"),
    DemoAccount("shichang", "demo-shichang", "赵磊（市场监管局）", "dept_clerk", ("market",)),
    DemoAccount("chengguan", "demo-chengguan", "钱芳（城市管理局）", "dept_clerk", ("urban_mgmt",)),
    DemoAccount("xiaofang", "demo-xiaofang", "孙强（消防救援大队）", "dept_clerk", ("fire",)),
    # So that every shipped scenario can be worked end to end from the demo accounts:
    DemoAccount("bumen", "demo-bumen", "李娜（其他审批部门）", "dept_clerk", (
        "health", "tax", "public_security", "civil_affairs", "human_resources", "medical_insurance", "housing",
        "natural_resources", "ecology", "education", "agriculture", "hub", "street", "housing_fund",
        "development_reform", "water_company", "telecom", "power_company", "pbc", "industry_regulator",
        "gas_company", "disease_control", "bank", "tobacco", "transport", "traffic_police",
        "disabled_federation", "data_bureau", "culture_tourism", "finance")),
    DemoAccount("lianluo", "demo-lianluo", "陈刚（有需必应 诉求协调与督办）", "dept_clerk", (
        "liaison", "grid_center", "district_leader", "city_office", "discipline", "supervision")),
    DemoAccount("ducha", "demo-ducha", "周洁（督查室）", "supervisor"),
    DemoAccount("sheji", "demo-sheji", "吴涛（流程设计）", "designer"),
    DemoAccount("shenji", "demo-shenji", "郑红（审计）", "auditor"),
    DemoAccount("admin", "demo-admin", "系统管理员", "admin"),
    # The demo district's people (DEMO_UNITS): a street's service staff, a grid worker, a sub-unit clerk.
    DemoAccount("dongcheng", "demo-dongcheng", "刘洋（东城街道为企服务负责人）", "dept_clerk", ("street",)),
    DemoAccount("xicheng", "demo-xicheng", "黄丽（西城街道为企服务）", "dept_clerk", ("street",)),
    DemoAccount("wangge", "demo-wangge", "何军（东城街道第一片区网格员）", "dept_clerk", ("street",)),
    DemoAccount("xiwangge", "demo-xiwangge", "田甜（西城街道第一片区网格员）", "dept_clerk", ("street",)),
    DemoAccount("nanhu", "demo-nanhu", "马超（南湖镇为企服务负责人）", "dept_clerk", ("street",)),
    DemoAccount("shipin", "demo-shipin", "林静（市场监管局食品经营监管科）", "dept_clerk", ("market",)),
)

DEMO_DISTRICT = "shifanqu"
# The registry's departments are units too (seeded at the top of the tree, engine/access/org_seed.py);
# the sub-units below hang under one of them.
DEMO_UNITS: tuple[Unit, ...] = (
    Unit(DEMO_DISTRICT, "示范区", "district"),
    Unit("dongcheng", "东城街道", "street", DEMO_DISTRICT, 1),
    Unit("xicheng", "西城街道", "street", DEMO_DISTRICT, 2),
    Unit("nanhu", "南湖镇", "street", DEMO_DISTRICT, 3),
    Unit("dongcheng_1", "东城街道第一片区", "grid", "dongcheng", 1),
    Unit("dongcheng_2", "东城街道第二片区", "grid", "dongcheng", 2),
    Unit("xicheng_1", "西城街道第一片区", "grid", "xicheng", 1),
    Unit("nanhu_1", "南湖镇第一片区", "grid", "nanhu", 1),
    Unit("market_food", "食品经营监管科", "sub_unit", "market", 1),
    Unit("market_registration", "登记注册科", "sub_unit", "market", 2),
)
DEMO_MEMBERSHIPS: tuple[Membership, ...] = (
    Membership("dongcheng", "dongcheng", "leader"),  # sees the work of 东城街道 and its 片区
    Membership("xicheng", "xicheng"),
    Membership("wangge", "dongcheng_1"),
    Membership("xiwangge", "xicheng_1"),
    Membership("nanhu", "nanhu", "leader"),  # 南湖镇 and its 片区
    Membership("shipin", "market_food"),
    Membership("shichang", "market", "leader"),  # the department and its sub-units
    Membership("chengguan", "urban_mgmt"),
    Membership("xiaofang", "fire"),
    # 李娜 works every other department's items in the demo, unit-routed ones (差评整改, 部门协同办) too
    *(Membership("bumen", code) for code in next(a for a in DEMO_ACCOUNTS if a.username == "bumen").departments
      if code != "street"),
    Membership("lianluo", "grid_center"),  # the 12345 grid centre: unit-routed 有需必应 work it coordinates
)



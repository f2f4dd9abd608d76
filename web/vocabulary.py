"""Words the engine supplies that pages translate at display time: role names, department names,
case states, promised limits. Listed here as literals so that message extraction finds them (tests check that the
lists cover the engine's)."""
from __future__ import annotations


def N_(text: str) -> str:
    """Marks a literal for extraction; the translation happens where it is shown."""
    return text


ROLE_LABELS = (
    N_("申请人（个人）"), N_("申请人（企业）"), N_("综合窗口工作人员"), N_("部门审批人员"), N_("督查人员"),
    N_("流程设计人员"), N_("审计人员"), N_("系统管理员"),
)
# The names of processes/registry.json (departments and roles); a test checks they are the same.
DEPARTMENT_LABELS = (
    N_("申请人"), N_("综合窗口"), N_("督查督办"), N_("部门为企服务联络员"), N_("街镇园区为企服务人员"), N_("包联区领导"), N_("区政务服务办"),
    N_("区网格中心（12345）"), N_("市政务服务办"), N_("区纪委监委、区委组织部"), N_("市场监管局"), N_("城市管理局"), N_("消防救援大队"), N_("烟草专卖局"), N_("卫生健康委"),
    N_("疾病预防控制中心"), N_("公安局"), N_("医疗保障局"), N_("人力资源和社会保障局"), N_("税务局"), N_("住房公积金管理中心"), N_("开户银行"),
    N_("人民银行"), N_("发展改革委（信用中心）"), N_("行业主管部门"), N_("教育局"), N_("规划和自然资源局"), N_("生态环境局"), N_("住房和城乡建设委"),
    N_("民政局"), N_("农业农村局"), N_("供水企业"), N_("供电公司"), N_("燃气公司"), N_("通信运营商"),
    N_("交通运输局"), N_("公安交管部门"), N_("残疾人联合会"), N_("数据局"), N_("文化和旅游局"), N_("财政局"),
)
STATUS_LABELS = (N_("办理中"), N_("已办结"), N_("已撤销"), N_("已撤回"))
LIMIT_WORDS = (N_("%(n)s 个工作日"), N_("%(n)s 日"), N_("%(n)s 小时"))  # engine/modeling/time_limits.py
# The kinds of organisation units and the capacities of their members (engine/access/org_rules.py).
ORG_LABELS = (N_("区"), N_("街镇"), N_("片区"), N_("部门"), N_("科室/下属单位"), N_("办事人员"), N_("负责人（可见下级单位的事项）"))
# engine/notifications/messages.py: kinds and delivery states of notifications
NOTIFICATION_KINDS = (
    N_("一次告知"), N_("已受理"), N_("办理结果"), N_("评价邀请"), N_("新待办"), N_("预警"), N_("超期"),
    N_("12345 答复"), N_("12345 办结"), N_("12345 回访等待"), N_("12345 回访超时"),
)
DELIVERY_STATES = (N_("待发送"), N_("发送中"), N_("已发送"), N_("发送失败"), N_("已取消"))

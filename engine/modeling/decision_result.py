"""Where a business rule task puts its decision's result. With `camunda:resultVariable` it is stored in
that one variable as Camunda 7's `camunda:mapDecisionResult` says: singleEntry (the only output's
value of the only matched rule, null when none matched), singleResult (a dict of the outputs of the
only matched rule), collectEntries (the list of the only output's values), resultList (the default: a
list with a dict of outputs per matched rule). Without resultVariable, SpiffWorkflow's behaviour is
kept: the outputs are merged into the task data under their names (the shipped processes rely on
it). Matched rules: every one for hit policies COLLECT / RULE ORDER / OUTPUT ORDER, else the first."""
from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.camunda.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter
from SpiffWorkflow.dmn.specs import BusinessRuleTaskMixin

from yijianshi.engine.errors import Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA

MAPPINGS = ("singleEntry", "singleResult", "collectEntries", "resultList")
_MANY = {"COLLECT", "RULE ORDER", "OUTPUT ORDER"}


def check_decision_results(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """A mapDecisionResult that Camunda does not know, or one without a resultVariable to store into."""
    problems = []
    for brt in tree.getroot().iter(f"{BPMN}businessRuleTask"):
        mapping = brt.get(f"{CAMUNDA}mapDecisionResult")
        variable = brt.get(f"{CAMUNDA}resultVariable")
        if mapping is not None and mapping not in MAPPINGS:
            problems.append(Problem(filename, brt.sourceline,
                                    f"camunda:mapDecisionResult=\"{mapping}\" 无效。请改为 {', '.join(MAPPINGS)} 之一。",
                                    brt.get("id")))
        if variable is not None and (not variable.isidentifier() or variable.startswith("_")):
            problems.append(Problem(filename, brt.sourceline,
                                    f"camunda:resultVariable=\"{variable}\" 不是有效的变量名。请用字母开头的变量名。",
                                    brt.get("id")))
    return problems


def map_result(mapping: str, results: list[dict[str, Any]]) -> Any:
    """The value Camunda stores for these rule results; ValueError (Chinese) where Camunda fails too."""
    if mapping == "resultList":
        return results
    if mapping == "collectEntries":
        if any(len(r) > 1 for r in results):
            raise ValueError("collectEntries 要求决策表只有一个输出列。请改用 resultList，或删去多余的输出列。")
        return [next(iter(r.values())) for r in results if r]
    if len(results) > 1:
        raise ValueError(f"{mapping} 要求最多命中一条规则，实际命中 {len(results)} 条。"
                         "请改用 collectEntries 或 resultList，或把命中策略改为 FIRST/UNIQUE。")
    if not results:
        return None
    if mapping == "singleResult":
        return results[0]
    if len(results[0]) > 1:
        raise ValueError("singleEntry 要求决策表只有一个输出列。请改用 singleResult，或删去多余的输出列。")
    return next(iter(results[0].values()), None)


class MappedBusinessRuleTask(BusinessRuleTask):
    """A business rule task storing its result in camunda:resultVariable when one is given."""

    def __init__(self, wf_spec, name, dmnEngine, result_variable: str | None = None,
                 map_decision_result: str = "resultList", **kwargs):
        super().__init__(wf_spec, name, dmnEngine, **kwargs)
        self.result_variable = result_variable
        self.map_decision_result = map_decision_result

    def _run_hook(self, my_task):
        if self.result_variable is None:
            return super()._run_hook(my_task)
        engine = self.dmnEngine
        matched = engine.decide(my_task)
        if engine.decision_table.hit_policy not in _MANY:
            matched = matched[:1]
        script = my_task.workflow.script_engine
        results = [{entry.output.name or entry.output.label: script.evaluate(my_task, entry.text) if entry.text else None
                    for entry in rule.outputEntries} for rule in matched]
        try:
            value = map_result(self.map_decision_result, results)
        except ValueError as err:
            raise WorkflowTaskException(f"业务规则任务“{self.bpmn_name or self.name}”：{err}", task=my_task) from None
        my_task.data = {**my_task.data, self.result_variable: value}
        return super(BusinessRuleTaskMixin, self)._run_hook(my_task)


class MappedBusinessRuleTaskParser(BusinessRuleTaskParser):
    """Reads camunda:resultVariable and camunda:mapDecisionResult into the task spec."""

    def create_task(self):
        engine = self.process_parser.parser.get_engine(self.get_decision_ref(self.node), self.node)
        return MappedBusinessRuleTask(self.spec, self.bpmn_id, dmnEngine=engine,
                                      result_variable=self.node.get(f"{CAMUNDA}resultVariable"),
                                      map_decision_result=self.node.get(f"{CAMUNDA}mapDecisionResult") or "resultList",
                                      **self.bpmn_attributes)


class MappedBusinessRuleTaskConverter(BaseBusinessRuleTaskConverter):
    """Saves and restores the result variable and its mapping with the rest of the spec."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["result_variable"] = spec.result_variable
        dct["map_decision_result"] = spec.map_decision_result
        return dct

    def from_dict(self, dct):
        variable = dct.pop("result_variable", None)
        mapping = dct.pop("map_decision_result", "resultList")
        spec = super().from_dict(dct)
        spec.result_variable = variable
        spec.map_decision_result = mapping
        return spec

"""What the lint rules read across all the files checked together: each file's parsed tree and user
tasks, and the processes, decisions, form-field types, time variables and thrown signals they define."""
from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field

from lxml import etree

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta, extension_properties, read_user_tasks
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA


@dataclass
class LintFile:
    path: str
    tree: etree._ElementTree
    kind: str  # bpmn | dmn
    metas: dict[str, UserTaskMeta] = field(default_factory=dict)


@dataclass
class ModelIndex:
    """What the rules need across all files: processes, decisions, variables, signals."""

    files: list[LintFile]
    # Keyed by the id attributes as written; a missing id (None) is the lint rules' to report.
    processes: dict[str | None, tuple[LintFile, etree._Element]] = field(default_factory=dict)
    decisions: set[str | None] = field(default_factory=set)
    # id -> (type, default, min)
    field_types: dict[str | None, tuple[str | None, str | None, str | None]] = field(default_factory=dict)
    time_vars: set[str] = field(default_factory=set)  # variables scripts set from now()/now_iso()
    thrown_signals: set[str] = field(default_factory=set)
    # Every variable something in these files sets: form fields, script assignments, decision and
    # call results, input/output mappings, record_actor, the initiator (for dynamic assignments).
    variables: set[str] = field(default_factory=set)


def index_files(files: list[LintFile]) -> ModelIndex:
    model = ModelIndex(files)
    for f in files:
        root = f.tree.getroot()
        if f.kind == "dmn":
            model.decisions.update(d.get("id") for d in root.iter("{*}decision"))
            model.variables.update(name for o in root.iter("{*}output") if (name := o.get("name")))
            continue
        f.metas, _ = read_user_tasks(f.tree, f.path)
        for process in root.iter(f"{BPMN}process"):
            model.processes.setdefault(process.get("id"), (f, process))
            # what whoever starts the process supplies (an API client's start data), declared
            declared = extension_properties(process).get("input_variables") or ""
            model.variables.update(v for v in declared.replace(",", " ").split() if v)
        for ff in root.iter(f"{CAMUNDA}formField"):
            model.field_types.setdefault(ff.get("id"), (ff.get("type"), ff.get("defaultValue"), min_of(ff)))
        for s in root.iter(f"{BPMN}script"):
            model.time_vars.update(time_assignments(s.text or ""))
            model.variables.update(assignments(s.text or ""))
        model.variables.update(v for v in _set_variables(root) if v)
        model.variables.update(m.record_actor for m in f.metas.values() if m.record_actor)
        for ev in root.iter(f"{BPMN}intermediateThrowEvent", f"{BPMN}endEvent"):
            for sd in ev.iter(f"{BPMN}signalEventDefinition"):
                name = signal_name(root, sd.get("signalRef"))
                if name:
                    model.thrown_signals.add(name)
    return model


def min_of(ff) -> str | None:
    for c in ff.iter(f"{CAMUNDA}constraint"):
        if c.get("name") == "min":
            return c.get("config")
    return None


def _set_variables(root) -> list[str | None]:
    found: list[str | None] = [ff.get("id") for ff in root.iter(f"{CAMUNDA}formField")]
    found += [el.get(f"{CAMUNDA}resultVariable") for el in root.iter(f"{BPMN}businessRuleTask", f"{BPMN}scriptTask")]
    found += [el.get(f"{CAMUNDA}initiator") for el in root.iter(f"{BPMN}startEvent")]
    found += [el.get("target") for el in root.iter(f"{CAMUNDA}in", f"{CAMUNDA}out")]
    found += [el.get("name") for el in root.iter(f"{CAMUNDA}outputParameter", f"{CAMUNDA}inputParameter")]
    return found


def _parsed(script: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(script).strip())
    except SyntaxError:
        return None


def assignments(script: str) -> set[str]:
    """Every name a script assigns."""
    tree = _parsed(script)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def time_assignments(script: str) -> set[str]:
    """Names a script assigns from now() / now_iso(): times later expressions count from."""
    tree = _parsed(script)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id in ("now", "now_iso"):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def signal_name(root, ref: str | None) -> str | None:
    for s in root.iter(f"{BPMN}signal"):
        if s.get("id") == ref:
            return s.get("name") or ref
    return None


def owner_id(el) -> str | None:
    while el is not None:
        if el.get("id") and etree.QName(el).localname not in ("timerEventDefinition", "conditionExpression"):
            return el.get("id")
        el = el.getparent()
    return None

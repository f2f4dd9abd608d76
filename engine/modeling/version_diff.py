"""What changed between two versions of a definition: BPMN/DMN elements added, removed and changed,
matched by element id. Pure functions over the XML sources of the two versions.

An element is something a designer names and places: a flow node, a sequence flow, a lane, a
process, a message, a decision and its table, inputs, outputs and rules. What it says — its type,
its name, its attributes (candidate groups, due date, called element, default flow, …) and
everything inside it that is not an element of its own (conditions, timers, scripts, form fields,
extension properties, the nodes a lane holds, a rule's cells) — is compared as a set of aspects.
Diagram interchange (shapes, edges, coordinates), the incoming/outgoing references that merely
repeat the sequence flows, and the generated ids of inner parts (event definitions, form
constraints) are ignored, so moving a shape or re-saving a file changes nothing."""
from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from yijianshi.engine.modeling.namespaces import BPMN_NS, CAMUNDA_NS, DMN_NAMESPACES, XSI_NS
from yijianshi.engine.modeling.xml_loading import parse_xml

_PREFIXES = {BPMN_NS: "bpmn", CAMUNDA_NS: "camunda", XSI_NS: "xsi", **{ns: "dmn" for ns in DMN_NAMESPACES}}
_MODEL_NAMESPACES = {BPMN_NS, *DMN_NAMESPACES}
# Elements whose children with an id are elements in their own right.
_CONTAINERS = {"definitions", "process", "subProcess", "transaction", "adHocSubProcess", "laneSet",
               "childLaneSet", "collaboration", "decision", "decisionTable"}
# Containers and wrappers that are never elements themselves, whatever their id.
_NOT_ELEMENTS = {"laneSet", "childLaneSet", "documentation", "extensionElements", "ioSpecification"}
# Children that only repeat what other elements say.
_IGNORED_CHILDREN = {"incoming", "outgoing"}
# Child elements told apart by one of their attributes rather than by position.
_CHILD_KEYS = {"formField": "id", "value": "id", "property": "name", "constraint": "name",
               "inputParameter": "name", "outputParameter": "name", "field": "name", "in": "target",
               "out": "target", "taskListener": "event", "executionListener": "event"}


@dataclass(frozen=True)
class Element:
    """One element of a version, with what it says as aspect -> value."""

    scope: str  # the process or decision it belongs to (or the file, for top-level elements)
    id: str
    type: str  # BPMN/DMN local name: userTask, sequenceFlow, decision, rule, …
    name: str
    aspects: tuple[tuple[str, str], ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.scope, self.id


@dataclass(frozen=True)
class AspectChange:
    aspect: str  # "camunda:candidateGroups", "conditionExpression", "extensionElements/…/formField[x]@type"
    old: str | None  # None: the aspect is new
    new: str | None  # None: the aspect was removed

    @property
    def label(self) -> str:
        return readable_aspect(self.aspect)


def readable_aspect(aspect: str) -> str:
    """An aspect path without the wrappers and prefixes every Camunda file has:
    "bpmn:extensionElements/camunda:formData/camunda:formField[x]@label" -> "formField[x]@label"."""
    parts = [p for p in aspect.split("/") if p not in _WRAPPERS]
    return "/".join(p.replace("bpmn:", "").replace("camunda:", "").replace("dmn:", "") for p in parts)


_WRAPPERS = {"bpmn:extensionElements", "camunda:formData", "camunda:properties", "camunda:validation"}


@dataclass(frozen=True)
class ElementChange:
    old: Element
    new: Element
    changes: tuple[AspectChange, ...]


@dataclass
class DefinitionDiff:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def ids(self) -> dict[str, dict[str, list[str]]]:
        """Element ids per scope and kind of change, for marking them on the diagrams."""
        out: dict[str, dict[str, list[str]]] = {}
        for kind, elements in (("added", self.added), ("removed", self.removed),
                               ("changed", [c.new for c in self.changed])):
            for el in elements:
                out.setdefault(el.scope, {"added": [], "removed": [], "changed": []})[kind].append(el.id)
        return out


def diff_definitions(old_sources: Iterable[tuple[str, str | bytes]],
                     new_sources: Iterable[tuple[str, str | bytes]]) -> DefinitionDiff:
    """Compare two versions given as (filename, XML text) pairs of all their files."""
    old = elements_of(old_sources)
    new = elements_of(new_sources)
    result = DefinitionDiff()
    for key, el in new.items():
        before = old.get(key)
        if before is None:
            result.added.append(el)
        elif before.type != el.type or before.name != el.name or before.aspects != el.aspects:
            result.changed.append(ElementChange(before, el, tuple(_aspect_changes(before, el))))
    result.removed = [el for key, el in old.items() if key not in new]
    return result


def elements_of(sources: Iterable[tuple[str, str | bytes]]) -> dict[tuple[str, str], Element]:
    """Every element of these files by (scope, id), in document order."""
    found: dict[tuple[str, str], Element] = {}
    for filename, text in sources:
        data = text.encode("utf-8") if isinstance(text, str) else text
        root = parse_xml(data, filename).getroot()
        _collect(root, Path(filename).name, found)
    return found


def _collect(container: etree._Element, scope: str, found: dict) -> None:
    for child in container:
        if not isinstance(child.tag, str) or etree.QName(child).namespace not in _MODEL_NAMESPACES:
            continue  # diagram interchange, comments, foreign extensions at the top level
        local = etree.QName(child).localname
        if (element_id := child.get("id")) and local not in _NOT_ELEMENTS:
            own_scope = element_id if local in ("process", "decision") else scope
            el = Element(own_scope, element_id, local, (child.get("name") or "").strip(),
                         tuple(sorted(_aspects(child).items())))
            found.setdefault(el.key, el)
            if local in _CONTAINERS:
                _collect(child, own_scope, found)
        elif local in _CONTAINERS:
            _collect(child, scope, found)


def _aspects(el: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in el.attrib.items():
        if name not in ("id", "name"):
            out[_qualified(name)] = value.strip()
    _inner(el, "", out)
    return out


def _inner(el: etree._Element, path: str, out: dict[str, str]) -> None:
    counts: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local in _IGNORED_CHILDREN or _is_element(child, el):
            continue
        tag = _qualified(child.tag)
        key_attr = _CHILD_KEYS.get(local)
        if key_attr and child.get(key_attr):
            segment = f"{tag}[{child.get(key_attr)}]"
        else:
            counts[tag] = counts.get(tag, 0) + 1
            segment = f"{tag}[{counts[tag]}]" if counts[tag] > 1 else tag
        here = f"{path}/{segment}" if path else segment
        said = False
        for name, value in child.attrib.items():
            if name == key_attr or name == "id":
                continue  # generated ids of inner parts mean nothing to a reader
            out[f"{here}@{_qualified(name)}"] = value.strip()
            said = True
        text = _normalise(child.text)
        if text or (not said and len(child) == 0):
            out[here] = text  # a bare marker such as <terminateEventDefinition/> counts by its presence
        _inner(child, here, out)
    # The lane's nodes are a set: their order in the file means nothing.
    if etree.QName(el).localname == "lane" and not path:
        refs = sorted(_normalise(r.text) for r in el.iterchildren(f"{{{BPMN_NS}}}flowNodeRef"))
        for k in [k for k in out if k.startswith("bpmn:flowNodeRef")]:
            del out[k]
        if refs:
            out["bpmn:flowNodeRef"] = ", ".join(refs)


def _is_element(child: etree._Element, parent: etree._Element) -> bool:
    local = etree.QName(child).localname
    return bool(child.get("id")) and local not in _NOT_ELEMENTS \
        and etree.QName(parent).localname in _CONTAINERS \
        and etree.QName(child).namespace in _MODEL_NAMESPACES


def _qualified(name: str) -> str:
    q = etree.QName(name)
    prefix = _PREFIXES.get(q.namespace or "")
    if q.namespace is None:
        return q.localname
    return f"{prefix}:{q.localname}" if prefix else f"{{{q.namespace}}}{q.localname}"


def _normalise(text: str | None) -> str:
    if not text or not text.strip():
        return ""
    lines = textwrap.dedent(text.strip("\n")).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip()


def _aspect_changes(old: Element, new: Element):
    if old.type != new.type:
        yield AspectChange("type", old.type, new.type)
    if old.name != new.name:
        yield AspectChange("name", old.name or None, new.name or None)
    before, after = dict(old.aspects), dict(new.aspects)
    for aspect in sorted(set(before) | set(after)):
        if before.get(aspect) != after.get(aspect):
            yield AspectChange(aspect, before.get(aspect), after.get(aspect))

"""The copy of a BPMN file that people who may not read process sources get for drawing the diagram
(bpmn-js on the case and task pages): the shapes, names, flows and layout stay; what the process
runs does not: script bodies, conditions, timer and loop expressions, extension elements (Camunda
forms, listeners, input/output mappings) and every attribute of another namespace than BPMN's.
Designers, auditors and administrators get the file as deployed."""
from __future__ import annotations

from lxml import etree

from yijianshi.engine.modeling.namespaces import BPMN, BPMN_NS, BPMNDI_NS, DC_NS, DI_NS, XSI_NS
from yijianshi.engine.modeling.xml_loading import parse_xml

_KEPT_NAMESPACES = {BPMN_NS, BPMNDI_NS, DC_NS, DI_NS}
_DROPPED = {f"{BPMN}script", f"{BPMN}extensionElements"}
# Elements whose text is something the engine evaluates, not something people read.
_EMPTIED = {f"{BPMN}{name}" for name in (
    "conditionExpression", "condition", "loopCardinality", "completionCondition", "timeDuration", "timeDate",
    "timeCycle", "dataPath", "messagePath", "formalExpression")}


def drawing_copy(xml: str, filename: str = "diagram.bpmn") -> str:
    """The BPMN text without what it runs (see the module)."""
    tree = parse_xml(xml.encode("utf-8"), filename)
    root = tree.getroot()
    for element in list(root.iter()):
        if not isinstance(element.tag, str):  # comments and processing instructions
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        namespace = etree.QName(element).namespace
        if element.tag in _DROPPED or namespace not in _KEPT_NAMESPACES:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        if element.tag in _EMPTIED:
            element.text = None
        for name in list(element.attrib):
            attribute_ns = etree.QName(name).namespace
            if attribute_ns is not None and attribute_ns not in _KEPT_NAMESPACES and attribute_ns != XSI_NS:
                del element.attrib[name]
    etree.cleanup_namespaces(root)
    return etree.tostring(root, encoding="unicode")

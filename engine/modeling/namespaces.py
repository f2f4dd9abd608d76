"""The XML namespaces of BPMN 2.0, BPMN DI, DMN and the Camunda extensions, as URIs and as the
`{uri}` prefixes lxml tags are written with (`f"{BPMN}userTask"`)."""
from __future__ import annotations

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# DMN 1.1, 1.2 and 1.3, the versions SpiffWorkflow reads.
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
)

BPMN = f"{{{BPMN_NS}}}"
BPMNDI = f"{{{BPMNDI_NS}}}"
DI = f"{{{DI_NS}}}"
DC = f"{{{DC_NS}}}"
CAMUNDA = f"{{{CAMUNDA_NS}}}"

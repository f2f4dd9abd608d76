"""BPMN scripts and expressions: the restricted sandbox and the functions it offers."""

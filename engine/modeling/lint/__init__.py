"""Designer lint: rules beyond the XSD and the engine's own deploy checks, as `file:line` problems a
designer can act on. Pure functions over the parsed files; nothing is deployed or run except
expressions, which are evaluated in the restricted sandbox on sample data.

Rules:
- every user task is assigned to a department or role registered in registry.json (candidateGroups,
  else its lane) and has a form or says it is form-less;
- form field ids are English snake_case, labels and task names are Chinese;
- every call activity calls a process among the files, every business rule task a decision;
- scripts, conditions, timers, due dates and DMN cells use no forbidden construct;
- every timer and due date evaluates on the working-day calendar with sample data to a zoned time
  (or an ISO duration), not before it was armed; region arguments are registered regions;
- every due date and timer names the source of its limit (camunda:property limit_source: a
  《document》clause citation or `local default`), and documented amounts match their scripts
  (a missing source is an error once the files checked together document any, else a warning);
- diverging exclusive and inclusive gateways have a default flow and conditions on the others;
- every message event names a defined message, every thrown message has a payload;
  every signal a process waits for is thrown somewhere;
- scenario metadata for the model metrics (materials, form_fields, visits) is well-formed;
- a file with a diagram draws every element: a shape for every flow node, lane and pool, an edge
  with at least two waypoints for every sequence flow (else the modeler shows them stacked at 0,0).

Warnings (lint_warnings: shown, but they do not stop a deploy):
- two activities on parallel branches write the same case variable without making it local with
  camunda:inputOutput (the one finishing last overwrites the other)."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from yijianshi.engine.errors import DefinitionError, Problem
from yijianshi.engine.modeling.external_service import external_topics
from yijianshi.engine.modeling.definitions import SourceFile, read_sources
from yijianshi.engine.modeling.lint.diagram import check_diagram
from yijianshi.engine.modeling.lint.expressions import check_dmn_expressions, check_expressions
from yijianshi.engine.modeling.lint.gateways import check_gateways
from yijianshi.engine.modeling.lint.limit_sources import check_limit_sources, missing_sources, uses_limit_sources
from yijianshi.engine.modeling.lint.messages_and_signals import check_messages, check_signals
from yijianshi.engine.modeling.lint.model_index import LintFile, index_files
from yijianshi.engine.modeling.lint.parallel_writes import check_parallel_writes
from yijianshi.engine.modeling.lint.references import check_call_targets
from yijianshi.engine.modeling.lint.scenario_metadata import check_scenario_metadata
from yijianshi.engine.modeling.lint.time_expressions import check_timers
from yijianshi.engine.modeling.lint.user_tasks import check_dynamic_assignments, check_user_tasks
from yijianshi.engine.modeling.registry import Registry, find_registry, load_registry
from yijianshi.engine.modeling.xml_loading import kind_of, parse_xml


def lint_files(paths: Iterable[str | Path], registry: Registry | None = None) -> list[Problem]:
    """Every lint problem in the BPMN/DMN files at these paths (folders are searched recursively).
    The registry is the registry.json in or above the paths unless one is given."""
    paths = list(paths)
    problems: list[Problem] = []
    try:
        sources = read_sources(paths)
    except DefinitionError as err:
        return err.problems
    if registry is None:
        found = find_registry(paths)
        if found is not None:
            try:
                registry = load_registry(found)
            except DefinitionError as err:
                problems.extend(err.problems)
    return problems + lint_sources(sources, registry)


def _read(sources: Iterable[SourceFile]) -> list[LintFile]:
    files = []
    for src in sources:
        try:
            tree = parse_xml(src.data, src.filename)
            files.append(LintFile(src.filename, tree, kind_of(tree)))
        except DefinitionError:
            continue  # unreadable files are the schema check's to report
    return files


def lint_warnings(sources: Iterable[SourceFile]) -> list[Problem]:
    """What is worth a second look in these files but may be meant (validate, deploy and the web
    upload show these as notes): activities on parallel branches writing the same variable."""
    files = _read(sources)
    model = index_files(files)
    warnings = [w for f in files if f.kind == "bpmn" for w in check_parallel_writes(f, model)]
    if not uses_limit_sources(files):  # else LS01 is an error of lint_sources
        warnings += [w for f in files if f.kind == "bpmn" for w in missing_sources(f)]
    return warnings


def lint_sources(sources: Iterable[SourceFile], registry: Registry | None = None) -> list[Problem]:
    """Every lint problem in these files, read already (an upload); without a registry the rules
    that need one are skipped."""
    problems: list[Problem] = []
    files = _read(sources)
    model = index_files(files)
    sources_required = uses_limit_sources(files)
    for f in files:
        if f.kind == "dmn":
            problems += check_dmn_expressions(f)
            continue
        problems += check_user_tasks(f, registry)
        problems += check_dynamic_assignments(f, model)
        problems += check_call_targets(f, model)
        problems += check_expressions(f)
        problems += check_timers(f, model, registry)
        problems += check_limit_sources(f, sources_required)
        problems += check_gateways(f)
        problems += check_messages(f)
        problems += check_signals(f, model)
        problems += check_scenario_metadata(f, model)
        problems += check_diagram(f)
        problems += external_topics(f.tree, f.path)[1]  # Java implementations: use an external task topic
    return problems

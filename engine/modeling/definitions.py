"""Deploying BPMN/DMN files as versioned process definitions.

A definition version is identified by the content hash of every file it uses (its own file, the files
of the processes it calls, the DMN files of its decisions). A deploy validates every file first and
writes nothing unless all of them are good."""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser

from yijianshi.engine.modeling.call_mappings import MappedCallActivity, MappedCallActivityParser, check_call_mappings
from yijianshi.engine.modeling.decision_result import (
    MappedBusinessRuleTask,
    MappedBusinessRuleTaskParser,
    check_decision_results,
)
from yijianshi.engine.modeling.dmn_language import translate_tree, uses_feel
from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta, read_initiators, read_start_forms, read_user_tasks
from yijianshi.engine.modeling.forms import Form
from yijianshi.engine.cases.state_codec import SpecCodec
from yijianshi.engine.errors import DefinitionError, NotFound, Problem
from yijianshi.engine.modeling.external_service import external_topics, mark_external
from yijianshi.engine.modeling.input_output import Mapping, attach_input_output, read_input_outputs
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.timer_text import make_executable
from yijianshi.engine.modeling.definition_problems import (
    check_duplicate_processes,
    check_expressions,
    check_timers,
    problem_from_exception,
    problem_from_validation,
    unsavable_elements,
)
from yijianshi.engine.modeling.xml_loading import (
    MAX_FILE_BYTES,
    is_executable,
    kind_of,
    parse_xml,
    to_utf8,
    validate_bpmn_schema,
    validate_dmn_schema,
)

SOURCE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn")
log = logging.getLogger("yijianshi.deploy")


@dataclass(frozen=True)
class SourceFile:
    filename: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ParsedDefinition:
    """One executable process of a deployment, ready to store."""

    key: str
    name: str
    content_hash: str
    spec_json: str
    task_meta: dict[str, UserTaskMeta]
    files: list[dict]
    start_form: Form | None = None  # camunda:formData on the process's start event
    initiator: str | None = None  # camunda:initiator on the start event: the variable of the starter's id


@dataclass
class ParsedDeployment:
    definitions: list[ParsedDefinition]
    sources: dict[str, SourceFile]  # sha256 -> file (as UTF-8, whatever encoding it was uploaded in)
    kinds: dict[str, str]  # sha256 -> "bpmn" | "dmn"
    warnings: list[Problem] = field(default_factory=list)  # worth fixing, but nothing stops the deploy


MULTI_INSTANCE_CHILD = " [child]"


@dataclass
class LoadedDefinition:
    """A stored definition version with its spec objects restored (cached, shared by its cases)."""

    id: int
    key: str
    version: int
    name: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    task_meta: dict[str, UserTaskMeta]
    # The start-event form: the data a case is started with, validated by CaseService.start_case.
    start_form: Form | None = None
    # camunda:initiator: the variable set to the starting user's id when a case starts.
    initiator: str | None = None

    def meta_for(self, process_id: str, task_spec: str) -> UserTaskMeta | None:
        found = self.task_meta.get(f"{process_id}:{task_spec}")
        if found is None and task_spec.endswith(MULTI_INSTANCE_CHILD):
            # One instance of a multi-instance task: SpiffWorkflow names its spec "<id> [child]".
            found = self.task_meta.get(f"{process_id}:{task_spec[:-len(MULTI_INSTANCE_CHILD)]}")
        return found


def read_sources(paths: list[str | Path]) -> list[SourceFile]:
    """Collect BPMN/DMN files from files and folders (folders are searched recursively)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(SOURCE_SUFFIXES)))
        elif p.exists():
            found.append(p)
        else:
            raise DefinitionError([Problem(str(p), None, "文件或目录不存在，请检查路径。")])
    sources = []
    for f in found:
        if f.stat().st_size > MAX_FILE_BYTES:
            raise DefinitionError([Problem(str(f), None, f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB 上限。")])
        sources.append(SourceFile(str(f), f.read_bytes()))
    return sources


class _Parser(CamundaParser):
    """SpiffWorkflow's Camunda parser, with call activities that apply camunda:in / camunda:out."""

    OVERRIDE_PARSER_CLASSES = {**CamundaParser.OVERRIDE_PARSER_CLASSES,
                               full_tag("callActivity"): (MappedCallActivityParser, MappedCallActivity),
                               full_tag("businessRuleTask"): (MappedBusinessRuleTaskParser, MappedBusinessRuleTask)}


def parse_deployment(sources: list[SourceFile]) -> ParsedDeployment:
    """Validate and parse a set of files; raises DefinitionError listing every problem found."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    trees: list[tuple[SourceFile, etree._ElementTree, str]] = []
    for src in sources:
        try:
            # Any declared encoding is read; from here on (stored copy included) the file is UTF-8.
            src = SourceFile(src.filename, to_utf8(src.data, src.filename))
            tree = parse_xml(src.data, src.filename)
            kind = kind_of(tree)
        except DefinitionError as err:
            problems.extend(err.problems)
            continue
        schema = validate_bpmn_schema if kind == "bpmn" else validate_dmn_schema
        found = schema(tree, src.filename)
        problems.extend(found)
        if not found:
            trees.append((src, tree, kind))
    if problems:
        raise DefinitionError(problems)
    if not trees:
        raise DefinitionError([Problem("(部署)", None, "没有找到可部署的 BPMN 或 DMN 文件。")])

    parser = _Parser()
    task_meta: dict[str, UserTaskMeta] = {}
    start_forms: dict[str, Form] = {}
    initiators: dict[str, str] = {}
    topics: dict[tuple[str, str], str] = {}  # external service tasks
    io_mappings: dict[tuple[str, str], Mapping] = {}  # camunda:inputOutput of activities
    process_files: dict[str | None, SourceFile] = {}  # by id as written (None: missing)
    decision_files: dict[str | None, SourceFile] = {}  # by id as written (None: missing)
    feel_decisions: set[str | None] = set()  # decisions whose tables were written in FEEL
    for src, tree, kind in trees:
        try:
            if kind == "dmn":
                # FEEL cells become the Python the DMN engine evaluates (stored so with the spec).
                in_feel = uses_feel(tree)
                feel_problems = translate_tree(tree, src.filename)
                if feel_problems:
                    problems.extend(feel_problems)
                    continue
                parser.add_dmn_xml(tree.getroot(), filename=src.filename)
                for decision in tree.getroot().iter("{*}decision"):
                    decision_files[decision.get("id")] = src
                    if in_feel:
                        feel_decisions.add(decision.get("id"))
                continue
            check_duplicate_processes(tree, src, process_files, problems)
            problems.extend(check_timers(tree, src.filename))
            make_executable(tree)  # Camunda's unquoted ISO timer literals, as SpiffWorkflow evaluates them
            parser.add_bpmn_xml(tree, filename=src.filename)
            metas, meta_problems = read_user_tasks(tree, src.filename)
            problems.extend(meta_problems)
            forms, form_problems = read_start_forms(tree, src.filename)
            problems.extend(form_problems)
            start_forms.update(forms)
            found_initiators, initiator_problems = read_initiators(tree, src.filename)
            problems.extend(initiator_problems)
            initiators.update(found_initiators)
            problems.extend(check_expressions(tree, src.filename))
            problems.extend(check_call_mappings(tree, src.filename))
            problems.extend(check_decision_results(tree, src.filename))
            found_topics, topic_problems = external_topics(tree, src.filename)
            topics.update(found_topics)
            problems.extend(topic_problems)
            found_mappings, mapping_problems = read_input_outputs(tree, src.filename)
            io_mappings.update(found_mappings)
            problems.extend(mapping_problems)
            for meta in metas.values():
                task_meta[f"{meta.process_id}:{meta.task_id}"] = meta
            for process in tree.getroot().iter(f"{BPMN}process"):
                process_files[process.get("id")] = src
        except ValidationException as err:
            problems.append(problem_from_validation(err, src.filename, tree))
        except Exception as err:  # a hostile file must end as a message, never a traceback
            problems.append(problem_from_exception(err, src.filename, tree))
    if problems:
        raise DefinitionError(problems)
    warnings.extend(_executable_warnings(trees))

    codec = SpecCodec()
    definitions = []
    for src, tree, kind in trees:
        if kind != "bpmn":
            continue
        for process in tree.getroot().iter(f"{BPMN}process"):
            if not is_executable(process):
                continue
            try:
                built = _build(parser, codec, process, src, process_files, decision_files, task_meta, topics,
                               io_mappings, feel_decisions)
                built.start_form = start_forms.get(built.key)
                built.initiator = initiators.get(built.key)
                definitions.append(built)
            except ValidationException as err:
                problems.append(problem_from_validation(err, src.filename, tree))
            except DefinitionError as err:
                problems.extend(err.problems)
            except Exception as err:
                problems.append(problem_from_exception(err, src.filename, tree, process))
    _check_user_tasks(definitions, problems)
    if problems:
        raise DefinitionError(problems)
    if not definitions:
        raise DefinitionError(_no_executable_process(trees))
    return ParsedDeployment(
        definitions=definitions,
        sources={s.sha256: s for s, _, _ in trees},
        kinds={s.sha256: k for s, _, k in trees},
        warnings=warnings,
    )


_EXECUTABLE_FIX = "请在 <bpmn:process> 上加 isExecutable=\"true\"（Camunda Modeler：选中流程，勾选“Executable”）。"


def _executable_warnings(trees) -> list[Problem]:
    """A process without isExecutable is deployed, as Camunda 7 does, with a note naming the fix."""
    found = []
    for src, tree, kind in trees:
        if kind != "bpmn":
            continue
        for process in tree.getroot().iter(f"{BPMN}process"):
            if process.get("isExecutable") is None:
                found.append(Problem(src.filename, process.sourceline,
                                     "流程没有声明 isExecutable，已按可执行流程部署（与 Camunda 7 相同）。"
                                     + _EXECUTABLE_FIX, process.get("id")))
    return found


def _no_executable_process(trees) -> list[Problem]:
    """Nothing to deploy: one message per process marked isExecutable="false"."""
    found = [Problem(src.filename, process.sourceline,
                     "流程标记为不可执行（isExecutable=\"false\"），部署中没有任何可执行的流程。" + _EXECUTABLE_FIX,
                     process.get("id"))
             for src, tree, kind in trees if kind == "bpmn"
             for process in tree.getroot().iter(f"{BPMN}process")]
    return found or [Problem(trees[0][0].filename, None,
                             "文件中没有流程（<bpmn:process>）。请上传包含流程的 .bpmn 文件，或与流程一起部署此 DMN 文件。")]


def _build(parser, codec, process, src, process_files, decision_files, task_meta, topics,
           io_mappings, feel_decisions=frozenset()) -> ParsedDefinition:
    key = process.get("id")
    spec = parser.get_spec(key)
    subs = parser.get_subprocess_specs(key)
    mark_external([spec, *subs.values()], topics)
    attach_input_output([spec, *subs.values()], io_mappings)
    used = {key: src}
    for sub_id in subs:
        if sub_id in process_files:
            used[sub_id] = process_files[sub_id]
    process_ids = set(used)
    files = {s.sha256: s for s in used.values()}
    refs = set()
    for pid in process_ids:
        node = parser.get_process_parser(pid).node
        for brt in node.iter(f"{BPMN}businessRuleTask"):
            ref = brt.get(f"{CAMUNDA}decisionRef")
            refs.add(ref)
            if ref in decision_files:
                files[decision_files[ref].sha256] = decision_files[ref]
    mark = _behaviour_mark([spec, *subs.values()]) + (_FEEL_MARK if refs & feel_decisions else "")
    content_hash = hashlib.sha256(("".join(sorted(files)) + mark).encode()).hexdigest()
    meta = {k: m for k, m in task_meta.items() if m.process_id in process_ids or m.process_id in subs}
    try:
        spec_json = codec.dumps(spec, subs)
    except (TypeError, ValueError) as err:
        found = unsavable_elements(parser, codec, [spec, *subs.values()])
        if not found:
            raise
        raise DefinitionError(found) from err
    return ParsedDefinition(
        key=key,
        name=process.get("name") or key,
        content_hash=content_hash,
        spec_json=spec_json,
        task_meta=meta,
        files=sorted(({"filename": Path(s.filename).name, "sha256": h} for h, s in files.items()),
                     key=lambda f: f["filename"]),
    )


# Versions stored before call activities applied camunda:in / camunda:out ran them ignoring the
# mappings; the same files deployed again make a new version that applies them (old cases keep theirs).
_MAPPINGS_MARK = "+call-mappings/1"


# Likewise for decision tables in FEEL (earlier releases evaluated their cells as Python) and business
# rule tasks with camunda:resultVariable (earlier releases merged the outputs into the case data).
_FEEL_MARK = "+dmn-feel/1"
_RESULT_MARK = "+decision-result/1"


def _behaviour_mark(specs) -> str:
    """What the content hash adds for files this engine runs differently from earlier releases."""
    tasks = [ts for spec in specs for ts in spec.task_specs.values()]
    mapped = any(getattr(ts, "variable_mappings", None) is not None for ts in tasks)
    results = any(getattr(ts, "result_variable", None) is not None for ts in tasks)
    return (_MAPPINGS_MARK if mapped else "") + (_RESULT_MARK if results else "")


def _check_user_tasks(definitions: list[ParsedDefinition], problems: list[Problem]) -> None:
    seen = set()
    for d in definitions:
        for meta in d.task_meta.values():
            if (meta.process_id, meta.task_id) in seen:
                continue
            seen.add((meta.process_id, meta.task_id))
            if not meta.assigned:
                problems.append(Problem(
                    d.files[0]["filename"] if len(d.files) == 1 else meta.process_id, meta.line,
                    "用户任务没有办理部门或角色：请设置 camunda:candidateGroups（或 camunda:assignee、"
                    "camunda:candidateUsers），或把任务放进以部门命名的泳道。",
                    meta.task_id))


class DefinitionCache:
    """Restored spec objects per definition version; parsing a spec costs milliseconds, so once."""

    def __init__(self) -> None:
        self._by_id: dict[int, LoadedDefinition] = {}
        self._lock = threading.Lock()
        self._codec = SpecCodec()

    def get(self, row) -> LoadedDefinition:
        found = self._by_id.get(row.id)
        if found is not None:
            return found
        spec, subs = self._codec.loads(row.spec_json)
        meta = {k: UserTaskMeta.from_dict(v) for k, v in json.loads(row.task_meta_json).items()}
        start_json = getattr(row, "start_form_json", None)
        start_form = Form.from_dict(json.loads(start_json)) if start_json else None
        loaded = LoadedDefinition(row.id, row.key, row.version, row.name, spec, subs, meta, start_form,
                                  getattr(row, "initiator", None))
        with self._lock:
            return self._by_id.setdefault(row.id, loaded)

    def by_id(self, conn, definition_id: int) -> LoadedDefinition:
        """Definition versions never change once stored, so a hit needs no database round trip."""
        found = self._by_id.get(definition_id)
        if found is not None:
            return found
        from yijianshi.storage import definition_store

        row = definition_store.by_id(conn, definition_id)
        if row is None:
            raise NotFound(f"流程定义 {definition_id} 不存在。")
        return self.get(row)


@dataclass(frozen=True)
class DeployedVersion:
    key: str
    version: int
    id: int
    created: bool  # False: the files were unchanged, the latest version was kept

    def __str__(self) -> str:
        what = "已部署新版本" if self.created else "未变化，沿用"
        return f"{self.key} v{self.version}（{what}）"


def store_deployment(conn, parsed: ParsedDeployment, actor: str, at) -> list[DeployedVersion]:
    """Write a parsed deployment in the caller's transaction: new versions only where content changed."""
    from yijianshi.storage import definition_store as store

    results = []
    for d in parsed.definitions:
        current = store.latest(conn, d.key)
        if current is not None and current.content_hash == d.content_hash:
            results.append(DeployedVersion(d.key, current.version, current.id, False))
            continue
        for f in d.files:
            src = parsed.sources[f["sha256"]]
            store.store_file_if_new(conn, f["sha256"], f["filename"], parsed.kinds[f["sha256"]],
                                    src.data.decode("utf-8"))
        version = (current.version + 1) if current is not None else 1
        new_id = store.insert_definition(conn, dict(
            key=d.key, version=version, name=d.name, content_hash=d.content_hash, spec_json=d.spec_json,
            task_meta_json=json.dumps({k: m.to_dict() for k, m in d.task_meta.items()}, ensure_ascii=False),
            start_form_json=(json.dumps(d.start_form.to_dict(), ensure_ascii=False)
                             if d.start_form is not None else None),
            initiator=d.initiator, files_json=json.dumps(d.files, ensure_ascii=False), deployed_at=at, deployed_by=actor,
        ))
        results.append(DeployedVersion(d.key, version, new_id, True))
    return results

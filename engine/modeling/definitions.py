"""Deploying BPMN/DMN files as versioned process definitions.

A definition version is identified by the content hash of every file it uses (its own file, the files
of the processes it calls, the DMN files of its decisions). A deploy validates every file first and
writes nothing unless all of them are good."""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.exceptions import SpiffWorkflowException

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta, read_user_tasks
from yijianshi.engine.cases.state_codec import SpecCodec
from yijianshi.engine.errors import DefinitionError, NotFound, Problem
from yijianshi.engine.modeling.external_service import external_topics, mark_external
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.timer_text import TIMER_KINDS, executable, make_executable, timer_problem
from yijianshi.engine.scripting.sandbox import check_script
from yijianshi.engine.modeling.xml_loading import (
    MAX_FILE_BYTES,
    kind_of,
    parse_xml,
    validate_bpmn_schema,
    validate_dmn_schema,
)

SOURCE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn")


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


@dataclass
class ParsedDeployment:
    definitions: list[ParsedDefinition]
    sources: dict[str, SourceFile]  # sha256 -> file
    kinds: dict[str, str]  # sha256 -> "bpmn" | "dmn"


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

    def meta_for(self, process_id: str, task_spec: str) -> UserTaskMeta | None:
        return self.task_meta.get(f"{process_id}:{task_spec}")


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


def parse_deployment(sources: list[SourceFile]) -> ParsedDeployment:
    """Validate and parse a set of files; raises DefinitionError listing every problem found."""
    problems: list[Problem] = []
    trees: list[tuple[SourceFile, etree._ElementTree, str]] = []
    for src in sources:
        try:
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

    parser = CamundaParser()
    task_meta: dict[str, UserTaskMeta] = {}
    topics: dict[tuple[str, str], str] = {}  # external service tasks
    process_files: dict[str | None, SourceFile] = {}  # by id as written (None: missing)
    decision_files: dict[str | None, SourceFile] = {}  # by id as written (None: missing)
    for src, tree, kind in trees:
        try:
            if kind == "dmn":
                parser.add_dmn_xml(tree.getroot(), filename=src.filename)
                for decision in tree.getroot().iter("{*}decision"):
                    decision_files[decision.get("id")] = src
                continue
            _check_duplicate_processes(tree, src, process_files, problems)
            problems.extend(_check_timers(tree, src.filename))
            make_executable(tree)  # Camunda's unquoted ISO timer literals, as SpiffWorkflow evaluates them
            parser.add_bpmn_xml(tree, filename=src.filename)
            metas, meta_problems = read_user_tasks(tree, src.filename)
            problems.extend(meta_problems)
            problems.extend(_check_expressions(tree, src.filename))
            found_topics, topic_problems = external_topics(tree, src.filename)
            topics.update(found_topics)
            problems.extend(topic_problems)
            for meta in metas.values():
                task_meta[f"{meta.process_id}:{meta.task_id}"] = meta
            for process in tree.getroot().iter(f"{BPMN}process"):
                process_files[process.get("id")] = src
        except ValidationException as err:
            problems.append(_problem_from_validation(err, src.filename))
        except Exception as err:  # a hostile file must end as a message, never a traceback
            problems.append(Problem(src.filename, None, f"无法解析此文件：{_describe(err)}"))
    if problems:
        raise DefinitionError(problems)

    codec = SpecCodec()
    definitions = []
    for src, tree, kind in trees:
        if kind != "bpmn":
            continue
        for process in tree.getroot().iter(f"{BPMN}process"):
            if process.get("isExecutable", "false").lower() != "true":
                continue
            try:
                definitions.append(_build(parser, codec, process, src, process_files, decision_files, task_meta,
                                          topics))
            except ValidationException as err:
                problems.append(_problem_from_validation(err, src.filename))
            except DefinitionError as err:
                problems.extend(err.problems)
            except Exception as err:
                problems.append(Problem(src.filename, process.sourceline, f"流程无法解析：{_describe(err)}",
                                        process.get("id")))
    _check_user_tasks(definitions, problems)
    if problems:
        raise DefinitionError(problems)
    if not definitions:
        raise DefinitionError([Problem(trees[0][0].filename, None,
                                       "没有可执行的流程：请在流程上设置 isExecutable=\"true\"。")])
    return ParsedDeployment(
        definitions=definitions,
        sources={s.sha256: s for s, _, _ in trees},
        kinds={s.sha256: k for s, _, k in trees},
    )


def _build(parser, codec, process, src, process_files, decision_files, task_meta, topics) -> ParsedDefinition:
    key = process.get("id")
    spec = parser.get_spec(key)
    subs = parser.get_subprocess_specs(key)
    mark_external([spec, *subs.values()], topics)
    used = {key: src}
    for sub_id in subs:
        if sub_id in process_files:
            used[sub_id] = process_files[sub_id]
    process_ids = set(used)
    files = {s.sha256: s for s in used.values()}
    for pid in process_ids:
        node = parser.get_process_parser(pid).node
        for brt in node.iter(f"{BPMN}businessRuleTask"):
            ref = brt.get(f"{CAMUNDA}decisionRef")
            if ref in decision_files:
                files[decision_files[ref].sha256] = decision_files[ref]
    content_hash = hashlib.sha256("".join(sorted(files)).encode()).hexdigest()
    meta = {k: m for k, m in task_meta.items() if m.process_id in process_ids}
    return ParsedDefinition(
        key=key,
        name=process.get("name") or key,
        content_hash=content_hash,
        spec_json=codec.dumps(spec, subs),
        task_meta=meta,
        files=sorted(({"filename": Path(s.filename).name, "sha256": h} for h, s in files.items()),
                     key=lambda f: f["filename"]),
    )


_EXPRESSION_TAGS = {
    f"{BPMN}script": "exec",
    f"{BPMN}conditionExpression": "eval",
    f"{BPMN}timeDate": "eval",
    f"{BPMN}timeDuration": "eval",
    f"{BPMN}timeCycle": "eval",
}


def _check_expressions(tree, filename: str) -> list[Problem]:
    """Compile every script and expression in the restricted dialect now, so a forbidden construct
    is a deploy-time problem with a line number rather than a failure in a running case."""
    problems = []
    for el in tree.getroot().iter(*_EXPRESSION_TAGS):
        if not (el.text or "").strip() or timer_problem(etree.QName(el).localname, el.text or ""):
            continue  # a timer text that is no expression at all has its own message (_check_timers)
        for message in check_script(el.text, _EXPRESSION_TAGS[el.tag]):
            problems.append(Problem(filename, el.sourceline, f"表达式或脚本不被允许：{message}", _owner(el)))
    for el in tree.getroot().iter(f"{BPMN}userTask"):
        due = el.get(f"{CAMUNDA}dueDate")
        if due:
            for message in check_script(executable("timeDate", due), "eval"):
                problems.append(Problem(filename, el.sourceline, f"办理期限表达式不被允许：{message}", el.get("id")))
    return problems


def _check_timers(tree, filename: str) -> list[Problem]:
    """Timer texts that are neither an ISO 8601 literal nor an expression (e.g. a cron cycle)."""
    problems = []
    for el in tree.getroot().iter(*(f"{BPMN}{kind}" for kind in TIMER_KINDS)):
        message = timer_problem(etree.QName(el).localname, el.text or "")
        if message:
            problems.append(Problem(filename, el.sourceline, message, _owner(el)))
    return problems


def _owner(el) -> str | None:
    """The id of the flow element a nested expression belongs to (the event, not its definition)."""
    while el is not None:
        if el.get("id") and etree.QName(el).localname not in ("timerEventDefinition", "conditionExpression"):
            return el.get("id")
        el = el.getparent()
    return None


def _check_duplicate_processes(tree, src, process_files, problems) -> None:
    for process in tree.getroot().iter(f"{BPMN}process"):
        pid = process.get("id")
        if pid in process_files and process_files[pid].filename != src.filename:
            problems.append(Problem(src.filename, process.sourceline,
                                    f"流程 ID “{pid}” 已在 {process_files[pid].filename} 中定义，请改用唯一的 ID。",
                                    pid))


def _check_user_tasks(definitions: list[ParsedDefinition], problems: list[Problem]) -> None:
    seen = set()
    for d in definitions:
        for meta in d.task_meta.values():
            if (meta.process_id, meta.task_id) in seen:
                continue
            seen.add((meta.process_id, meta.task_id))
            if not meta.groups:
                problems.append(Problem(
                    d.files[0]["filename"] if len(d.files) == 1 else meta.process_id, meta.line,
                    "用户任务没有办理部门或角色：请设置 camunda:candidateGroups，或把任务放进以部门命名的泳道。",
                    meta.task_id))


def _problem_from_validation(err: ValidationException, filename: str) -> Problem:
    line = err.line_number if isinstance(err.line_number, int) else None
    element = err.id or err.tag or None
    return Problem(err.file_name or filename, line, f"流程结构有误：{err}", element)


def _describe(err: Exception) -> str:
    if isinstance(err, SpiffWorkflowException):
        return str(err)
    return f"{type(err).__name__}: {err}"


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
        loaded = LoadedDefinition(row.id, row.key, row.version, row.name, spec, subs, meta)
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
            files_json=json.dumps(d.files, ensure_ascii=False), deployed_at=at, deployed_by=actor,
        ))
        results.append(DeployedVersion(d.key, version, new_id, True))
    return results

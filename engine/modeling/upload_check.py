"""Files a designer uploads to deploy: checked as the deploy will check them plus the designer lint,
completed with the deployed files they refer to, and deployed all-or-nothing.

A process in the upload may call a process, or use a decision, that is deployed already and not in
the upload. The deploy needs those files too, so the latest deployed version's files of every such
process (and the deployed DMN file of every such decision) are included: checked with the upload,
stored with the new versions, but only the processes of the uploaded files get new versions."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from yijianshi.engine.modeling.definitions import ParsedDeployment, SourceFile, parse_deployment, store_deployment
from yijianshi.engine.errors import DefinitionError, Problem
from yijianshi.engine.modeling.namespaces import BPMN, CAMUNDA
from yijianshi.engine.modeling.registry import Registry
from yijianshi.engine.modeling.xml_loading import is_executable, kind_of, parse_xml

INCLUDED_PREFIX = "已部署/"  # how an included file is named in problems and on the page


@dataclass(frozen=True)
class PlannedVersion:
    key: str
    name: str
    version: int  # the version it would get, or keep when unchanged
    new: bool


@dataclass
class Review:
    """The result of checking an upload; deployable when it has no problems."""

    uploaded: list[SourceFile]
    included: list[SourceFile] = field(default_factory=list)
    included_for: dict[str, list[str]] = field(default_factory=dict)  # included filename -> ids it resolves
    problems: list[Problem] = field(default_factory=list)  # the deploy validation's
    lint: list[Problem] = field(default_factory=list)  # the designer lint's, in the uploaded files
    warnings: list[Problem] = field(default_factory=list)  # worth fixing; they do not stop the deploy
    planned: list[PlannedVersion] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Deployable: like `yijianshi validate`, a lint problem blocks as much as a deploy error."""
        return not self.problems and not self.lint


@dataclass
class _Refs:
    processes: set[str | None] = field(default_factory=set)  # defined (None: a process without an id)
    decisions: set[str] = field(default_factory=set)  # defined
    executable: set[str | None] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    decision_refs: set[str] = field(default_factory=set)

    def add(self, src: SourceFile) -> None:
        try:
            tree = parse_xml(src.data, src.filename)
            kind = kind_of(tree)
        except (DefinitionError, ValueError):
            return  # the deploy check reports unreadable files
        root = tree.getroot()
        if kind == "dmn":
            self.decisions.update(i for d in root.iter("{*}decision") if (i := d.get("id")))
            return
        for process in root.iter(f"{BPMN}process"):
            self.processes.add(process.get("id"))
            if is_executable(process):
                self.executable.add(process.get("id"))
        self.called.update(called for c in root.iter(f"{BPMN}callActivity")
                           if (called := (c.get("calledElement") or "").strip()))
        self.decision_refs.update(ref for b in root.iter(f"{BPMN}businessRuleTask")
                                  if (ref := b.get(f"{CAMUNDA}decisionRef")))

    @property
    def missing_processes(self) -> set[str]:
        return self.called - self.processes

    @property
    def missing_decisions(self) -> set[str]:
        return self.decision_refs - self.decisions


def review_upload(engine, uploaded: list[SourceFile], registry: Registry | None) -> Review:
    """Check uploaded files without writing anything: the deploy validation of the upload with the
    deployed files it refers to, the designer lint of the uploaded files, and the versions a deploy
    would create."""
    from yijianshi.storage import definition_store

    review = Review(uploaded=list(uploaded))
    with engine.db.reader.connect() as conn:
        latest = {row.key: row for row in definition_store.latest_versions(conn)}
        review.included, review.included_for = _included_files(conn, uploaded, latest)
    parsed, problems, lint = check_sources(review.uploaded + review.included, registry,
                                           report_for={s.filename for s in review.uploaded})
    review.problems.extend(problems)
    review.lint.extend(lint)
    if parsed is not None:
        names = {s.filename for s in review.uploaded}
        review.warnings.extend(w for w in parsed.warnings if w.file in names)
    if parsed is not None and review.ok:
        refs = _refs(review.uploaded)
        for d in parsed.definitions:
            if d.key not in refs.executable:
                continue
            current = latest.get(d.key)
            if current is not None and current.content_hash == d.content_hash:
                review.planned.append(PlannedVersion(d.key, d.name, current.version, False))
            else:
                version = current.version + 1 if current is not None else 1
                review.planned.append(PlannedVersion(d.key, d.name, version, True))
        if not review.planned:
            review.problems.append(Problem("（上传）", None, "上传的文件中没有可执行的流程：只有上传的文件里"
                                           " isExecutable=\"true\" 的流程才会部署。"))
    return review


def check_sources(sources: list[SourceFile], registry: Registry | None,
                  report_for: set[str] | None = None) -> tuple[ParsedDeployment | None, list[Problem], list[Problem]]:
    """The checks every way of deploying applies (`yijianshi validate`, `yijianshi deploy`, the web
    upload): the deploy validation, then the designer lint with the department registry. Returns the
    parsed files (None when the deploy validation failed; its warnings include the lint warnings),
    its problems, and the lint problems in the files named in `report_for` (default: all) that the
    deploy validation did not report already."""
    from yijianshi.engine.modeling.lint import lint_sources, lint_warnings

    try:
        parsed, problems = parse_deployment(sources), []
    except DefinitionError as err:
        parsed, problems = None, list(err.problems)
    names = report_for if report_for is not None else {s.filename for s in sources}
    if parsed is not None:  # notes that do not stop the deploy, with the deploy's own
        parsed.warnings.extend(w for w in lint_warnings(sources) if w.file in names)
    reported = {(p.file, p.line, p.element) for p in problems}
    # The lint repeats some deploy checks (forbidden expressions): say each place once.
    lint = [p for p in lint_sources(sources, registry)
            if p.file in names and (p.file, p.line, p.element) not in reported]
    return parsed, problems, lint


def deploy_reviewed(engine, uploaded: list[SourceFile], included: list[SourceFile], actor) -> list:
    """Deploy an upload (with the deployed files it was checked with): new versions for the changed
    processes of the uploaded files, in one transaction; raises DefinitionError and writes nothing
    when any file is bad."""
    parsed = parse_deployment(list(uploaded) + list(included))
    executable = _refs(uploaded).executable
    parsed.definitions = [d for d in parsed.definitions if d.key in executable]
    with engine.db.writer.begin() as conn:
        return store_deployment(conn, parsed, actor.id, engine.clock.now())


def _refs(sources: list[SourceFile]) -> _Refs:
    refs = _Refs()
    for src in sources:
        refs.add(src)
    return refs


def _included_files(conn, uploaded: list[SourceFile],
                    latest: dict) -> tuple[list[SourceFile], dict[str, list[str]]]:
    """The deployed files that resolve the upload's calls and decisions not defined in the upload:
    every file of the latest version of a called process (that version's own calls included), and the
    DMN file that defines a decision in the most recently deployed version using it."""
    from yijianshi.storage import definition_store

    refs = _refs(uploaded)
    included: dict[str, SourceFile] = {}  # sha256 -> file
    resolves: dict[str, list[str]] = {}

    def include(rows: dict, sha: str, reason: str) -> None:
        if sha in included or sha in {s.sha256 for s in uploaded}:
            if sha in included:
                resolves.setdefault(included[sha].filename, []).append(reason)
            return
        row = rows.get(sha)
        if row is None:
            return
        src = SourceFile(INCLUDED_PREFIX + Path(row.filename).name, row.content.encode("utf-8"))
        probe = _Refs()
        probe.add(src)
        # A file that defines something the upload defines would clash with the newer upload.
        if probe.processes & refs.processes or probe.decisions & refs.decisions:
            return
        included[sha] = src
        resolves.setdefault(src.filename, []).append(reason)
        refs.processes |= probe.processes
        refs.decisions |= probe.decisions
        refs.called |= probe.called
        refs.decision_refs |= probe.decision_refs

    for _ in range(10):  # a latest version carries its own closure; a few rounds always suffice
        missing_p, missing_d = sorted(refs.missing_processes), sorted(refs.missing_decisions)
        wanted_p = {key: [f["sha256"] for f in json.loads(latest[key].files_json)]
                    for key in missing_p if key in latest}
        decision_files = _decision_files(conn, latest) if missing_d else {}
        shas = [s for v in wanted_p.values() for s in v]
        shas += [decision_files[d] for d in missing_d if d in decision_files]
        if not shas:
            break
        rows = definition_store.file_contents(conn, shas)
        before = len(included)
        for key, key_shas in wanted_p.items():
            for sha in key_shas:
                include(rows, sha, key)
        for d in missing_d:
            if d in decision_files:
                include(rows, decision_files[d], d)
        if len(included) == before:
            break
    return list(included.values()), {k: sorted(set(v)) for k, v in resolves.items()}


def _decision_files(conn, latest: dict) -> dict[str, str]:
    """decision id -> sha256 of the DMN file defining it in the most recently deployed latest version."""
    from yijianshi.storage import definition_store

    dmn: dict[str, int] = {}
    for row in latest.values():
        for f in json.loads(row.files_json):
            if f["filename"].lower().endswith(".dmn"):
                dmn[f["sha256"]] = max(dmn.get(f["sha256"], 0), row.id)
    found: dict[str, tuple[int, str]] = {}
    for sha, row in definition_store.file_contents(conn, list(dmn)).items():
        try:
            root = parse_xml(row.content.encode("utf-8"), row.filename).getroot()
        except DefinitionError:
            continue
        for decision in root.iter("{*}decision"):
            did = decision.get("id")
            if did and (did not in found or found[did][0] < dmn[sha]):
                found[did] = (dmn[sha], sha)
    return {did: sha for did, (_, sha) in found.items()}

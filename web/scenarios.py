"""The scenario catalogue and what pages read from a deployed definition version.

A scenario (一件事) is a deployed process whose first human step belongs to the applicant; the
processes it calls (the individual items, 事项) are listed inside it rather than offered alone. A
version never changes once stored, so each one is read once per process and kept."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from yijianshi.engine.modeling.camunda_dialect import UserTaskMeta
from yijianshi.engine.access.actors import APPLICANT_ROLE
from yijianshi.engine.modeling.definitions import LoadedDefinition
from yijianshi.engine.modeling.forms import Form, FormField
from yijianshi.engine.modeling.namespaces import BPMN
from yijianshi.engine.modeling.scenario_items import ScenarioItem, deployed_items, entry_task
from yijianshi.engine.modeling.time_limits import LIMIT_WORDS, Limit
from yijianshi.engine.runtime import Engine
from yijianshi.engine.modeling.xml_loading import parse_xml
from yijianshi.storage import definition_store
from yijianshi.web.i18n import gettext as _


def limit_text(limit: Limit | None) -> str:
    """A promised limit in the page's language ("—" when the model states none); the words are
    listed for translation in web/vocabulary.py."""
    if limit is None:
        return "—"
    return _(LIMIT_WORDS[limit.unit]) % {"n": limit.amount}


@dataclass
class DefinitionView:
    """Everything pages read from one deployed version, computed once."""

    id: int
    key: str
    version: int
    name: str
    description: str
    entry: UserTaskMeta | None
    items: tuple[ScenarioItem, ...]
    fields: dict[str, FormField]  # every form field of every task, first definition wins (labels)
    process_files: dict[str, str]  # process id -> sha256 of the BPMN file that holds it
    process_names: dict[str, str]
    called: frozenset[str]
    loaded: LoadedDefinition = field(repr=False)

    @property
    def start_form(self) -> Form | None:
        """The start-event form (camunda:formData on the start event): the data a case starts with."""
        return self.loaded.start_form

    @property
    def application_form(self) -> Form | None:
        """The form a case is applied for with: the start-event form when the process has one, else
        the form of its first step (the shipped processes' merged application form)."""
        if self.start_form is not None:
            return self.start_form
        return self.entry.form if self.entry is not None else None

    @property
    def application_title(self) -> str:
        """The heading of the application form."""
        if self.start_form is None and self.entry is not None:
            return self.entry.name
        return ""

    @property
    def starter_groups(self) -> tuple[str, ...]:
        """Who a start is for: a process with a start-event form is applied for by applicants (staff
        start it at the counter for a named applicant); else the first step's departments."""
        if self.start_form is not None:
            return (APPLICANT_ROLE,)
        return self.entry.groups if self.entry is not None else ()

    @property
    def is_scenario(self) -> bool:
        return APPLICANT_ROLE in self.starter_groups

    @property
    def application_fields(self) -> tuple[str, ...]:
        """What the applicant fills in on the one merged form."""
        form = self.application_form
        return tuple(f.id for f in form.fields if not f.readonly) if form is not None else ()

    def label(self, field_id: str) -> str:
        f = self.fields.get(field_id)
        return f.label if f is not None else field_id

    def meta(self, process_id: str, task_spec: str) -> UserTaskMeta | None:
        return self.loaded.meta_for(process_id, task_spec)


class ScenarioCatalogue:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._views: dict[int, DefinitionView] = {}
        self._xml: dict[str, str] = {}
        self._lock = threading.Lock()

    def view(self, conn, definition_id: int) -> DefinitionView:
        found = self._views.get(definition_id)
        if found is not None:
            return found
        row = definition_store.by_id(conn, definition_id)
        loaded = self.engine.definitions.by_id(conn, definition_id)
        built = _build_view(conn, row, loaded, self._xml_of)
        with self._lock:
            return self._views.setdefault(definition_id, built)

    def latest_views(self) -> list[DefinitionView]:
        """The newest version of every deployed definition."""
        with self.engine.db.reader.connect() as conn:
            newest: dict[str, int] = {}
            for row in definition_store.summary(conn):
                newest.setdefault(row.key, row.id)  # summary lists newest first per key
            return [self.view(conn, i) for i in newest.values()]

    def scenarios(self) -> list[DefinitionView]:
        """What applicants can apply for: scenarios not called by another scenario, by name."""
        views = self.latest_views()
        called = set().union(*(v.called for v in views)) if views else set()
        return sorted((v for v in views if v.is_scenario and v.key not in called), key=lambda v: v.name)

    def latest(self, key: str) -> DefinitionView | None:
        return next((v for v in self.latest_views() if v.key == key), None)

    def diagram_xml(self, conn, definition_id: int, process_id: str) -> str | None:
        """The BPMN file (as deployed) that draws a process of this version."""
        view = self.view(conn, definition_id)
        sha = view.process_files.get(process_id)
        return self._xml_of(conn, sha) if sha else None

    def _xml_of(self, conn, sha256: str) -> str | None:
        found = self._xml.get(sha256)
        if found is None:
            row = definition_store.file_content(conn, sha256)
            if row is None:
                return None
            found = self._xml.setdefault(sha256, row.content)
        return found


def _build_view(conn, row, loaded: LoadedDefinition, xml_of) -> DefinitionView:
    process_files: dict[str, str] = {}
    description = ""
    for f in json.loads(row.files_json):
        if not f["filename"].lower().endswith((".bpmn", ".bpmn20.xml")):
            continue
        text = xml_of(conn, f["sha256"])
        if text is None:
            continue
        tree = parse_xml(text.encode("utf-8"), f["filename"])
        for process in tree.getroot().iter(f"{BPMN}process"):
            process_files[process.get("id")] = f["sha256"]
            if process.get("id") == row.key:
                doc = process.find(f"{BPMN}documentation")
                description = (doc.text or "").strip() if doc is not None else ""
    entry = entry_task(loaded)
    fields: dict[str, FormField] = {}
    # The application form's order first: that is the order applicants and clerks know the data in.
    forms = [loaded.start_form] + [m.form for m in ([entry] if entry is not None else []) + list(loaded.task_meta.values())]
    for form in forms:
        if form is not None:
            for f in form.fields:
                fields.setdefault(f.id, f)
    return DefinitionView(
        id=row.id, key=row.key, version=row.version, name=row.name, description=description,
        entry=entry, items=tuple(deployed_items(loaded)), fields=fields, process_files=process_files,
        process_names={spec.name: spec.description or spec.name
                       for spec in [loaded.spec, *loaded.subprocess_specs.values()]},
        called=frozenset(loaded.subprocess_specs), loaded=loaded)

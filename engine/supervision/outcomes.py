"""Measured outcomes (实测): what the finished cases of a scenario actually did, read from their
event log (never from engine state), next to what the model promises (scenario_savings).

Per case, from its history rows:
- elapsed: working days (the working calendar) from the start of the case to its completion;
  on time when elapsed ≤ the scenario's promised limit (the critical path of its item limits);
- visits (跑动次数): the distinct days on which staff did an applicant's step for the applicant at
  a window: a case started by staff for someone else (代办/窗口申请), an applicant's step
  (candidate group `applicant`) completed by someone other than the case's owner. Steps the
  applicant does online are no visit;
- corrections (一次告知 rounds): how often an applicant's 补正 step (id `supplement`, or a name
  with 补正, as the shipped models mark it) became ready;
- materials: distinct application files (by content) handed in with the case, and of those how
  many the owner had handed in with an earlier case (the platform held them: reused);
- rating (好差评): the five-level `rating` the applicant submitted for the whole service and the
  `rating_<item>` of each item, from the step that submitted them (the shipped models' `rate`);
  a case that ended without one (the rating window expired: 未评价) has none.
Per item (a call activity of the scenario): working days from the first step of the called process
becoming ready to its last step ending, against the item's promised limit.

Per element (for heatmaps on the diagrams): `element_figures` gives, for each (process id, element
id), the cases that passed it and the working days each waited there, with the case ids behind the
figure; a scenario's call activity is an element of the scenario's own process.

Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank ⌈p·n/100⌉.
Finished cases never change, so each case's measurement is kept once made: in memory per database,
and as a row of case_outcomes (tagged with its basis: the scenario's items and the working calendar),
so that the first figures after a restart read one row per case instead of every case's events."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError

from yijianshi.engine.access.actors import APPLICANT_ROLE, SYSTEM
from yijianshi.engine.clock import SHANGHAI, to_utc
from yijianshi.engine.deadlines.working_calendar import WorkingCalendar
from yijianshi.engine.modeling.scenario_savings import ScenarioMetrics
from yijianshi.engine.supervision import figures as supervision
from yijianshi.storage import outcome_store as store

log = logging.getLogger(__name__)
SUPPLEMENT_STEP = "supplement"
MEASUREMENT_VERSION = 1  # bump when measure_case changes: the stored measurements are then made again
# 好差评: the five levels of the national rating scheme, and 未评价.
UNRATED = "unrated"
RATING_LEVELS: dict[str, str] = {"very_satisfied": "非常满意", "satisfied": "满意", "basic": "基本满意",
                                 "unsatisfied": "不满意", "very_unsatisfied": "非常不满意", UNRATED: "未评价"}
RATING_FIELD = "rating"
ITEM_RATING_PREFIX = "rating_"
ElementKey = tuple[str, str]  # (process id, element id)


def percentile(values: Sequence[int | float], p: float) -> int | float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def is_supplement(task_spec: str | None, name: str | None) -> bool:
    return task_spec == SUPPLEMENT_STEP or "补正" in (name or "")


@dataclass
class _Item:
    task_spec: str
    process_id: str
    name: str
    groups: tuple[str, ...]
    ready_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class CaseOutcome:
    """What one finished case did."""

    case_id: int
    started_at: datetime
    ended_at: datetime
    elapsed: int  # working days
    visits: int
    corrections: int
    uploaded: int
    reused: int
    # element → (first ready, last end, working days waited there, summed over its steps)
    elements: dict[ElementKey, tuple[datetime, datetime, int]] = field(default_factory=dict)
    rating: str | None = None  # the 好差评 level of the whole service, None: not rated
    item_ratings: dict[str, str] = field(default_factory=dict)  # item → level ('' when left blank)

    def rating_of(self, item: str | None = None) -> str:
        """The case's level for the service (or an item): one of RATING_LEVELS."""
        value = self.rating if item is None else self.item_ratings.get(item)
        return value if value in RATING_LEVELS and value != UNRATED else UNRATED


def measure_case(case, rows: Iterable, calendar: WorkingCalendar, scenario_key: str,
                 call_of: dict[str, str], reused: int = 0) -> CaseOutcome:
    """A case's outcome from its measured history rows (outcome_store.measured_events).
    `call_of`: called process id → the scenario's call activity that calls it."""
    owner = case.started_by
    items: dict[str, _Item] = {}
    visit_days: set[date] = set()
    corrections = 0
    uploaded: set[str] = set()
    rating: str | None = None
    item_ratings: dict[str, str] = {}
    for r in rows:
        if r.type == "case_started":
            if r.actor != owner:
                visit_days.add(r.at.astimezone(SHANGHAI).date())
        elif r.type == "work_item_ready":
            data = json.loads(r.data or "{}")
            items[r.work_item_id] = _Item(r.task_spec, r.process_id or scenario_key, data.get("name", ""),
                                          tuple(data.get("groups", ())), r.at)
            if is_supplement(r.task_spec, data.get("name")):
                corrections += 1
        elif r.type in ("work_item_completed", "work_item_cancelled"):
            item = items.get(r.work_item_id)
            if item is not None:
                item.ended_at = r.at
            if r.type == "work_item_completed":
                data = json.loads(r.data or "{}")
                uploaded.update(m["sha256"] for m in data.get("materials", ()) if m.get("kind") == "application")
                submitted = data.get("submitted") or {}
                if isinstance(submitted.get(RATING_FIELD), str) and submitted[RATING_FIELD] in RATING_LEVELS:
                    rating = submitted[RATING_FIELD]
                    item_ratings = {k[len(ITEM_RATING_PREFIX):]: v for k, v in submitted.items()
                                    if k.startswith(ITEM_RATING_PREFIX) and isinstance(v, str)
                                    and (v == "" or v in RATING_LEVELS)}
                if item is not None and APPLICANT_ROLE in item.groups and r.actor not in (owner, SYSTEM.id):
                    visit_days.add(r.at.astimezone(SHANGHAI).date())
    spans: dict[ElementKey, list] = {}
    for item in items.values():
        end = item.ended_at or case.ended_at
        keys = [(item.process_id, item.task_spec)]
        if item.process_id in call_of:
            keys.append((scenario_key, call_of[item.process_id]))
        for key in keys:
            waited = calendar.working_days_between(item.ready_at, end)
            span = spans.get(key)
            if span is None:
                spans[key] = [item.ready_at, end, waited]
            else:
                span[0], span[1] = min(span[0], item.ready_at), max(span[1], end)
                span[2] += waited
    elements: dict[ElementKey, tuple[datetime, datetime, int]] = {}
    for key, (first, last, waited) in spans.items():
        if key[0] == scenario_key and key[1] in call_of.values():
            waited = calendar.working_days_between(first, last)  # an item: from its first step to its last
        elements[key] = (first, last, waited)
    return CaseOutcome(case.id, case.started_at, case.ended_at, calendar.working_days_between(case.started_at,
                                                                                            case.ended_at),
                       len(visit_days), corrections, len(uploaded), reused, elements, rating, item_ratings)


# -- figures -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spread:
    """Working days of a set of cases against a promised limit."""

    cases: int
    p50: int | None
    p90: int | None
    limit: int | None
    on_time: int

    @property
    def on_time_rate(self) -> float | None:
        return None if self.cases == 0 or self.limit is None else round(100.0 * self.on_time / self.cases, 1)

    @classmethod
    def of(cls, days: Sequence[int], limit: int | None) -> Spread:
        return cls(len(days), _int(percentile(days, 50)), _int(percentile(days, 90)), limit,
                   sum(1 for d in days if limit is not None and d <= limit))

    def to_dict(self) -> dict:
        return {"cases": self.cases, "p50": self.p50, "p90": self.p90, "limit": self.limit,
                "on_time": self.on_time, "on_time_rate": self.on_time_rate}


def _int(value) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class ItemOutcome:
    element_id: str
    name: str
    spread: Spread

    def to_dict(self) -> dict:
        return {"element_id": self.element_id, "name": self.name, **self.spread.to_dict()}


@dataclass(frozen=True)
class ScenarioOutcome:
    """Measured figures of a scenario's cases finished in a period, with the model's figures."""

    key: str
    name: str
    spread: Spread
    visits: int  # summed over the cases
    corrections: int
    cases_corrected: int  # cases with at least one 一次告知 round
    uploaded: int
    reused: int
    model_visits: int | None
    model_materials: int | None
    items: tuple[ItemOutcome, ...]
    case_ids: tuple[int, ...]

    @property
    def cases(self) -> int:
        return self.spread.cases

    def _mean(self, total: int) -> float | None:
        return None if self.cases == 0 else round(total / self.cases, 2)

    @property
    def visits_mean(self) -> float | None:
        return self._mean(self.visits)

    @property
    def corrections_mean(self) -> float | None:
        return self._mean(self.corrections)

    @property
    def uploaded_mean(self) -> float | None:
        return self._mean(self.uploaded)

    @property
    def reused_mean(self) -> float | None:
        return self._mean(self.reused)

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, **self.spread.to_dict(), "visits": self.visits,
                "visits_mean": self.visits_mean, "model_visits": self.model_visits,
                "corrections": self.corrections, "corrections_mean": self.corrections_mean,
                "cases_corrected": self.cases_corrected, "uploaded": self.uploaded,
                "uploaded_mean": self.uploaded_mean, "reused": self.reused, "reused_mean": self.reused_mean,
                "model_materials": self.model_materials, "items": [i.to_dict() for i in self.items]}


@dataclass(frozen=True)
class ElementFigure:
    """How the cases of a period passed one element: working days each waited there, by case id."""

    process_id: str
    element_id: str
    waits: dict[int, int]

    @property
    def cases(self) -> int:
        return len(self.waits)

    @property
    def case_ids(self) -> list[int]:
        return sorted(self.waits)

    @property
    def total_days(self) -> int:
        return sum(self.waits.values())

    @property
    def p50(self) -> int | None:
        return _int(percentile(list(self.waits.values()), 50))

    @property
    def p90(self) -> int | None:
        return _int(percentile(list(self.waits.values()), 90))


# Finished cases never change: their measurements, per database (weakly, so a closed one goes).
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()
CACHE_LIMIT = 300_000


def _case_cache(engine) -> dict[int, CaseOutcome]:
    with _cache_lock:
        found = _cache.get(engine.db)
        if found is None:
            found = _cache[engine.db] = {}
        return found


def scenario_model(engine, key: str) -> ScenarioMetrics | None:
    return next((m for m in supervision.deployed_scenario_metrics(engine) if m.key == key), None)


def case_outcomes(engine, key: str, start: datetime, end: datetime,
                  model: ScenarioMetrics | None = None) -> list[CaseOutcome]:
    """The outcomes of the cases of a scenario completed in [start, end), in order of completion:
    from memory, else from their stored rows, else measured from their events (and then stored)."""
    model = model or scenario_model(engine, key)
    call_of = {i.process_id: i.element_id for i in model.items} if model else {}
    calendar = engine.calendar.calendar
    cache = _case_cache(engine)
    made: list[CaseOutcome] = []
    basis = _basis(key, call_of, calendar)
    with engine.db.reader.connect() as conn:
        finished = store.finished_cases(conn, key, to_utc(start), to_utc(end))
        missing = [c for c in finished if c.id not in cache]
        if missing:
            ended = {c.id: c.ended_at for c in missing}
            for case_id, text in store.stored_measurements(conn, list(ended), basis).items():
                kept = _loads(case_id, text)
                if kept.ended_at == ended[case_id]:  # a row of an earlier case of this id is measured anew
                    cache[case_id] = kept
            missing = [c for c in missing if c.id not in cache]
        if missing:
            by_id = {c.id: c for c in missing}
            reused = store.reused_materials(conn, list(by_id))
            rows: list = []
            current = None
            for r in store.measured_events(conn, list(by_id)):
                if current is not None and r.case_id != current:
                    made.append(measure_case(by_id[current], rows, calendar, key, call_of, reused.get(current, 0)))
                    rows = []
                current = r.case_id
                rows.append(r)
            if current is not None:
                made.append(measure_case(by_id[current], rows, calendar, key, call_of, reused.get(current, 0)))
            for c in made:
                cache[c.case_id] = c
    if made:
        _keep(engine, basis, made)
    out = [cache[c.id] for c in finished if c.id in cache]
    if len(cache) > CACHE_LIMIT:
        with _cache_lock:
            cache.clear()
    return out


def _basis(key: str, call_of: dict[str, str], calendar: WorkingCalendar) -> str:
    """What a measurement depends on besides the case's own events: the scenario's items and the
    working calendar (and the way of measuring)."""
    payload = json.dumps([MEASUREMENT_VERSION, key, sorted(call_of.items()), calendar.fingerprint])
    return hashlib.sha256(payload.encode()).hexdigest()


def _dumps(c: CaseOutcome) -> str:
    return json.dumps({"started_at": c.started_at.isoformat(), "ended_at": c.ended_at.isoformat(),
                       "elapsed": c.elapsed, "visits": c.visits, "corrections": c.corrections,
                       "uploaded": c.uploaded, "reused": c.reused,
                       "elements": [[p, e, first.isoformat(), last.isoformat(), waited]
                                    for (p, e), (first, last, waited) in c.elements.items()],
                       "rating": c.rating, "item_ratings": c.item_ratings}, ensure_ascii=False, separators=(",", ":"))


def _loads(case_id: int, text: str) -> CaseOutcome:
    d = json.loads(text)
    parse = datetime.fromisoformat
    return CaseOutcome(case_id, parse(d["started_at"]), parse(d["ended_at"]), d["elapsed"], d["visits"],
                       d["corrections"], d["uploaded"], d["reused"],
                       {(p, e): (parse(first), parse(last), waited) for p, e, first, last, waited in d["elements"]},
                       d["rating"], d["item_ratings"])


def _keep(engine, basis: str, made: Sequence[CaseOutcome]) -> None:
    """Store new measurements; another process storing the same cases at once is no error (the
    rows would be equal), the figures stand either way."""
    try:
        with engine.db.writer.begin() as conn:
            store.store_measurements(conn, [{"case_id": c.case_id, "basis": basis, "measured_json": _dumps(c)}
                                            for c in made])
    except IntegrityError:
        log.info("measured outcomes of %d cases stored concurrently elsewhere", len(made))


def scenario_outcome(engine, key: str, start: datetime, end: datetime,
                     model: ScenarioMetrics | None = None) -> ScenarioOutcome:
    model = model or scenario_model(engine, key)
    done = case_outcomes(engine, key, start, end, model)
    items = []
    for item in (model.items if model else ()):
        days = [c.elements[(key, item.element_id)][2] for c in done if (key, item.element_id) in c.elements]
        items.append(ItemOutcome(item.element_id, item.name, Spread.of(days, item.limit_days)))
    return ScenarioOutcome(
        key=key, name=model.name if model else key,
        spread=Spread.of([c.elapsed for c in done], model.critical_path if model else None),
        visits=sum(c.visits for c in done), corrections=sum(c.corrections for c in done),
        cases_corrected=sum(1 for c in done if c.corrections), uploaded=sum(c.uploaded for c in done),
        reused=sum(c.reused for c in done), model_visits=model.visits_after if model else None,
        model_materials=model.materials_merged if model else None, items=tuple(items),
        case_ids=tuple(c.case_id for c in done))


def all_outcomes(engine, start: datetime, end: datetime) -> list[ScenarioOutcome]:
    """The measured figures of every deployed scenario, in the order of the model report."""
    return [scenario_outcome(engine, m.key, start, end, m) for m in supervision.deployed_scenario_metrics(engine)]


def element_figures(engine, key: str, start: datetime, end: datetime) -> dict[ElementKey, ElementFigure]:
    """Per (process id, element id): the cases of the scenario completed in [start, end) that passed
    it, and the working days each waited there (the figure a heatmap colours the element by)."""
    out: dict[ElementKey, ElementFigure] = {}
    for c in case_outcomes(engine, key, start, end):
        for element, (_, _, waited) in c.elements.items():
            figure = out.get(element)
            if figure is None:
                figure = out[element] = ElementFigure(element[0], element[1], {})
            figure.waits[c.case_id] = waited
    return out


@dataclass(frozen=True)
class RatingSpread:
    """好差评 of a scenario's cases completed in a period: cases per level (RATING_LEVELS, 未评价
    included) for the whole service and for each item rated on its own."""

    key: str
    overall: dict[str, int]
    items: tuple[tuple[str, dict[str, int]], ...]

    @property
    def cases(self) -> int:
        return sum(self.overall.values())


def _spread(done: Sequence[CaseOutcome], item: str | None) -> dict[str, int]:
    counts = dict.fromkeys(RATING_LEVELS, 0)
    for c in done:
        counts[c.rating_of(item)] += 1
    return counts


def rating_spread(engine, key: str, start: datetime, end: datetime) -> RatingSpread | None:
    """The rating distribution of a scenario's cases completed in [start, end); None when none of them
    was rated (a scenario without a rating step, or a period without ratings)."""
    done = case_outcomes(engine, key, start, end)
    if not any(c.rating for c in done):
        return None
    items = sorted({item for c in done for item in c.item_ratings})
    return RatingSpread(key, _spread(done, None), tuple((item, _spread(done, item)) for item in items))

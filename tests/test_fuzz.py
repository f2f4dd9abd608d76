"""Property-based fuzzing (Hypothesis): form validation over generated forms and arbitrary values, the
BPMN/DMN loader over mutated versions of the shipped files, and the web form path. The promise under
test: every input is either accepted (and then satisfies the constraints) or refused with clear
messages that say where and what — never an unhandled exception, never a server error.

CI runs the derandomized `ci` profile (tests/conftest.py); for a longer local hunt:
    .venv/bin/python -m pytest tests/test_fuzz.py --hypothesis-profile=long"""
from __future__ import annotations

import datetime as dt
import keyword
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from yijianshi.engine.modeling.definitions import SourceFile, parse_deployment
from yijianshi.engine.errors import DefinitionError, FormErrors
from yijianshi.engine.modeling.forms import ALL_KEY, LONG_MAX, LONG_MIN, MAX_STRING_CHARS, Form, FormField, validate_submission
from yijianshi.engine.modeling.lint import lint_sources
from tests.conftest import FIXTURES, check_every_case, make_engine
from tests.web.conftest import Client, build_app
from tests.web.helpers import APPLICATION, accept, item_id, start

ROOT = Path(__file__).resolve().parents[1]


def _examples(factor: float, *slow_checks: HealthCheck) -> settings:
    """Scale the active profile's example count (ci: small and fixed; long: many), per test cost."""
    return settings(max_examples=max(10, int(settings.default.max_examples * factor)),
                    suppress_health_check=[HealthCheck.too_slow, *slow_checks])
CJK = re.compile(r"[\u4e00-\u9fff]")


# -- (a) form validation -------------------------------------------------------------------------

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
iso_dates = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)


@st.composite
def form_fields(draw, field_id: str) -> FormField:
    kind = draw(st.sampled_from(("string", "long", "boolean", "date", "enum")))
    extra: dict = {}
    if kind == "string":
        low = draw(st.none() | st.integers(0, 6))
        high = draw(st.none() | st.integers(low or 0, 12))
        extra = {"minlength": low, "maxlength": high}
    elif kind == "long":
        low = draw(st.none() | st.integers(-1000, 1000).map(float) | st.floats(-1e3, 1e3))
        high = draw(st.none() | st.floats(low if low is not None else -1e3, 2e3))
        extra = {"min": low, "max": high}
    elif kind == "date":
        low = draw(st.none() | iso_dates)
        floor = dt.date.fromisoformat(low) if low else dt.date(1900, 1, 1)
        high = draw(st.none() | st.dates(floor, dt.date(2100, 12, 31)).map(dt.date.isoformat))
        extra = {"min": low, "max": high}
    elif kind == "enum":
        ids = draw(st.lists(st.text(min_size=1, max_size=6).map(str.strip).filter(bool), min_size=1, max_size=4,
                            unique=True))
        extra = {"options": tuple((i, f"选项{i}") for i in ids)}
    elif kind == "boolean":
        extra = {"checked": draw(st.booleans())}
    default = draw(st.none() | st.text(max_size=8) | iso_dates | st.integers(-5, 5).map(str))
    return FormField(id=field_id, label=f"字段{field_id}", type=kind, default=default,
                     required=draw(st.booleans()), readonly=draw(st.booleans()), **extra)


@st.composite
def forms(draw) -> Form:
    ids = draw(st.lists(identifiers, min_size=1, max_size=6, unique=True))
    return Form(tuple(draw(form_fields(i)) for i in ids))


def raw_values(form: Form):
    """What a client might send: well-formed values of every type, near misses, and junk."""
    options = [o for f in form.fields for o, _ in f.options]
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(-2000, 2000),
        st.floats(allow_nan=True, allow_infinity=True), st.text(), st.text(max_size=15),
        st.integers(-3000, 3000).map(str), iso_dates, st.sampled_from(["true", "on", "0", "false", " 1 ", "", "  "]),
        st.sampled_from(options or ["x"]), st.sampled_from(options or ["x"]).map(lambda o: f" {o} "),
        st.text(alphabet="0123456789-", max_size=12), st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=6),
        st.just("x" * (MAX_STRING_CHARS + 1)),
        st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.dates(), st.datetimes(),
    )


@st.composite
def submissions(draw):
    form = draw(forms())
    keys = [f.id for f in form.fields]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    data = {k: draw(raw_values(form)) for k in chosen}
    if draw(st.integers(0, 9)) == 0:
        data[draw(st.text(max_size=10) | st.integers())] = draw(raw_values(form))
    return form, data


def _check_clean(form: Form, submitted: dict, clean: dict) -> None:
    fields = {f.id: f for f in form.fields}
    assert set(submitted) <= set(fields), "an unknown field was accepted"
    for key, value in clean.items():
        f = fields[key]
        assert not f.readonly, f"read-only {key} was taken from the submission"
        if f.type == "string":
            assert isinstance(value, str) and len(value) <= MAX_STRING_CHARS
            if value:
                assert f.minlength is None or len(value) >= f.minlength
                assert f.maxlength is None or len(value) <= f.maxlength
                assert value == value.strip()
        elif value is None:
            assert not f.required
        elif f.type == "long":
            assert type(value) is int and LONG_MIN <= value <= LONG_MAX
            assert f.min is None or value >= f.min
            assert f.max is None or value <= f.max
        elif f.type == "boolean":
            assert type(value) is bool and (value or not f.checked)
        elif f.type == "date":
            assert dt.date.fromisoformat(value).isoformat() == value
            assert (f.min is None or value >= f.min) and (f.max is None or value <= f.max)
        elif f.type == "enum":
            assert value in {o for o, _ in f.options}
    for f in form.fields:
        if f.required and not f.readonly:
            # false is a value (a required yes/no accepts "no"); blank is not
            assert f.id in clean and clean[f.id] is not None and clean[f.id] != "", f"required {f.id} missing"


@_examples(4)
@given(submissions())
def test_form_validation_returns_clean_values_or_field_messages(case):
    form, submitted = case
    try:
        clean = validate_submission(form, submitted)
    except FormErrors as err:
        assert err.errors, "FormErrors without any message"
        known = {f.id for f in form.fields if not f.readonly} | {ALL_KEY}
        for key, message in err.errors.items():
            assert key in known, f"message under {key!r}, which is no editable field of the form"
            assert isinstance(message, str) and message.strip() and CJK.search(message), message
        if ALL_KEY in err.errors:
            unknown = [str(k) for k in submitted if k not in {f.id for f in form.fields}]
            assert unknown and str(unknown[0])[:20] in err.errors[ALL_KEY]
        return
    _check_clean(form, submitted, clean)


# -- (b) the BPMN/DMN loader over mutated files --------------------------------------------------

def _file_sets() -> list[list[SourceFile]]:
    """Each shipped scenario folder, and each test fixture set, as a deployment of its own."""
    sets = []
    folders = [p for p in sorted((ROOT / "processes").iterdir()) if p.is_dir()]
    folders += [FIXTURES / "callflow"]
    for folder in folders:
        files = sorted(f for f in folder.rglob("*") if f.suffix in (".bpmn", ".dmn"))
        sets.append([SourceFile(str(f.relative_to(ROOT)), f.read_bytes()) for f in files])
    for single in sorted(FIXTURES.glob("*.bpmn")):
        sets.append([SourceFile(str(single.relative_to(ROOT)), single.read_bytes())])
    return sets


FILE_SETS = _file_sets()


def _elements(data: bytes) -> tuple[etree._ElementTree, list[etree._Element]]:
    tree = etree.ElementTree(etree.fromstring(data))
    return tree, [el for el in tree.getroot().iter() if isinstance(el.tag, str)]


def _serialize(tree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


@st.composite
def mutations(draw) -> tuple[str, callable]:
    kind = draw(st.sampled_from(("flip", "truncate", "delete_element", "duplicate_element", "delete_attribute",
                                 "huge_attribute", "odd_attribute", "doctype", "entity_use", "encoding",
                                 "splice", "text")))
    n = draw(st.integers(0, 10**9))
    m = draw(st.integers(0, 10**9))
    blob = draw(st.binary(max_size=16))
    word = draw(st.text(max_size=30))

    def mutate(data: bytes) -> bytes:
        if kind == "flip":
            out = bytearray(data)
            for i in range(1 + m % 4):
                pos = (n + i * 7919) % len(out)
                out[pos] ^= 1 << ((m + i) % 8)
            return bytes(out)
        if kind == "truncate":
            return data[: n % len(data)]
        if kind == "splice":
            pos = n % len(data)
            return data[:pos] + blob + data[pos:]
        if kind == "doctype":
            decl, _, rest = data.partition(b"?>")
            entity = b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY y "yy">]>'
            return decl + b"?>\n" + entity + rest if rest else entity + data
        if kind == "encoding":
            text = data.decode("utf-8")
            target = ("utf-16", "gbk", "latin-1", "utf-8-sig")[n % 4]
            if m % 2:
                text = text.replace('encoding="UTF-8"', f'encoding="{target}"')
            return text.encode(target, errors="replace")
        tree, elements = _elements(data)
        el = elements[n % len(elements)]
        if kind == "delete_element" and el.getparent() is not None:
            el.getparent().remove(el)
        elif kind == "duplicate_element" and el.getparent() is not None:
            el.addnext(etree.fromstring(etree.tostring(el)))
        elif kind == "delete_attribute" and el.attrib:
            del el.attrib[sorted(el.attrib)[m % len(el.attrib)]]
        elif kind == "huge_attribute":
            name = sorted(el.attrib)[m % len(el.attrib)] if el.attrib else "name"
            el.set(name, "长" * (200_000 + m % 1000))
        elif kind == "odd_attribute" and el.attrib:
            name = sorted(el.attrib)[m % len(el.attrib)]
            odd = "".join(ch for ch in word if ch.isprintable() and ch not in "\ud800\udfff")
            el.set(name, odd)
        elif kind == "entity_use":
            el.text = (el.text or "") + "&x;"
            return _serialize(tree).replace(b"&amp;x;", b"&x;")
        elif kind == "text":
            el.text = "".join(ch for ch in word if ch.isprintable())
        return _serialize(tree)

    return kind, mutate


def _check_problems(problems, names: set[str]) -> None:
    assert problems, "a DefinitionError without problems"
    for p in problems:
        assert p.file in names or p.file == "(部署)" or p.file.split(":")[0] in {n.split("/")[-1] for n in names} \
            or p.file in {Path(n).stem for n in names} or p.file, p
        assert p.message.strip() and CJK.search(p.message), p
        assert "Traceback" not in p.message
        assert p.line is None or (isinstance(p.line, int) and p.line >= 0)


@_examples(3, HealthCheck.data_too_large)
@given(st.sampled_from(range(len(FILE_SETS))), st.integers(0, 50), mutations())
def test_the_loader_reports_problems_for_mutated_files_never_an_exception(which, pick, mutation):
    kind, mutate = mutation
    sources = FILE_SETS[which]
    victim = sources[pick % len(sources)]
    mutated = SourceFile(victim.filename, mutate(victim.data))
    assume(mutated.data)
    deployment = [mutated if s is victim else s for s in sources]
    names = {s.filename for s in deployment}
    try:
        parsed = parse_deployment(deployment)
    except DefinitionError as err:
        _check_problems(err.problems, names)
        if kind in ("doctype", "entity_use") and b"<!DOCTYPE" in mutated.data:
            assert any("DOCTYPE" in p.message for p in err.problems)
    else:
        assert kind not in ("doctype",), "a file with a DOCTYPE was accepted"
        assert parsed.definitions
    # The designer lint reads the same hostile bytes on upload: problems, never an exception.
    for problem in lint_sources(deployment):
        assert problem.message.strip() and CJK.search(problem.message), problem


# -- (c) the web form path -----------------------------------------------------------------------

web_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture
def fuzz_engine(migrated_sqlite_url):
    engine = make_engine(migrated_sqlite_url)
    yield engine
    check_every_case(engine)  # the cases the fuzzing moved along still verify and re-execute
    engine.db.dispose()


@pytest.fixture
def fuzz_app(fuzz_engine, tmp_path):
    return build_app(fuzz_engine, tmp_path)


@_examples(1.5, HealthCheck.function_scoped_fixture)
@given(values=st.dictionaries(st.sampled_from(["food_permit_approved", "food_permit_reason", "food_permit_no",
                                               "next", "unknown_field", "csrf_token"]) | web_text,
                              web_text | st.sampled_from(["y", "true", "on", "", "x" * 300]), max_size=5))
def test_posting_random_values_to_a_task_page_is_never_a_server_error(fuzz_app, fuzz_engine, values):
    engine = fuzz_engine
    open_items = [r for r in _open_food_reviews(engine)]
    if not open_items:
        case_id = start(engine)
        accept(engine, case_id)
        open_items = [item_id(engine, case_id, "review_food_permit")]
    client = _clerk(fuzz_app)
    client.get(f"/inbox/items/{open_items[0]}")
    body = {k: v for k, v in values.items() if k != "csrf_token"}
    response = client.post(f"/inbox/items/{open_items[0]}", body, token="csrf_token" not in values)
    assert response.status_code in (200, 302, 400, 403, 404, 422), response.status_code
    assert response.status_code != 500
    if response.status_code == 422:
        assert "系统出错" not in response.get_data(as_text=True)


@_examples(1.5, HealthCheck.function_scoped_fixture)
@given(changes=st.dictionaries(st.sampled_from(sorted(APPLICATION) + ["serves_alcohol", "unknown"]),
                               web_text | st.sampled_from(["y", "", "package", "custom", "-1", "9" * 20]),
                               max_size=4))
def test_posting_random_application_forms_is_never_a_server_error(fuzz_app, changes):
    applicant = _applicant(fuzz_app)
    applicant.get("/apply/scenarios/open_restaurant")
    response = applicant.post("/apply/scenarios/open_restaurant", {**APPLICATION, **changes})
    assert response.status_code in (302, 422), (response.status_code, changes)


def _signed_in(app, username: str) -> Client:
    """One signed-in client per user for all examples of a test (signing in per example is slow)."""
    clients = app.extensions.setdefault("fuzz.clients", {})
    if username not in clients:
        clients[username] = Client(app)
        clients[username].login(username)
    return clients[username]


def _clerk(app) -> Client:
    return _signed_in(app, "shichang")


def _applicant(app) -> Client:
    return _signed_in(app, "zhangsan")


def _open_food_reviews(engine) -> list[str]:
    from yijianshi.storage import case_store

    with engine.db.reader.connect() as conn:
        rows = case_store.query_work_items(conn, groups=["market"], limit=50)
    return [r.id for r in rows if r.task_spec == "review_food_permit"]



# -- (d) signing in ----------------------------------------------------------------------------------

@pytest.fixture
def login_fuzz_app(fuzz_engine, tmp_path):
    """Throttling out of the way (tests/web/test_sign_in_security.py probes it): every example reaches
    the account check."""
    return build_app(fuzz_engine, tmp_path, settings={"login_rate_limit": "100000 per minute"})


@_examples(1.5, HealthCheck.function_scoped_fixture)
@given(username=web_text | st.sampled_from(["admin", "zhangsan", "ADMIN ", "nobody", "admin\x00", "a" * 65]),
       password=web_text | st.sampled_from(["demo-wrong", "", "x" * 129, "' OR 1=1 --"]))
def test_random_sign_ins_are_refused_with_one_sentence_never_an_error(login_fuzz_app, username, password):
    """Unknown, wrong, locked (the examples lock admin and zhangsan early on) or malformed: one
    refusal sentence, no hint whether the user exists, never a server error."""
    from yijianshi.engine.access.accounts import REFUSED

    client = Client(login_fuzz_app)
    response = client.post("/login", {"username": username, "password": password})
    assert response.status_code in (401, 422), response.status_code
    page = response.get_data(as_text=True)
    if response.status_code == 401:
        assert REFUSED in page and "锁定" not in page and "不存在" not in page

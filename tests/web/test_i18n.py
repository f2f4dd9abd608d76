"""Every text the UI shows has its English translation, including the words the engine supplies."""
from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from yijianshi.engine.access.accounts import DEPARTMENTS, ROLES
from tests.web.conftest import ROOT
from yijianshi.web.case_view import STATUS
from yijianshi.web.i18n import TRANSLATIONS
from yijianshi.engine.modeling.time_limits import LIMIT_WORDS
from yijianshi.web.vocabulary import DEPARTMENT_LABELS, LIMIT_WORDS as LIMIT_LABELS, ROLE_LABELS, STATUS_LABELS

KEYWORDS = {"_": None, "gettext": None, "_l": None, "N_": None, "ngettext": (1, 2)}


def _english() -> dict[str, str]:
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        # a text with a count is keyed by its singular id; its translation is the plural form
        return {(m.id[0] if m.pluralizable else m.id): (m.string[-1] if m.pluralizable else m.string)
                for m in read_po(f) if m.id}


def test_every_ui_text_has_an_english_translation():
    found = {msg for _file, _line, msg, _comments, _context in extract_from_dir(
        str(ROOT / "web"), method_map=[("**.py", "python"), ("templates/**.html", "jinja2")], keywords=KEYWORDS)}
    assert len(found) > 150
    english = _english()
    missing = sorted(str(m) for m in found if not english.get(m[0] if isinstance(m, tuple) else m))
    assert missing == [], "run pybabel extract/update and translate: " + "; ".join(missing[:10])


def test_the_vocabulary_covers_the_engines_words():
    assert {r.label for r in ROLES.values()} == set(ROLE_LABELS)
    assert set(DEPARTMENTS.values()) == set(DEPARTMENT_LABELS)
    assert set(STATUS.values()) == set(STATUS_LABELS)
    assert set(LIMIT_WORDS.values()) == set(LIMIT_LABELS)
    english = _english()
    assert all(english.get(w) for w in ROLE_LABELS + DEPARTMENT_LABELS + STATUS_LABELS + LIMIT_LABELS)


def test_english_pages_use_the_catalogue(client_for):
    c = client_for("shichang")
    c.get("/lang/en")
    page = c.page("/inbox/")
    assert "Inbox" in page and "Unclaimed" in page and "Department clerk" in page and "Market Regulation" in page


def test_counts_read_right_in_english(app):
    """"1 working day left", not "1 working days left"."""
    from datetime import datetime, timedelta, timezone

    from yijianshi.web.deadlines import remaining

    now = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Shanghai
    engine = app.extensions["yijianshi"]
    with app.test_request_context("/", headers={"Cookie": "lang=en"}):
        texts = [remaining(engine, now + delta, None, now).text
                 for delta in (timedelta(days=1), timedelta(days=2), timedelta(hours=1), timedelta(hours=3),
                               timedelta(minutes=1), timedelta(minutes=30), timedelta(days=-1), timedelta(days=-3))]
    assert texts == ["1 working day left", "2 working days left", "1 hour left", "3 hours left",
                     "1 minute left", "30 minutes left", "Overdue by 1 day", "Overdue by 3 days"], texts


def test_the_vocabulary_covers_the_organisation_words():
    from yijianshi.engine.access.org_rules import KINDS, MEMBER_ROLES
    from yijianshi.web.vocabulary import ORG_LABELS

    assert set(KINDS.values()) | set(MEMBER_ROLES.values()) == set(ORG_LABELS)
    english = _english()
    assert all(english.get(w) for w in ORG_LABELS)
def test_the_vocabulary_covers_the_notification_words():
    from yijianshi.engine.notifications.messages import KIND_LABELS
    from yijianshi.engine.notifications.messages import STATE_LABELS as DELIVERY
    from yijianshi.web.vocabulary import DELIVERY_STATES, NOTIFICATION_KINDS

    assert set(KIND_LABELS.values()) == set(NOTIFICATION_KINDS)
    assert set(DELIVERY.values()) == set(DELIVERY_STATES)

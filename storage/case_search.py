"""The search terms of a case: names from its forms, kept as typed (trimmed), and ID numbers and
unified social credit codes, kept only as a hash of the normalised value so that the index can
answer "which case has this number" without holding the number itself."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from yijianshi.storage.prepared import Prepared
from yijianshi.storage.tables import CaseSearchTerm

terms_t = CaseSearchTerm.__table__

NAME, IDENTIFIER = "name", "id"

# Form fields holding a person's or an organisation's name, and those holding an ID number
# (居民身份证号码) or a unified social credit code (统一社会信用代码).
_NAME_FIELD = re.compile(r"(^|_)name$")
_ID_FIELD = re.compile(r"(^|_)(id_?no|id_?number|id_?card|idcard|sfzh?|credit_code|uscc)$")
# 18-character ID numbers and credit codes, 15-digit old ID numbers.
_IDENTIFIER = re.compile(r"^(?:[0-9A-Z]{18}|\d{15})$")
MAX_NAME = 255


def normalise_identifier(value: str) -> str:
    """Upper case, without spaces or hyphens: how a clerk may type it and how it is stored compare equal."""
    return re.sub(r"[\s\-]", "", value).upper()


def looks_like_identifier(text: str) -> bool:
    return bool(_IDENTIFIER.match(normalise_identifier(text)))


def identifier_hash(value: str) -> str:
    return hashlib.sha256(("yijianshi:identifier:" + normalise_identifier(value)).encode()).hexdigest()


def normalise_name(value: str) -> str:
    return " ".join(value.split())[:MAX_NAME]


def terms_of(data: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, term) pairs of a form submission or a case's start data."""
    found: set[tuple[str, str]] = set()
    for field, value in data.items():
        if not isinstance(field, str) or not isinstance(value, str) or not value.strip():
            continue
        name = field.lower()
        if _ID_FIELD.search(name) and looks_like_identifier(value):
            found.add((IDENTIFIER, identifier_hash(value)))
        elif _NAME_FIELD.search(name):
            found.add((NAME, normalise_name(value)))
    return found


# Adding a term the case already has does nothing (one statement, no read first).
_ADD_TERMS = {"sqlite": Prepared(sqlite.insert(terms_t).on_conflict_do_nothing()),
              "postgresql": Prepared(postgresql.insert(terms_t).on_conflict_do_nothing())}


def add_terms(conn: Connection, case_id: int, terms: set[tuple[str, str]]) -> None:
    """Add terms a case does not have yet (a case keeps every name and number it ever had)."""
    if terms:
        _ADD_TERMS[conn.dialect.name].execute_many(
            conn, [{"case_id": case_id, "kind": k, "term": t} for k, t in sorted(terms)])


def cases_with_identifier(value: str):
    """Subquery: ids of the cases with this ID number or credit code."""
    return cases_with_identifier_hash(identifier_hash(value))


def cases_with_identifier_hash(hashed: str):
    """Subquery: ids of the cases with the ID number or credit code of this hash (identifier_hash)."""
    return select(terms_t.c.case_id).where(terms_t.c.kind == IDENTIFIER, terms_t.c.term == hashed)


def cases_with_name(prefix: str):
    """Subquery: ids of the cases with a name starting with `prefix` (an index range scan)."""
    text = normalise_name(prefix)
    return select(terms_t.c.case_id).where(terms_t.c.kind == NAME, terms_t.c.term >= text,
                                           terms_t.c.term < text + "\U0010ffff")

"""The title a case is listed under in inboxes when whoever starts it gives none: the process name and
the name of whom it is for, as typed into its start form (the first filled-in field named like a
name, e.g. enterprise_name or applicant_name; else the first plain text). Both the web application
form and integration clients' starts are named by this one rule."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yijianshi.engine.modeling.personal_fields import personal_kind


def case_title(process_name: str, form, submission: Mapping[str, Any]) -> str:
    """`form`: the start form (None when there is none); ID and phone fields are never used."""
    texts = [(f.id, value.strip()) for f in (form.fields if form is not None else ())
             if f.type == "string" and isinstance(value := submission.get(f.id), str) and value.strip()
             and personal_kind(f.id) is None]
    named = [text for field_id, text in texts if field_id.endswith("name")]
    candidates = named or [text for _id, text in texts]
    return f"{process_name}：{candidates[0][:60]}" if candidates else process_name

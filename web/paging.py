"""Which page of a list a request asks for: a whole number from 1 to MAX_PAGE, whatever was typed."""
from __future__ import annotations

from flask import request

# Far beyond any real list (50 rows a page); keeps the row offset a number every database accepts.
MAX_PAGE = 100_000


def page_number() -> int:
    """`?page=` as a page number; anything else (absent, not a number, out of range) is clamped."""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        return 1
    return min(max(1, page), MAX_PAGE)

"""Languages: 简体中文 by default, English on request (Flask-Babel).

The message ids are the Chinese texts the UI is written in, so Chinese needs no catalogue; English
comes from web/translations/en/LC_MESSAGES/messages.po, compiled at start-up when the compiled
file is missing or older (so no build step is needed)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, g, request, session
from flask_babel import Babel, get_translations

TRANSLATIONS = Path(__file__).parent / "translations"
LANG_COOKIE = "lang"


def compile_catalogs(source: Path = TRANSLATIONS) -> Path:
    """Compile every .po under source next to it (or into a temporary folder if that is read-only)."""
    target = source
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            _compile(po, mo)
        except OSError:
            target = Path(tempfile.mkdtemp(prefix="yjs-i18n-"))
            break
    if target != source:
        for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
            out = target / po.relative_to(source).with_suffix(".mo")
            out.parent.mkdir(parents=True, exist_ok=True)
            _compile(po, out)
    return target


def _compile(po: Path, mo: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f)
    temp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")  # workers may start together
    with temp.open("wb") as out:
        write_mo(out, catalog, use_fuzzy=False)
    temp.replace(mo)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    chosen = session.get(LANG_COOKIE) or request.cookies.get(LANG_COOKIE)
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def translations():
    """This request's catalogue, looked up once: Flask-Babel resolves context, locale and catalogue
    on every call, which costs a page with a hundred texts several milliseconds."""
    found = g.get("_translations")
    if found is None:
        found = g._translations = get_translations()
    return found


def gettext(string: str, **variables) -> str:
    """Translate a UI text for this request (message ids are the Chinese texts)."""
    text = translations().gettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    """A text with a count: English chooses "1 day" or "2 days"; Chinese has one form for both."""
    text = translations().ngettext(singular, plural, n)
    return text % {"n": n, **variables}


def init_babel(app) -> None:
    folder = compile_catalogs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(folder)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().gettext(s),
        ngettext=lambda s, p, n: translations().ngettext(s, p, n),
        newstyle=True)

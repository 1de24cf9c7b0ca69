"""The people's language: Chinese first, English as a setting.

Messages are written in English in the code and the templates (the gettext convention) and
translated from catalogs under backoffice/locale/<language>/LC_MESSAGES/*.po, one file per
area so that the areas keep their own; all the files of a language make one catalog. English
needs no catalog: a message is its own English text. The catalogs are read straight from the
.po files with Babel when first needed, so there is no compile step to forget.
"""

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).resolve().parent.parent / "locale"
CHINESE: Final = "zh"
ENGLISH: Final = "en"
LANGUAGES: Final = (CHINESE, ENGLISH)
DEFAULT_LANGUAGE: Final = CHINESE
# Where each language's catalog files are (English has none).
_CATALOG_DIRS: Final = {CHINESE: "zh_CN"}
# How each language is named in its own words, for the language switch.
LANGUAGE_NAMES: Final = {CHINESE: "中文", ENGLISH: "English"}

Translate = Callable[[str], str]


def N_(message: str) -> str:
    """Marks a message for the catalogs where it is defined; it is translated where shown."""
    return message


def language(code: str | None) -> str:
    """One of LANGUAGES for what a cookie, setting or request asked for."""
    if not code:
        return DEFAULT_LANGUAGE
    code = code.strip().lower().replace("_", "-")
    if code in LANGUAGES:
        return code
    return next((known for known in LANGUAGES if code.startswith(known + "-")), DEFAULT_LANGUAGE)


@cache
def catalog(lang: str) -> Mapping[str, str | tuple[str, ...]]:
    """msgid (or, for plurals, the singular msgid) → translation, from every .po file of the
    language; entries not translated yet or marked fuzzy are left out (the English shows)."""
    folder = _CATALOG_DIRS.get(lang)
    if folder is None:
        return {}
    messages: dict[str, str | tuple[str, ...]] = {}
    for path in sorted((LOCALE_DIR / folder / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            for entry in read_po(po, locale=folder):
                if not entry.id or entry.fuzzy or not entry.string:
                    continue
                if isinstance(entry.id, tuple):
                    if all(entry.string):
                        messages[entry.id[0]] = tuple(entry.string)
                else:
                    messages[entry.id] = entry.string
    return messages


def gettext(lang: str, message: str) -> str:
    found = catalog(lang).get(message)
    return found if isinstance(found, str) else message


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    found = catalog(lang).get(singular)
    if isinstance(found, tuple):
        # Chinese has one form; a language with more would pick by its plural rule here.
        return found[0] if len(found) == 1 else found[0 if n == 1 else 1]
    return singular if n == 1 else plural


def translator(lang: str) -> Translate:
    return lambda message: gettext(lang, message)

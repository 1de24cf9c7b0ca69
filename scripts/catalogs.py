"""The back office's message catalogs: what the code and the templates ask to translate, and
what the Chinese catalogs (backoffice/locale/zh_CN/LC_MESSAGES/*.po) translate.

    python scripts/catalogs.py          # lists what is missing, untranslated or unused
    python scripts/catalogs.py --add    # appends the missing messages, to be translated
    python scripts/catalogs.py --fill zh.json   # sets translations: {"msgid": "译文", …}
    python scripts/catalogs.py --prune  # drops the messages no code or template uses any more

A message is added to the catalog of its area (billing, admin, statistics, …: the folder or
module it was found in), the rest to frame.po. The test tests/backoffice/test_catalogs.py
fails while anything is listed.
"""

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "backoffice"
LOCALE = SOURCES / "locale" / "zh_CN" / "LC_MESSAGES"
METHODS = [
    ("api/templates/**.html", "jinja2.ext:babel_extract"),
    ("api/**.py", "python"),
    ("services/**.py", "python"),
    ("domain/**.py", "python"),
    ("core/**.py", "python"),
]
OPTIONS = {"api/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
# Where a message was found → the catalog it belongs in.
AREAS = ("billing", "admin", "statistics", "channel", "settlement", "jobs", "users", "audit")


@dataclass
class Found:
    """Messages of the code and templates: msgid → (plural, where it was first found)."""

    messages: dict[str, tuple[str | None, str]] = field(default_factory=dict)


def area_of(path: str) -> str:
    parts = re.split(r"[/.]", path)
    return next((area for area in AREAS if area in parts), "frame")


def extract() -> dict[str, tuple[str | None, str]]:
    found: dict[str, tuple[str | None, str]] = {}
    for path, _line, message, _comments, _context in extract_from_dir(
        SOURCES, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        if isinstance(message, tuple):
            singular, plural = message[0], message[1]
        else:
            singular, plural = message, None
        if singular and singular not in found:
            found[singular] = (plural, path)
    return found


def catalogs() -> dict[Path, Catalog]:
    result = {}
    for path in sorted(LOCALE.glob("*.po")):
        with path.open("rb") as po:
            result[path] = read_po(po, locale="zh_CN")
    return result


@dataclass
class Problems:
    missing: list[str] = field(default_factory=list)  # in the code, in no catalog
    untranslated: list[str] = field(default_factory=list)  # in a catalog, no translation
    unused: list[str] = field(default_factory=list)  # in a catalog, in no code
    twice: list[str] = field(default_factory=list)  # in more than one catalog
    placeholders: list[str] = field(default_factory=list)  # translation drops a %(name)s

    def __bool__(self) -> bool:
        return any(vars(self).values())


def check() -> Problems:
    found = extract()
    problems = Problems()
    where: dict[str, list[str]] = defaultdict(list)
    for path, catalog in catalogs().items():
        for entry in catalog:
            if not entry.id:
                continue
            key = entry.id[0] if isinstance(entry.id, tuple) else entry.id
            where[key].append(path.name)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if entry.fuzzy or not all(strings):
                problems.untranslated.append(f"{path.name}: {key}")
            elif not all(_names(key) == _names(s) for s in strings):
                problems.placeholders.append(f"{path.name}: {key}")
            if key not in found:
                problems.unused.append(f"{path.name}: {key}")
    problems.missing = [f"{found[m][1]}: {m}" for m in found if m not in where]
    problems.twice = [f"{m} in {', '.join(files)}" for m, files in where.items() if len(files) > 1]
    return problems


def _names(message: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", message))


def add_missing() -> int:
    found = extract()
    existing = catalogs()
    known = {(e.id[0] if isinstance(e.id, tuple) else e.id) for c in existing.values() for e in c}
    added = 0
    for msgid, (plural, path) in found.items():
        if msgid in known:
            continue
        target = LOCALE / f"{area_of(path)}.po"
        if target not in existing:
            existing[target] = Catalog(locale="zh_CN", project="HaoKa", domain=target.stem)
        catalog = existing[target]
        catalog.add((msgid, plural) if plural else msgid, ("", "") if plural else "")
        added += 1
    LOCALE.mkdir(parents=True, exist_ok=True)
    for path, catalog in existing.items():
        with path.open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=False)
    return added


def fill(translations: dict[str, str | list[str]]) -> int:
    """Sets the translations given (msgid → Chinese) in whichever catalog holds each."""
    filled = 0
    for path, catalog in catalogs().items():
        changed = False
        for entry in catalog:
            key = entry.id[0] if isinstance(entry.id, tuple) else entry.id
            if entry.id and key in translations:
                text = translations[key]
                entry.string = tuple(text) if isinstance(entry.id, tuple) else text
                entry.flags.discard("fuzzy")
                changed = True
                filled += 1
        if changed:
            with path.open("wb") as po:
                write_po(po, catalog, width=100, sort_output=False)
    return filled


def prune() -> int:
    """Drops the entries of messages that are no longer in the code or the templates."""
    found = extract()
    dropped = 0
    for path, catalog in catalogs().items():
        unused = [e.id for e in catalog if e.id and _key(e.id) not in found]
        for msgid in unused:
            catalog.delete(msgid)
        if unused:
            dropped += len(unused)
            with path.open("wb") as po:
                write_po(po, catalog, width=100, sort_output=False)
    return dropped


def _key(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--add", action="store_true", help="append the missing messages")
    parser.add_argument("--fill", type=Path, help="a JSON file of msgid → translation to set")
    parser.add_argument("--prune", action="store_true", help="drop the messages not used")
    args = parser.parse_args()
    if args.add:
        print(f"added {add_missing()} messages to translate")
    if args.prune:
        print(f"dropped {prune()} messages no longer used")
    if args.fill:
        print(f"set {fill(json.loads(args.fill.read_text(encoding='utf-8')))} translations")
    problems = check()
    for kind, items in vars(problems).items():
        for item in items:
            print(f"{kind}: {item}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The catalogs translate every message the pages show: none missing, untranslated, fuzzy,
unused, kept in two files, or losing one of its %(name)s placeholders; and the two languages
really differ where it matters."""

from backoffice.core import i18n
from scripts import catalogs


def test_every_message_of_the_pages_is_translated() -> None:
    problems = catalogs.check()
    assert not problems, "\n".join(
        f"{kind}: {item}" for kind, items in vars(problems).items() for item in items
    )


def test_chinese_is_the_default_and_english_the_message_itself() -> None:
    assert i18n.language(None) == i18n.language("fr") == "zh"
    assert i18n.language("en-GB") == "en" and i18n.language("zh_CN") == "zh"
    assert i18n.gettext("zh", "Log out") == "退出"
    assert i18n.gettext("en", "Log out") == "Log out"
    # A message no catalog has shows as written rather than as nothing.
    assert i18n.gettext("zh", "no such message") == "no such message"

"""The clerk's number search language (used by the back office and the terminal), turned into a
plan a database can use an index for.

- ``*88``: ends with 88; ``139*``: starts with 139; ``*520*``: contains 520;
- ``139057?8888``: ``?`` is one digit, ``*`` any run of digits;
- plain digits: the whole number when 11 long, otherwise "contains".
"""

from dataclasses import dataclass

_ALLOWED = set("0123456789?*")


class SearchPatternError(ValueError):
    pass


@dataclass(frozen=True)
class SearchPlan:
    like: str  # SQL LIKE over msisdn: the whole pattern
    prefix: str  # literal leading digits: a range on msisdn
    suffix: str  # literal trailing digits: an index on the number's end

    @property
    def ends_decide(self) -> bool:
        """Whether the literal prefix and suffix alone decide a match of an 11-digit number
        (`139*`, `*88`, `139*88`, a whole number), so the LIKE adds nothing to them."""
        if "%" not in self.like and "_" not in self.like:
            return True  # a whole number: its prefix is all of it
        fits = len(self.prefix) + len(self.suffix) <= 11
        return fits and self.like == f"{self.prefix}%{self.suffix}"


def plan_search(pattern: str) -> SearchPlan:
    text = pattern.strip()
    if not text:
        raise SearchPatternError("empty search pattern")
    bad = sorted(set(text) - _ALLOWED)
    if bad:
        raise SearchPatternError(
            f"search pattern {pattern!r}: {bad[0]!r} is not allowed; use digits, ? and *"
        )
    if "*" not in text and "?" not in text and len(text) < 11:
        text = f"*{text}*"
    if "*" not in text and len(text) != 11:
        raise SearchPatternError(
            f"search pattern {pattern!r}: without * it must be 11 characters long"
        )
    like = text.replace("*", "%").replace("?", "_")
    prefix = _literal_run(text)
    suffix = _literal_run(text[::-1])[::-1]
    return SearchPlan(like=like, prefix=prefix, suffix=suffix)


def _literal_run(text: str) -> str:
    run = []
    for ch in text:
        if not ch.isdigit():
            break
        run.append(ch)
    return "".join(run)


def upper_bound(prefix: str) -> str | None:
    """The smallest digit string above every string starting with `prefix` ("139" -> "14"),
    or None for all nines. Digits only, so it holds under any collation."""
    digits = prefix.rstrip("9")
    if not digits:
        return None
    return digits[:-1] + str(int(digits[-1]) + 1)

"""Number grading (靓号规则): an ordered list of tail patterns, first match wins.

Pattern language, matched against the end of the 11-digit number:

- ``0``–``9`` a literal digit, ``?`` any digit;
- ``A``–``J`` placeholders: the same letter is the same digit, different letters are
  different digits (``AABB`` is 1122, never 1111);
- ``+N`` / ``-N`` a run of N consecutive ascending / descending digits (``+4`` = 1234);
- ``re:<regex>`` an advanced rule, a regular expression matched from the number's first
  digit (for rules that are not about the tail, such as "four or more 4s").

All active rules compile into one regular expression of ordered alternatives, so grading
costs one regex match per number however many rules there are.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MSISDN_LENGTH = 11


class GradingRuleError(ValueError):
    """A grading rule pattern that cannot be compiled; says which rule and why."""


@dataclass(frozen=True)
class GradeSpec:
    code: str
    name: str
    rank: int
    selection_fee_fen: int
    prestore_fen: int
    min_monthly_fen: int
    lockin_months: int


@dataclass(frozen=True)
class RuleSpec:
    name: str
    pattern: str
    grade_code: str


STANDARD_GRADE = "STD"

DEFAULT_GRADES: tuple[GradeSpec, ...] = (
    GradeSpec("G1", "一级靓号", 1, 200_000, 500_000, 38_800, 36),
    GradeSpec("G2", "二级靓号", 2, 50_000, 200_000, 18_800, 24),
    GradeSpec("G3", "三级靓号", 3, 10_000, 50_000, 8_800, 12),
    GradeSpec("G4", "四级靓号", 4, 0, 10_000, 3_800, 12),
    GradeSpec(STANDARD_GRADE, "普通号", 5, 0, 5_000, 0, 0),
    GradeSpec("D4", "多4优惠号", 6, 0, 3_000, 0, 0),
)

DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec("五连号 AAAAA", "AAAAA", "G1"),
    RuleSpec("五位顺子 ABCDE", "+5", "G1"),
    RuleSpec("五位倒顺 EDCBA", "-5", "G1"),
    RuleSpec("四连号 AAAA", "AAAA", "G2"),
    RuleSpec("四位顺子 ABCD", "+4", "G2"),
    RuleSpec("四位倒顺 DCBA", "-4", "G2"),
    RuleSpec("三对 AABBCC", "AABBCC", "G2"),
    RuleSpec("三重复 ABABAB", "ABABAB", "G2"),
    RuleSpec("三连号 AAA", "AAA", "G3"),
    RuleSpec("两对 AABB", "AABB", "G3"),
    RuleSpec("重复 ABAB", "ABAB", "G3"),
    RuleSpec("尾号 168", "168", "G3"),
    RuleSpec("尾号 518", "518", "G3"),
    RuleSpec("尾号 66", "66", "G4"),
    RuleSpec("尾号 88", "88", "G4"),
    RuleSpec("尾号 99", "99", "G4"),
    RuleSpec("多4 (后8位四个及以上4)", r"re:\d{3}(?:[^4]*4){4}", "D4"),
)

_PLACEHOLDERS = "ABCDEFGHIJ"
_RUN = re.compile(r"^([+-])(\d{1,2})$")


def pattern_regex(pattern: str, tag: str) -> str:
    """The regex for one rule's pattern, anchored at the number's start (tail rules skip
    straight to the tail); group names are prefixed with ``tag`` so rules can be combined."""
    pattern = pattern.strip()
    if not pattern:
        raise GradingRuleError("empty pattern")
    if pattern.startswith("re:"):
        body = pattern[3:]
        if re.search(r"\\[1-9]|\(\?P[<=]", body):
            raise GradingRuleError(
                f"pattern {pattern!r}: groups by number or name are not allowed in re: rules; "
                "use placeholder letters for repeated digits"
            )
        try:
            re.compile(body)
        except re.error as exc:
            raise GradingRuleError(
                f"pattern {pattern!r}: invalid regular expression: {exc}"
            ) from exc
        return f"(?:{body})"
    run = _RUN.match(pattern)
    if run:
        sign, length = run.group(1), int(run.group(2))
        if not 3 <= length <= 10:
            raise GradingRuleError(f"pattern {pattern!r}: a run must be 3 to 10 digits long")
        digits = "0123456789" if sign == "+" else "9876543210"
        runs = "|".join(digits[i : i + length] for i in range(11 - length))
        return f".{{{MSISDN_LENGTH - length}}}(?:{runs})$"
    if len(pattern) > MSISDN_LENGTH:
        raise GradingRuleError(f"pattern {pattern!r}: longer than a number (11 digits)")
    parts: list[str] = []
    seen: list[str] = []
    for pos, ch in enumerate(pattern, start=1):
        if ch.isdigit():
            parts.append(ch)
        elif ch == "?":
            parts.append(r"\d")
        elif ch.upper() in _PLACEHOLDERS:
            letter = ch.upper()
            name = f"{tag}_{letter}"
            if letter in seen:
                parts.append(f"(?P={name})")
            else:
                # A new letter must differ from every letter already bound.
                others = "".join(f"(?!(?P={tag}_{o}))" for o in seen)
                parts.append(f"{others}(?P<{name}>\\d)")
                seen.append(letter)
        else:
            raise GradingRuleError(
                f"pattern {pattern!r}: character {ch!r} at position {pos} is not a digit, "
                "'?', a placeholder letter A-J, a run (+N/-N) or an re: rule"
            )
    # A fixed skip to the tail: no backtracking, which keeps a million gradings in seconds.
    return f".{{{MSISDN_LENGTH - len(pattern)}}}" + "".join(parts) + "$"


class Grader:
    """Grades numbers by an ordered rule list; numbers no rule matches get the default."""

    def __init__(self, rules: Sequence[RuleSpec], default_grade: str = STANDARD_GRADE) -> None:
        self.default_grade = default_grade
        self._grades: list[str] = []
        alternatives: list[str] = []
        for index, rule in enumerate(rules):
            try:
                body = pattern_regex(rule.pattern, f"r{index}")
            except GradingRuleError as exc:
                raise GradingRuleError(f"rule {index + 1} ({rule.name}): {exc}") from exc
            alternatives.append(f"(?P<r{index}>{body})")
            self._grades.append(rule.grade_code)
        # Alternatives are tried in order at position 0, so the first rule that matches wins.
        self._regex = re.compile("|".join(alternatives)) if alternatives else None

    def grade(self, msisdn: str) -> str:
        if self._regex is None:
            return self.default_grade
        match = self._regex.match(msisdn)
        if match is None:
            return self.default_grade
        return self._grades[int(match.lastgroup[1:])]  # type: ignore[index]

    def grade_many(self, msisdns: Iterable[str]) -> list[str]:
        grade = self.grade
        return [grade(m) for m in msisdns]


def validate_rules(rules: Sequence[RuleSpec], grade_codes: Iterable[str]) -> None:
    """Refuses a rule list with a bad pattern or an unknown grade, naming the rule."""
    known = set(grade_codes)
    for index, rule in enumerate(rules):
        if rule.grade_code not in known:
            raise GradingRuleError(
                f"rule {index + 1} ({rule.name}): unknown grade {rule.grade_code!r}"
            )
    Grader(rules)

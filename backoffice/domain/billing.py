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


class PatternError(GradingRuleError):
    """What is wrong with one pattern, for a page to say in the reader's language: `problem`
    is one of PATTERN_PROBLEMS and `params` fill its message (the English text is the same
    as a GradingRuleError's)."""

    def __init__(self, message: str, problem: str, **params: object) -> None:
        super().__init__(message)
        self.problem = problem
        self.params = params


# What PatternError.problem can be.
PATTERN_PROBLEMS = (
    "empty",
    "regex_groups",
    "regex_invalid",
    "run_length",
    "too_long",
    "bad_character",
)


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
        raise PatternError("empty pattern", "empty")
    if pattern.startswith("re:"):
        body = pattern[3:]
        if re.search(r"\\[1-9]|\(\?P[<=]", body):
            raise PatternError(
                f"pattern {pattern!r}: groups by number or name are not allowed in re: rules; "
                "use placeholder letters for repeated digits",
                "regex_groups",
            )
        try:
            # Compiled as it is combined with the other rules: a flag such as (?i) is valid at
            # the start of an expression alone but not inside a group.
            re.compile(body)
            re.compile(f"(?:{body})")
        except re.error as exc:
            raise PatternError(
                f"pattern {pattern!r}: invalid regular expression: {exc}",
                "regex_invalid",
                detail=str(exc),
            ) from exc
        return f"(?:{body})"
    run = _RUN.match(pattern)
    if run:
        sign, length = run.group(1), int(run.group(2))
        if not 3 <= length <= 10:
            raise PatternError(
                f"pattern {pattern!r}: a run must be 3 to 10 digits long", "run_length"
            )
        digits = "0123456789" if sign == "+" else "9876543210"
        runs = "|".join(digits[i : i + length] for i in range(11 - length))
        return f".{{{MSISDN_LENGTH - length}}}(?:{runs})$"
    if len(pattern) > MSISDN_LENGTH:
        raise PatternError(f"pattern {pattern!r}: longer than a number (11 digits)", "too_long")
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
            raise PatternError(
                f"pattern {pattern!r}: character {ch!r} at position {pos} is not a digit, "
                "'?', a placeholder letter A-J, a run (+N/-N) or an re: rule",
                "bad_character",
                character=ch,
                position=pos,
            )
    # A fixed skip to the tail: no backtracking, which keeps a million gradings in seconds.
    return f".{{{MSISDN_LENGTH - len(pattern)}}}" + "".join(parts) + "$"


def pattern_kind(pattern: str) -> str:
    """What a (valid) pattern looks at: "regex" (an re: rule, from the first digit),
    "run_up" / "run_down" (+N / -N), else "tail" (digits, ?, placeholder letters)."""
    pattern = pattern.strip()
    if pattern.startswith("re:"):
        return "regex"
    run = _RUN.match(pattern)
    if run:
        return "run_up" if run.group(1) == "+" else "run_down"
    return "tail"


@dataclass(frozen=True)
class Explanation:
    """Which rule grades a number, and why. `rule` is the rule's index in the grader's list
    (None: no rule matches, the number gets the default grade); `kind` is pattern_kind's;
    `digits` the part of the number the rule matched (its tail, or what an re: rule matched
    from the first digit); `letters` the digit each placeholder letter stands for."""

    msisdn: str
    grade: str
    rule: int | None = None
    kind: str | None = None
    digits: str = ""
    letters: tuple[tuple[str, str], ...] = ()


class Grader:
    """Grades numbers by an ordered rule list; numbers no rule matches get the default."""

    def __init__(self, rules: Sequence[RuleSpec], default_grade: str = STANDARD_GRADE) -> None:
        self.default_grade = default_grade
        self.rules = tuple(rules)
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
        try:
            self._regex = re.compile("|".join(alternatives)) if alternatives else None
        except re.error as exc:  # each compiled alone; refused rather than a crash if not
            raise GradingRuleError(f"the rules cannot be combined: {exc}") from exc
        self._index = {f"r{index}": index for index in range(len(alternatives))}

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

    def rule_indexes(self, msisdns: Iterable[str]) -> list[int]:
        """For each number, the index of the rule that grades it; -1 where none matches (the
        default grade). One regex match a number, as grade(), for tallies over a pool."""
        if self._regex is None:
            return [-1 for _ in msisdns]
        index = self._index
        matches = map(self._regex.match, msisdns)
        return [-1 if m is None else index[m.lastgroup] for m in matches]  # type: ignore[index]

    def grade_of(self, rule_index: int) -> str:
        """The grade a rule gives (rule_indexes' -1: the default grade)."""
        return self.default_grade if rule_index < 0 else self._grades[rule_index]

    def explain(self, msisdn: str) -> Explanation:
        """Which rule grades the number (the first that matches) and what it matched."""
        match = None if self._regex is None else self._regex.match(msisdn)
        if match is None:
            return Explanation(msisdn, self.default_grade)
        index = self._index[match.lastgroup]  # type: ignore[index]
        pattern = self.rules[index].pattern.strip()
        kind = pattern_kind(pattern)
        if kind == "regex":
            digits = match.group(f"r{index}")
        elif kind == "tail":
            digits = msisdn[-len(pattern) :]
        else:
            digits = msisdn[-int(pattern[1:]) :]
        letters = (
            tuple(
                (letter, match.group(f"r{index}_{letter}"))
                for letter in dict.fromkeys(
                    ch.upper() for ch in pattern if ch.upper() in _PLACEHOLDERS
                )
            )
            if kind == "tail"
            else ()
        )
        return Explanation(msisdn, self._grades[index], index, kind, digits, letters)


def validate_rules(rules: Sequence[RuleSpec], grade_codes: Iterable[str]) -> None:
    """Refuses a rule list with a bad pattern or an unknown grade, naming the rule."""
    known = set(grade_codes)
    for index, rule in enumerate(rules):
        if rule.grade_code not in known:
            raise GradingRuleError(
                f"rule {index + 1} ({rule.name}): unknown grade {rule.grade_code!r}"
            )
    Grader(rules)

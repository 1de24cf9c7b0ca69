"""Grading rules as pure functions: patterns, order, placeholders, errors."""

import pytest

from backoffice.domain.billing import (
    DEFAULT_GRADES,
    DEFAULT_RULES,
    Grader,
    GradingRuleError,
    RuleSpec,
    validate_rules,
)


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(DEFAULT_RULES)


@pytest.mark.parametrize(
    ("msisdn", "grade"),
    [
        ("13905788888", "G1"),  # AAAAA
        ("13905756789", "G1"),  # ascending run of five
        ("13905798765", "G1"),  # descending run of five
        ("13905758888", "G2"),  # AAAA
        ("13905751234", "G2"),  # ABCD
        ("13905112233", "G2"),  # AABBCC
        ("13905121212", "G2"),  # ABABAB
        ("13905750888", "G3"),  # AAA
        ("13905751122", "G3"),  # AABB
        ("13905751212", "G3"),  # ABAB
        ("13905750168", "G3"),  # 168 tail
        ("13905750518", "G3"),  # 518 tail
        ("13905750188", "G4"),  # 88 tail
        ("13905750166", "G4"),
        ("13905750199", "G4"),
        ("13944404143", "D4"),  # four 4s after the prefix
        ("13905751357", "STD"),
    ],
)
def test_default_rules_grade_examples(grader: Grader, msisdn: str, grade: str) -> None:
    assert grader.grade(msisdn) == grade


def test_first_matching_rule_wins() -> None:
    grader = Grader([RuleSpec("pairs", "AA", "G4"), RuleSpec("four", "AAAA", "G1")])
    assert grader.grade("13905758888") == "G4"


def test_different_placeholders_are_different_digits() -> None:
    grader = Grader([RuleSpec("AABB", "AABB", "G3")])
    assert grader.grade("13905751122") == "G3"
    assert grader.grade("13905751111") == "STD"


def test_literals_and_any_digit() -> None:
    grader = Grader([RuleSpec("5?20", "5?20", "G3")])
    assert grader.grade("13905755120") == "G3"
    assert grader.grade("13905755121") == "STD"


def test_regex_rule_matches_from_the_first_digit() -> None:
    grader = Grader([RuleSpec("starts 139", r"re:139", "G4")])
    assert grader.grade("13905751357") == "G4"
    assert grader.grade("13805751357") == "STD"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("AB!", "character '!' at position 3"),
        ("AX1", "character 'X' at position 2"),
        ("", "empty pattern"),
        ("+2", "a run must be 3 to 10 digits long"),
        ("123456789012", "longer than a number"),
        (r"re:(\d)\1", "groups by number or name are not allowed"),
        ("re:[12", "invalid regular expression"),
    ],
)
def test_bad_patterns_are_refused_with_the_rule_named(pattern: str, message: str) -> None:
    with pytest.raises(GradingRuleError) as error:
        Grader([RuleSpec("ok", "88", "G4"), RuleSpec("broken", pattern, "G3")])
    assert "rule 2 (broken)" in str(error.value)
    assert message in str(error.value)


def test_unknown_grade_is_refused() -> None:
    with pytest.raises(GradingRuleError, match="unknown grade 'G9'"):
        validate_rules([RuleSpec("x", "88", "G9")], [g.code for g in DEFAULT_GRADES])


def test_default_rules_only_use_default_grades() -> None:
    validate_rules(DEFAULT_RULES, [g.code for g in DEFAULT_GRADES])

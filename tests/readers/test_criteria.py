"""split_criteria on real-looking eligibility texts (API v2 Markdown and classic XML layout)."""

from __future__ import annotations

import pytest

from trial2fhir.readers.criteria import clean_item, split_criteria, unescape


def test_api_v2_markdown_with_nested_list_and_escapes() -> None:
    text = (
        "Inclusion Criteria:\n\n"
        "* Age ≥ 18 years\n"
        "* ECOG performance status 0\\-1\n\n"
        "Exclusion Criteria:\n\n"
        "* Radicular symptoms \\< 3 months duration\n"
        "* Major neurological deficits such as:\n\n"
        "  * Cauda equina syndrome\n"
        "  * Rapidly progressing neurological symptoms (e.g. foot drop)\n"
        "* Pregnancy"
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion == ["Age ≥ 18 years", "ECOG performance status 0-1"]
    assert exclusion == [
        "Radicular symptoms < 3 months duration",
        "Major neurological deficits such as:",
        "Cauda equina syndrome",
        "Rapidly progressing neurological symptoms (e.g. foot drop)",
        "Pregnancy",
    ]


def test_numbered_items_with_escaped_dots_and_qualified_headings() -> None:
    text = (
        "Subject Inclusion Criteria:\n\n"
        "A subject is eligible if all the following criteria are met:\n\n"
        "1\\. Chronic lower back pain for at least 6 months\n"
        "2\\. Failure of conservative care\n"
        "   1. rest\n"
        "   2. analgesics\n\n"
        "Key Exclusion Criteria:\n\n"
        "1. Prior spine surgery\n"
        "2) BMI \\> 40\n"
        "(3) Active infection"
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion == [
        "A subject is eligible if all the following criteria are met:",
        "Chronic lower back pain for at least 6 months",
        "Failure of conservative care",
        "rest",
        "analgesics",
    ]
    assert exclusion == ["Prior spine surgery", "BMI > 40", "Active infection"]


def test_classic_xml_layout_with_continuation_lines() -> None:
    text = (
        "Inclusion Criteria:\n\n"
        "  -  Positive Covid test on qualitative assay used during routine care (i.e. not as part of\n"
        "     Q-PROTECT)\n\n"
        "  -  Age at least 18\n\n"
        "Exclusion Criteria:\n\n"
        "  -  History of or known QT prolongation\n\n"
        "       -  EKG required before study entry and on each visit during the subject's first\n"
        "          seven days\n\n"
        "  -  Age <18"
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion == [
        "Positive Covid test on qualitative assay used during routine care (i.e. not as part of Q-PROTECT)",
        "Age at least 18",
    ]
    assert exclusion == [
        "History of or known QT prolongation",
        "EKG required before study entry and on each visit during the subject's first seven days",
        "Age <18",
    ]


@pytest.mark.parametrize(
    "heading",
    [
        "Exclusion Criteria:",
        "EXCLUSION CRITERIA",
        "Key Exclusion Criteria:",
        "Subject Exclusion Criteria",
        "**Exclusion Criteria:**",
        "## Exclusion criteria",
        "* Exclusion Criteria:",
    ],
)
def test_heading_forms(heading: str) -> None:
    inclusion, exclusion = split_criteria(f"Inclusion Criteria:\n\n* a\n\n{heading}\n\n* b")
    assert (inclusion, exclusion) == (["a"], ["b"])


def test_heading_with_text_on_the_same_line() -> None:
    inclusion, exclusion = split_criteria("Inclusion criteria: adults with asthma\nExclusion criteria: smokers")
    assert (inclusion, exclusion) == (["adults with asthma"], ["smokers"])


def test_qualified_sub_headings_keep_their_context() -> None:
    text = (
        "Inclusion Criteria:\n\n* a\n\nSpecific inclusion criteria for lung transplant patients:\n\n* b\n\n"
        "Specific exclusion criteria for lung transplant patients:\n\n* c"
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion == ["a", "Specific inclusion criteria for lung transplant patients:", "b"]
    assert exclusion == ["Specific exclusion criteria for lung transplant patients:", "c"]


def test_sentences_mentioning_criteria_are_items_not_headings() -> None:
    text = (
        "Exclusion Criteria:\n\n"
        "* With unlisted exclusion criteria but are considered not suitable by researchers.\n"
        "* Patients may not be enrolled if any of the following exclusion criteria are present:\n"
        "* Meets DSM-5 criteria for schizophrenia"
    )
    inclusion, exclusion = split_criteria(text)
    assert inclusion == []
    assert len(exclusion) == 3


def test_text_without_headings_is_inclusion_and_bare_markers_dropped() -> None:
    assert split_criteria("Adults over 18\n* healthy\n-") == (["Adults over 18", "healthy"], [])
    assert split_criteria("Inclusion Criteria:\n\n* x\n\nExclusion Criteria:\n\n-") == (["x"], [])
    assert split_criteria(None) == ([], [])
    assert split_criteria("") == ([], [])


def test_helpers() -> None:
    assert unescape(r"2\. BMI \> 40") == "2. BMI > 40"
    assert clean_item("  3.   Some   item ") == "Some item"
    assert clean_item("iv) roman") == "roman"

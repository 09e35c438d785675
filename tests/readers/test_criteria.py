"""parse_criteria, one rule per test, on real-looking texts (API v2 Markdown, classic XML, pages)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from trial2fhir.model import CriteriaSection, Criterion
from trial2fhir.readers.criteria import MAX_DEPTH, clean_item, parse_criteria, unescape


def texts(items: list[Criterion]) -> list[str]:
    return [c.text for c in items]


def shape(sections: list[CriteriaSection]) -> list[tuple[str, str | None, list[str]]]:
    return [(s.side, s.heading, texts(s.items)) for s in sections]


def test_markdown_sections_lead_in_and_escapes() -> None:
    text = (
        "Inclusion Criteria:\n\n* Age ≥ 18 years\n* ECOG performance status 0\\-1\n\n"
        "Exclusion Criteria:\n\n* Radicular symptoms \\< 3 months duration\n"
        "* Major neurological deficits such as:\n\n  * Cauda equina syndrome\n  * Foot drop\n* Pregnancy"
    )
    inc, exc = parse_criteria(text)
    assert (inc.side, inc.heading, texts(inc.items)) == (
        "inclusion", "Inclusion Criteria:", ["Age ≥ 18 years", "ECOG performance status 0-1"])
    assert exc.side == "exclusion"
    assert texts(exc.items) == ["Radicular symptoms < 3 months duration", "Major neurological deficits such as:",
                                "Pregnancy"]
    assert texts(exc.items[1].items) == ["Cauda equina syndrome", "Foot drop"]
    assert exc.items[1].combination == "all-of"
    assert exc.items[0].combination is None


def test_classic_xml_hard_wraps_are_joined() -> None:
    text = (
        "Inclusion Criteria:\n\n  -  All patients must sign informed consent approved by the Committee\n"
        "     on the Use of Human Subjects\n\n  -  Karnofsky status of 70% or more\n\n"
        "Exclusion Criteria:\n\n  -  Pregnant or lactating women. Females of child-bearing potential\n"
        "     will be asked to take a pregnancy test.\n"
    )
    inc, exc = parse_criteria(text)
    assert texts(inc.items) == [
        "All patients must sign informed consent approved by the Committee on the Use of Human Subjects",
        "Karnofsky status of 70% or more",
    ]
    assert texts(exc.items) == [
        "Pregnant or lactating women. Females of child-bearing potential will be asked to take a pregnancy test."]


def test_note_paragraph_stays_with_its_bullet() -> None:
    text = "Exclusion Criteria:\n\n* Coagulation disorders\n\n  Note: low-dose heparin is allowed.\n* Pregnancy"
    (exc,) = parse_criteria(text)
    assert texts(exc.items) == ["Coagulation disorders Note: low-dose heparin is allowed.", "Pregnancy"]


def test_headings_in_many_forms() -> None:
    for heading, side in [
        ("Key Inclusion Criteria:", "inclusion"), ("**MAIN EXCLUSION CRITERIA** --", "exclusion"),
        ("1. Inclusion criteria", "inclusion"), ("Subject Exclusion Criteria", "exclusion"),
        ("Transplant Exclusion:", "exclusion"), ("Inclusion/Exclusion:", "unspecified"),
        ("Eligibility criteria", "unspecified"), ("Criteria for inclusion:", "inclusion"),
        ("Patients may not be enrolled if any of the following criteria apply:", "exclusion"),
    ]:
        (section,) = parse_criteria(f"{heading}\n\n* Age 18 or over\n* Signed consent")
        assert (section.side, texts(section.items)) == (side, ["Age 18 or over", "Signed consent"]), heading


def test_no_heading_means_no_side() -> None:
    (section,) = parse_criteria("* Age 18 or over\n* Signed consent")
    assert (section.side, section.heading) == ("unspecified", None)


def test_introduction_joins_its_heading() -> None:
    text = ("Subject Inclusion Criteria:\n\nA subject is eligible if all the following criteria are met:\n\n"
            "1. Chronic back pain\n2. Failure of conservative care")
    (section,) = parse_criteria(text)
    intro = "A subject is eligible if all the following criteria are met:"
    assert section.heading == f"Subject Inclusion Criteria:\n{intro}"
    assert texts(section.items) == ["Chronic back pain", "Failure of conservative care"]


def test_cohort_headings_keep_the_enclosing_side() -> None:
    text = ("Inclusion Criteria:\n\n* Adults\n\nFor the SLE cohort:\n\n* SLEDAI ≥ 6\n\nGroup 2\n\n* PHA < 5,000 cpm\n\n"
            "Exclusion Criteria:\n\n* Pregnancy")
    assert shape(parse_criteria(text)) == [
        ("inclusion", "Inclusion Criteria:", ["Adults"]),
        ("inclusion", "For the SLE cohort:", ["SLEDAI ≥ 6"]),
        ("inclusion", "Group 2", ["PHA < 5,000 cpm"]),
        ("exclusion", "Exclusion Criteria:", ["Pregnancy"]),
    ]


def test_old_nci_layout() -> None:
    text = (
        "DISEASE CHARACTERISTICS:\n\n  -  Histologically confirmed melanoma\n\n"
        "PATIENT CHARACTERISTICS:\n\nAge:\n\n  -  18 and over\n\nHepatic:\n\n  -  Bilirubin normal\n"
        "  -  AST < 2 times ULN\n\nPRIOR CONCURRENT THERAPY:\n\n  -  No prior chemotherapy\n"
    )
    sections = parse_criteria(text)
    assert [(s.side, s.heading) for s in sections] == [
        ("unspecified", "DISEASE CHARACTERISTICS:"), ("unspecified", "PATIENT CHARACTERISTICS:"),
        ("unspecified", "PRIOR CONCURRENT THERAPY:")]
    age, hepatic = sections[1].items
    assert (age.text, texts(age.items)) == ("Age:", ["18 and over"])
    assert (hepatic.text, texts(hepatic.items)) == ("Hepatic:", ["Bilirubin normal", "AST < 2 times ULN"])


def test_any_of_lead_in() -> None:
    (section,) = parse_criteria("Exclusion Criteria:\n\n1. Has received any of the following:\n\n"
                                "   1. Chemotherapy\n   2. Radiotherapy\n2. Pregnancy")
    lead = section.items[0]
    assert (lead.combination, texts(lead.items)) == ("any-of", ["Chemotherapy", "Radiotherapy"])
    assert texts(section.items) == ["Has received any of the following:", "Pregnancy"]


def test_numbering_corrects_indentation() -> None:
    # "* 1." then "  2.": the bullet was an artefact, 2 is 1's sibling
    (section,) = parse_criteria("Exclusion Criteria:\n\n* 1. Unwilling to comply\n\n  2. Allergy to naloxone\n"
                                "  3. Investigational drug within 30 days")
    assert texts(section.items) == ["Unwilling to comply", "Allergy to naloxone", "Investigational drug within 30 days"]


def test_restarted_list_under_a_colon_item_is_its_sub_list() -> None:
    text = ("Inclusion Criteria:\n\n  9. Low risk, i.e. YES to any of the following questions:\n\n"
            "1. Are you abstinent? 2. Are you monogamous?\n\n10. ALT < 1.1 ULN 11. Creatinine < 80 umol/L")
    (section,) = parse_criteria(text)
    lead = section.items[0]
    assert texts(lead.items) == ["Are you abstinent?", "Are you monogamous?"]
    assert texts(section.items)[1:] == ["ALT < 1.1 ULN", "Creatinine < 80 umol/L"]


def test_item_cut_by_a_stray_marker_is_joined() -> None:
    (section,) = parse_criteria("* Potent inhibitors or inducers of\n* CYP3A isoenzymes within 7 days\n* Pregnancy")
    assert texts(section.items) == ["Potent inhibitors or inducers of CYP3A isoenzymes within 7 days", "Pregnancy"]


def test_heading_with_a_lead_in_on_its_line() -> None:
    (section,) = parse_criteria("Exclusion Criteria:Patients with\n\n* vertebral fracture,\n* diabetes mellitus")
    assert section.side == "exclusion"
    assert texts(section.items) == ["Patients with"]
    assert texts(section.items[0].items) == ["vertebral fracture,", "diabetes mellitus"]


def test_flat_page_lines_nest_by_wording() -> None:
    text = ("Inclusion Criteria\n* Organ function:\n1. Complete blood count:\n* Platelets ≥ 25\n* Hemoglobin ≥ 70\n"
            "2. Liver function normal\nExclusion Criteria\nHaving good organ function\n"
            "Blood routine: ANC ≥ 0.5\nRenal function: creatinine ≤ 1.5 ULN\nPregnant women.")
    inc, exc = parse_criteria(text)
    organ = inc.items[0]
    assert texts(organ.items) == ["Complete blood count:", "Liver function normal"]
    assert texts(organ.items[0].items) == ["Platelets ≥ 25", "Hemoglobin ≥ 70"]
    assert texts(exc.items) == ["Having good organ function", "Pregnant women."]
    assert texts(exc.items[0].items) == ["Blood routine: ANC ≥ 0.5", "Renal function: creatinine ≤ 1.5 ULN"]


def test_empty_heading_is_no_section() -> None:
    assert shape(parse_criteria("Inclusion Criteria:\n\n* Adults\n\nExclusion Criteria:\n\n-")) == [
        ("inclusion", "Inclusion Criteria:", ["Adults"])]
    assert parse_criteria("") == []
    assert parse_criteria(None) == []


def test_depth_is_capped_without_losing_text() -> None:
    text = "\n".join(f"{'  ' * d}* level {d}:" for d in range(MAX_DEPTH + 2))
    (section,) = parse_criteria(text)
    node, depth = section.items[0], 1
    while node.items:
        node, depth = node.items[0], depth + 1
    assert depth == MAX_DEPTH
    assert "level 5:" in str(section.model_dump())


def test_clean_item_and_unescape() -> None:
    assert clean_item("  * 2\\. Age \\> 18") == "2. Age > 18"
    assert unescape("\\*x\\_") == "*x_"


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _tree_words(sections: list[CriteriaSection]) -> set[str]:
    out: set[str] = set()

    def walk(items: list[Criterion]) -> None:
        for c in items:
            out.update(_words(c.text))
            walk(c.items)

    for s in sections:
        out.update(_words(s.heading or ""))
        walk(s.items)
    return out


HEADINGS = ["Inclusion Criteria:", "Exclusion Criteria", "Group 2", "DISEASE CHARACTERISTICS:",
            "Patients must meet all of the following criteria:"]
_LINE = st.one_of(
    st.sampled_from([*HEADINGS, "Hepatic:", ""]),
    st.builds(lambda ind, mark, words: f"{' ' * ind}{mark}{' '.join(words)}",
              st.integers(0, 6), st.sampled_from(["", "* ", "- ", "1. ", "2) ", "a. ", "• "]),
              st.lists(st.sampled_from(["age", "of", "18", "Prior", "therapy:", "with", "and", "cancer", "≥",
                                        "following", "any", "HIV", "(HbA1c)", "Note:"]), min_size=1, max_size=8)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=25))
def test_no_text_is_lost(lines: list[str]) -> None:
    """Every word of the criteria is in the tree (a heading with nothing under it may be left out:
    the verbatim text beside the tree keeps it)."""
    text = "\n".join(lines)
    sections = parse_criteria(text)
    said = "\n".join(clean_item(line) for line in lines if line not in HEADINGS)  # list markers are order
    assert _words(said) <= _tree_words(sections)
    for s in sections:
        assert s.items  # a section is never empty


def test_sides_of_worded_headings() -> None:
    for heading, side in [
        ("Exclusion criteria include:", "exclusion"),
        ("Subjects who meet any of the following are not eligible for inclusion:", "exclusion"),
        ("Patients will be included if they meet the following criteria:", "inclusion"),
        ("Disease Characteristics:", "unspecified"),
        ("--Prior/Concurrent Therapy--", "unspecified"),
    ]:
        (section,) = parse_criteria(f"{heading}\n\n* Age 18 or over")
        assert (section.side, texts(section.items)) == (side, ["Age 18 or over"]), heading


def test_cohort_heading_with_a_qualifier() -> None:
    text = ("Inclusion Criteria:\n\n* Adults\n\nCohort 1 - NSCLC:\n\n* EGFR mutation\n\n"
            "Part B (Dose Expansion)\n\n* ECOG 0-1")
    assert [(s.side, s.heading) for s in parse_criteria(text)] == [
        ("inclusion", "Inclusion Criteria:"), ("inclusion", "Cohort 1 - NSCLC:"),
        ("inclusion", "Part B (Dose Expansion)")]


def test_decimal_numbering() -> None:
    (section,) = parse_criteria("Inclusion Criteria:\n1.1 Age 18 or over\n1.2. Signed consent\n2.1 ECOG 0-1")
    assert texts(section.items) == ["Age 18 or over", "Signed consent", "ECOG 0-1"]


def test_misspelt_headings_and_words_that_only_look_alike() -> None:
    for heading, side in [("Inlcusion Critera:", "inclusion"), ("Exlusion Criteria", "exclusion"),
                          ("Key Exclusion Citeria", "exclusion")]:
        (section,) = parse_criteria(f"{heading}\n\n* Age 18 or over")
        assert (section.side, section.heading) == (side, heading), heading
    (section,) = parse_criteria("Inclusion Criteria:\n\nCritically ill patients\n\n* Age 18 or over")
    assert texts(section.items)[0] == "Critically ill patients"  # a caption here, never a heading


def test_first_item_on_the_heading_line() -> None:
    (section,) = parse_criteria("Inclusion Criteria: - Age over 18\n\n  -  Signed consent")
    assert (section.side, texts(section.items)) == ("inclusion", ["Age over 18", "Signed consent"])


def test_old_nci_layout_run_into_its_headings() -> None:
    text = ("DISEASE CHARACTERISTICS: Histologically confirmed adenocarcinoma\n\n"
            "PATIENT CHARACTERISTICS: Age: 18 and over\n\nPRIOR CONCURRENT THERAPY: No prior hormonal therapy")
    assert shape(parse_criteria(text)) == [
        ("unspecified", "DISEASE CHARACTERISTICS:", ["Histologically confirmed adenocarcinoma"]),
        ("unspecified", "PATIENT CHARACTERISTICS:", ["Age: 18 and over"]),
        ("unspecified", "PRIOR CONCURRENT THERAPY:", ["No prior hormonal therapy"]),
    ]


def test_introduction_as_a_bullet_and_lead_in_amid_a_list() -> None:
    text = ("Inclusion Criteria:\n\n* Participants are eligible to be included in the study only if all of the "
            "following criteria apply:\n\n  1. Age 18 or over\n  2. Signed consent\n"
            "* Adequate organ function, defined by the following criteria:\n\n  1. ANC > 1500\n")
    (section,) = parse_criteria(text)
    assert section.heading is not None
    assert section.heading.endswith("only if all of the following criteria apply:")
    assert texts(section.items) == ["Age 18 or over", "Signed consent",
                                    "Adequate organ function, defined by the following criteria:"]
    assert texts(section.items[2].items) == ["ANC > 1500"]


def test_word_processor_bullets_and_roman_numbers() -> None:
    text = "Inclusion Criteria:\n\n\uf0b7 Age 18 or over\n  o ECOG 0-1\n\u25aa Signed consent\nII. Stage II disease"
    (section,) = parse_criteria(text)
    assert texts(section.items) == ["Age 18 or over", "Signed consent", "Stage II disease"]
    assert texts(section.items[0].items) == ["ECOG 0-1"]


def test_long_qualified_side_heading() -> None:
    text = ("Inclusion Criteria:\n\n* Adults\n\nExclusion Criteria for Part 2 (in addition to those for Part 1 "
            "and the screening period):\n\n* Prior gene therapy")
    assert [(s.side, texts(s.items)) for s in parse_criteria(text)] == [
        ("inclusion", ["Adults"]), ("exclusion", ["Prior gene therapy"])]


def test_a_list_of_semicolons_ends_at_its_full_stop() -> None:
    # Flat page text (markers kept, indentation lost): "2. ...:" introduces the "*" items up to the
    # one ending in "."; the "*" after it is the outer list's again, as the outer items' own kind.
    text = (
        "Inclusion Criteria:\n* Adults;\n* History of SLE for 6 months:\n1. Conventional regimens;\n"
        "2. Oral corticosteroids must meet the following requirements:\n* Prednisone 7.5 to 60 mg/day;\n"
        "* No minimum dose with immunosuppressants;\n* Stable dose for 2 weeks.\n* Positive ANA;\n* CD19 positive"
    )
    (inc,) = parse_criteria(text)
    assert texts(inc.items) == ["Adults;", "History of SLE for 6 months:", "Positive ANA;", "CD19 positive"]
    history = inc.items[1]
    assert texts(history.items) == [
        "Conventional regimens;", "Oral corticosteroids must meet the following requirements:"]
    assert texts(history.items[1].items) == [
        "Prednisone 7.5 to 60 mg/day;", "No minimum dose with immunosuppressants;", "Stable dose for 2 weeks."]


def test_a_list_that_does_not_end_in_a_full_stop_stays_open() -> None:
    # the same items without the closing "." (or all ending in "."): nothing says where the list ends
    for last in ("Stable dose for 2 weeks", "Stable dose for 2 weeks;"):
        text = f"Exclusion Criteria:\n* Organ function as follows:\n* ANC ok;\n* {last}\n* Pregnancy"
        (exc,) = parse_criteria(text)
        assert texts(exc.items) == ["Organ function as follows:"]
        assert texts(exc.items[0].items) == ["ANC ok;", last, "Pregnancy"]
    text = "Exclusion Criteria:\n* Organ function as follows:\n* ANC ok;\n* Stable dose.\n* Pregnancy"
    (exc,) = parse_criteria(text)
    assert texts(exc.items) == ["Organ function as follows:", "Pregnancy"]


def test_further_criteria_apply_is_a_note_of_its_section_not_a_criterion() -> None:
    text = (
        "Inclusion Criteria:\n\n1. Adults.\n2. Moderate to severe HS.\n\nFurther criteria apply.\n\n"
        "Exclusion Criteria:\n\n* Pregnancy\n* Other protocol-defined inclusion/exclusion criteria may apply"
    )
    inc, exc = parse_criteria(text)
    assert (texts(inc.items), inc.notes) == (["Adults.", "Moderate to severe HS."], ["Further criteria apply."])
    assert (texts(exc.items), exc.notes) == (
        ["Pregnancy"], ["Other protocol-defined inclusion/exclusion criteria may apply"])
    # a criterion that only mentions further criteria is one; a section of a note alone keeps it as its item
    (sec,) = parse_criteria("Inclusion Criteria:\n* Further criteria apply to cohort B: age over 65")
    assert (texts(sec.items), sec.notes) == (["Further criteria apply to cohort B: age over 65"], [])
    (sec,) = parse_criteria("Inclusion Criteria:\n\nFurther criteria apply.")
    assert (texts(sec.items), sec.notes) == (["Further criteria apply."], [])


def test_a_labels_list_ends_at_its_full_stop() -> None:
    # An unmarked label over numbered items (a page's layout): "1. ...;" "2. ... ." end its list, and
    # "3." continues the section's own numbering, not the label's.
    text = (
        "Inclusion Criteria\n2. Stable standard therapy for 2 months.\nOral corticosteroids need to meet the "
        "following conditions:\n1. Prednisone 7.5 to 60 mg/day;\n2. No minimum dose with immunosuppressants.\n"
        "3. SLEDAI-2000 score of 8 or more;\n4. Age 18 to 70"
    )
    (inc,) = parse_criteria(text)
    assert texts(inc.items) == ["Stable standard therapy for 2 months.",
                                "Oral corticosteroids need to meet the following conditions:",
                                "SLEDAI-2000 score of 8 or more;", "Age 18 to 70"]
    assert texts(inc.items[1].items) == ["Prednisone 7.5 to 60 mg/day;", "No minimum dose with immunosuppressants."]


def test_the_next_number_run_into_a_sub_item_is_its_lead_ins_sibling() -> None:
    # "7. ...:" takes "1." and "2."; the "8." run into "2." (no line break) is 7's sibling, not 2's text
    text = ("Inclusion Criteria\n6. Survival over 3 months;\n7. Organ function as follows:\n1. ALT under 2.5 x ULN;\n"
            "2. SpO2 of 92% or more; 8. Women of childbearing age agree to contraception.\n9. Signed consent.")
    (inc,) = parse_criteria(text)
    assert texts(inc.items) == ["Survival over 3 months;", "Organ function as follows:",
                                "Women of childbearing age agree to contraception.", "Signed consent."]
    assert texts(inc.items[1].items) == ["ALT under 2.5 x ULN;", "SpO2 of 92% or more;"]


def test_a_staircase_of_a_thousand_indents_keeps_every_item_without_recursing_that_deep() -> None:
    # hostile input: 1000 lead-ins, each indented one tab more (and a flat run alternating kinds)
    for text in ("Inclusion Criteria:\n" + "".join("\t" * i + "- a:\n" for i in range(1000)),
                 "Inclusion Criteria:\n" + "".join("* a:\n" if i % 2 else "1. b:\n" for i in range(3000))):
        (inc,) = parse_criteria(text)
        found = _walk(inc.items, 1)
        assert len(found) == text.count("\n") - 1


def _walk(items: list[Criterion], depth: int) -> list[str]:
    out: list[str] = []
    for c in items:
        assert depth <= MAX_DEPTH
        out.append(c.text)
        out.extend(_walk(c.items, depth + 1))
    return out

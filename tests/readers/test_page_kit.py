"""The page kit: lines, the cut into sections, the draft Trial (unit tests, no layout file)."""

from __future__ import annotations

import pytest

from trial2fhir.errors import RecordError
from trial2fhir.model import PartialDate
from trial2fhir.readers.pages.kit import Draft, Line, page_lines, paragraphs, split_sections
from trial2fhir.readers.pages.layout import check

LAYOUT = check({
    "layout": "test", "format": "page-listing", "nct_place": "line 1", "blurbs": True,
    "headings": {"Facts": {"key": "facts", "blurb": "The facts of the trial, as the page gives them."},
                 "Story": {"key": "story", "prose": True, "blurb": "What the trial is about, in prose."},
                 "Sites": {"key": "sites"}},
    "end_markers": ["Sign up"],
    "sections": {"": {"read": "skip"}, "facts": {"read": "skip"}, "story": {"read": "skip"},
                 "sites": {"read": "skip"}},
}, "test")


def _split(text: str) -> list[tuple[str, list[str]]]:
    return [(s.key, [line.text for line in s.lines]) for s in split_sections(page_lines(text), LAYOUT, "t")]


def test_sections_blurbs_removed_and_in_prose_a_heading_needs_its_own_blurb() -> None:
    page = ("Title\nFacts\nThe facts of the trial, as the page gives them.\nRECRUITING\n"
            "Sites\nA new sentence that looks like a blurb.\nHangzhou\n"
            "Story\nWhat the trial is about, in prose.\nIt began.\nFacts\nwere few.\n"
            "Sites\nA new sentence that looks like a blurb.\n")
    assert _split(page) == [
        ("", ["Title"]), ("facts", ["RECRUITING"]), ("sites", ["Hangzhou"]),
        ("story", ["It began.", "Facts", "were few.", "Sites", "A new sentence that looks like a blurb."])]


def test_a_heading_with_no_known_blurb_opens_with_a_blurb_like_sentence_only() -> None:
    assert _split("Sites\nHangzhou\n") == [("", ["Sites", "Hangzhou"])]


def test_the_end_marker_ends_the_page_and_a_heading_after_it_is_a_second_page() -> None:
    assert _split("Title\nSign up\nwidgets\n") == [("", ["Title"])]
    with pytest.raises(RecordError) as info:
        _split("Title\nSign up\nFacts\nThe facts of the trial, as the page gives them.\n")
    assert info.value.problem.place == "line 3"


def test_a_section_opened_twice_is_an_error_naming_both_lines() -> None:
    blurb = "The facts of the trial, as the page gives them."
    with pytest.raises(RecordError) as info:
        _split(f"Facts\n{blurb}\nA\nFacts\n{blurb}\nB\n")
    assert (info.value.problem.place, info.value.problem.message) == (
        "line 4", 'section "Facts" appears twice (first at line 1): one page per file')


def test_paragraphs_keep_line_breaks_and_fold_blank_runs() -> None:
    lines = [Line(i, t) for i, t in enumerate(["", "a", "", "", "b  ", ""], start=1)]
    assert paragraphs(lines) == "a\n\nb"
    assert paragraphs([Line(1, "  ")]) is None


def _draft() -> Draft:
    draft = Draft("f.txt", "page-listing", "line 1")
    draft.put("identification.nct_id", "NCT01234567", Line(1, "NCT01234567"))
    return draft


def test_put_keeps_the_first_value_and_reports_a_different_one() -> None:
    draft = _draft()
    draft.put("status.overall_status", "RECRUITING", Line(2, "Recruiting"))
    draft.put("status.overall_status", "RECRUITING", Line(3, "RECRUITING"))
    draft.put("status.overall_status", "COMPLETED", Line(4, "Completed"))
    assert draft.build().status.overall_status == "RECRUITING"
    assert draft.unplaced == ["line 4: Completed"]


def test_a_second_nct_id_is_two_trials_on_one_page() -> None:
    draft = _draft()
    with pytest.raises(RecordError) as info:
        draft.put("identification.nct_id", "NCT07654321", Line(9, "NCT07654321"))
    assert info.value.problem.place == "line 9"
    assert "a second NCT ID NCT07654321 (the first, NCT01234567, at line 1)" in info.value.problem.message


def test_an_error_in_a_list_item_names_that_items_line() -> None:
    draft = _draft()
    draft.add("arms", {"label": "Arm A"}, Line(5, "Arm A"))
    draft.add("arms", {"label": ""}, Line(8, ""))
    with pytest.raises(RecordError) as info:
        draft.build()
    assert info.value.problem.place == "line 8"
    assert info.value.problem.message.startswith("arms.1.label: String should have at least 1 character")


def test_no_nct_id_is_named_at_the_layouts_place() -> None:
    with pytest.raises(RecordError) as info:
        Draft("f.txt", "page-listing", 'section "Details"').build()
    assert (info.value.problem.place, info.value.problem.message) == ('section "Details"', "no NCT ID found")


def test_extend_adds_only_new_items() -> None:
    draft = _draft()
    draft.extend("conditions", ["SLE", "SLE", "AAV"], Line(3, "SLE"))
    draft.extend("conditions", ["AAV", "SSc"], Line(4, "AAV"))
    assert draft.build().conditions == ["SLE", "AAV", "SSc"]


def test_by_shape_page_order_chooses_between_fields_of_one_shape() -> None:
    """Two dates: the first is the start, the next the completion; a labelled-only field takes
    only the value its label names; a line no free field accepts is unplaced."""
    from trial2fhir.readers.pages.layout import FieldRule
    from trial2fhir.readers.pages.segmenters import by_shape

    fields = [FieldRule(to="status.overall_status", shape="status_code"),
              FieldRule(to="status.start_date", shape="iso_date"),
              FieldRule(to="status.primary_completion_date", shape="iso_date", labelled=True),
              FieldRule(to="status.completion_date", shape="iso_date")]
    draft = _draft()
    by_shape(draft, [Line(2, "RECRUITING"), Line(3, "2025-01"), Line(4, "2026-06", "status.primary_completion_date"),
                     Line(5, "2027-12-31"), Line(6, "COMPLETED")], fields)
    status = draft.build().status
    assert (status.overall_status, status.start_date, status.primary_completion_date, status.completion_date) == (
        "RECRUITING", PartialDate(date="2025-01"), PartialDate(date="2026-06"), PartialDate(date="2027-12-31"))
    assert draft.unplaced == ["line 6: COMPLETED"]  # the status field is behind: page order only goes on


def test_a_page_line_ends_at_lf_cr_or_crlf_only() -> None:
    # a form feed or U+2028 inside a line is a space: it cut an arm label in two, and shifted line numbers
    from trial2fhir.readers.pages.kit import page_lines

    lines = page_lines("Arm\x0cone\r\nArm\u2028two\rthree\n\nfive\n")
    assert [(line.no, line.text) for line in lines] == [(1, "Arm one"), (2, "Arm two"), (3, "three"), (4, ""),
                                                        (5, "five")]

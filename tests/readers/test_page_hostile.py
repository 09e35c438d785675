"""Hostile page input (issue 7): two pages in one file, a section twice, impossible dates, broken
layouts, mutated pages. Each answer is a RecordError naming the place, or a Trial: never a crash,
never one record merged from two pages."""

from __future__ import annotations

import random

import pytest
import yaml

from tests.conftest import SAMPLES
from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers import READERS
from trial2fhir.readers.base import ReadResult
from trial2fhir.readers.pages import compact, listing, summary
from trial2fhir.readers.pages.layout import check

LAYOUTS = {  # reader -> (module, sample page)
    "page-compact": (compact, "000_2338396f704c9960"),
    "page-compact-labelled": (compact, "004_96d7e8fc43b3fc8e"),
    "page-listing": (listing, "001_ad5d10a3e830c998"),
    "page-summary": (summary, "003_a56d0ce5535905ef"),
}


def _text(stem: str) -> str:
    return (SAMPLES / f"{stem}.txt").read_text(encoding="utf-8")


def _one(module: object, text: str) -> ReadResult:
    results = list(module.read(text.encode(), "page.txt"))  # type: ignore[attr-defined]
    assert len(results) == 1
    return results[0]


def _error(module: object, text: str) -> RecordError:
    result = _one(module, text)
    assert isinstance(result, RecordError), "expected a RecordError, got a Trial"
    return result


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based number of the nth line equal to ``needle``."""
    hits = [no for no, line in enumerate(text.splitlines(), start=1) if line.strip() == needle]
    return hits[nth - 1]


# --- two pages in one file ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_two_pages_in_one_file_are_an_error_not_one_merged_record(name: str) -> None:
    module, stem = LAYOUTS[name]
    page = _text(stem)
    err = _error(module, page + "\n" + page)
    assert "one page per file" in err.problem.message
    assert err.problem.place.startswith("line ")
    assert int(err.problem.place.split()[1]) > len(page.splitlines())  # where the second page starts


def test_two_different_compact_pages_name_the_second_heading() -> None:
    first, second = _text("000_2338396f704c9960"), _text("002_351053130900a3cb")
    err = _error(compact, first + "\n" + second)
    both = first + "\n" + second
    assert err.problem.place == f"line {_line_of(both, 'Study Results', 2)}"
    assert err.problem.message == (f'section "Study Results" appears twice (first at line '
                                   f"{_line_of(both, 'Study Results')}): one page per file")


def test_listing_page_after_the_boilerplate_of_the_first() -> None:
    page = _text("001_ad5d10a3e830c998")
    both = page + "\n" + page
    err = _error(listing, both)
    assert err.problem.place == f"line {_line_of(both, 'Summary', 2)}"
    assert err.problem.message.startswith('a second page starts here (heading "Summary")')


def test_a_second_nct_id_on_one_page() -> None:
    old = "Clinical Study IdentifierNCT06983964"
    text = _text("001_ad5d10a3e830c998").replace(old, f"{old}\nClinical Study IdentifierNCT01234567")
    err = _error(listing, text)
    assert err.problem.place == f"line {_line_of(text, 'Clinical Study IdentifierNCT01234567')}"
    assert "a second NCT ID NCT01234567 (the first, NCT06983964" in err.problem.message


@pytest.mark.parametrize(("module", "stem", "before", "repeated"), [
    (compact, "002_351053130900a3cb", "Eligibility Criteria",
     ["Conditions", compact.SECTIONS["Conditions"].blurb, "Lupus Nephritis"]),
    (listing, "001_ad5d10a3e830c998", "Clear my responses", ["Eligibility", "Inclusion Criteria", "Adults"]),
    (summary, "003_a56d0ce5535905ef", "How to participate", ["Study contacts", "- Email: x@example.org"]),
])
def test_a_section_twice_is_reported_not_concatenated(module: object, stem: str, before: str,
                                                       repeated: list[str]) -> None:
    lines = _text(stem).split("\n")
    at = lines.index(before)
    text = "\n".join([*lines[:at], *repeated, *lines[at:]])
    err = _error(module, text)
    first = lines.index(repeated[0]) + 1
    assert err.problem.message == f'section "{repeated[0]}" appears twice (first at line {first}): one page per file'
    assert err.problem.place == f"line {at + 1}"


# --- impossible dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(("module", "stem", "old", "new"), [
    (compact, "000_2338396f704c9960", "Last Updated: 2025-03-24", "Last Updated: 2023-02-29"),
    (compact, "000_2338396f704c9960", "\n2025-03-31\n", "\n2025-13-45\n"),
    (compact, "004_96d7e8fc43b3fc8e", "2026-01-09", "2026-02-30"),
    (listing, "001_ad5d10a3e830c998", "Sep 30, 2027", "February 30, 2020"),
    (listing, "001_ad5d10a3e830c998", "Updated on 30 May 2025", "Updated on 31 June 2025"),
])
def test_impossible_dates_are_refused_with_their_place(module: object, stem: str, old: str, new: str) -> None:
    text = _text(stem)
    assert old in text
    text = text.replace(old, new, 1)
    err = _error(module, text)
    value = new.strip().split(": ")[-1].removeprefix("Updated on ")
    at = next(no for no, line in enumerate(text.splitlines(), start=1) if value in line)
    assert err.problem.place == f"line {at}"
    assert repr(value) in err.problem.message


def test_a_date_word_that_is_no_date_stays_unplaced() -> None:
    text = _text("001_ad5d10a3e830c998").replace("    Sep 30, 2027", "    Sometime 2027")
    trial, unplaced = listing.parse(text, "page.txt")
    assert trial.status.completion_date is None
    assert any(u.endswith(": Sometime 2027") for u in unplaced)


# --- broken layouts fail before any page is read ------------------------------------------------


def _layout_data(name: str) -> dict[str, object]:
    from importlib import resources

    file = resources.files("trial2fhir.readers.pages") / "layouts" / f"{name}.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["sections"]["summary"].update(read="prose"), "sections.summary.read: unknown segmenter 'prose'"),
    (lambda d: d["sections"]["summary"].pop("to"), "sections.summary.to: segmenter 'text' needs a Trial path"),
    (lambda d: d["sections"]["summary"].update(to="brief_summery"),
     "sections.summary.to: Trial has no field 'brief_summery'"),
    (lambda d: d["sections"]["details"]["labels"]["Age"].update(shape="age_range"),
     "sections.details.labels.Age.shape: unknown shape 'age_range'"),
    (lambda d: d["sections"]["details"]["labels"]["Sex"].update(to="eligibility.gender"),
     "sections.details.labels.Sex.to: Trial has no field 'eligibility.gender'"),
    (lambda d: d["headings"].update(Contacts={"key": "contacts"}), "headings: key 'contacts' has no section rule"),
    (lambda d: d["headings"]["Summary"].update(blurp="x"), "headings.Summary.blurp: Extra inputs are not permitted"),
    (lambda d: d["sections"]["details"]["labels"]["Age"].update(when="design.kind=X"),
     "sections.details.labels.Age.when: expected 'path=VALUE' or 'path!=VALUE' on a Trial path, got 'design.kind=X'"),
    (lambda d: d["sections"][""]["fields"][0].update(match="(Updated on"),
     "sections.(header).fields[0].match: not a regular expression"),
])
def test_layout_checks_name_file_and_place(edit: object, message: str) -> None:
    data = _layout_data("listing")
    edit(data)  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"^listing\.yaml: ") as info:
        check(data, "listing.yaml")
    assert message in str(info.value)


def test_shipped_layouts_pass_their_checks() -> None:
    for name in ("compact", "listing", "summary"):
        assert check(_layout_data(name), name).layout == name


# --- mutated pages: never a crash ---------------------------------------------------------------


def _mutate(lines: list[str], rng: random.Random) -> list[str]:
    out = list(lines)
    for _ in range(rng.randint(1, 6)):
        op = rng.choice(["drop", "dup", "swap", "cut", "junk", "case", "blank"])
        i = rng.randrange(len(out)) if out else 0
        if not out:
            out.append("")
        elif op == "drop":
            del out[i]
        elif op == "dup":
            out.insert(i, out[i])
        elif op == "swap":
            j = rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
        elif op == "cut":
            out[i] = out[i][: rng.randrange(len(out[i]) + 1)]
        elif op == "junk":
            out.insert(i, "".join(rng.choice("NCT0123456789-:|•·()\x1b[31m é\t ") for _ in range(rng.randint(1, 30))))
        elif op == "case":
            out[i] = out[i].upper()
        else:
            out[i] = ""
    return out


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_mutated_pages_never_crash(name: str) -> None:
    module, stem = LAYOUTS[name]
    lines = _text(stem).split("\n")
    rng = random.Random(f"{name}-7")
    for _ in range(150):
        result = _one(module, "\n".join(_mutate(lines, rng)))
        assert isinstance(result, Trial | RecordError)
        if isinstance(result, RecordError):
            assert result.problem.message


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_reader_sniffs_its_own_pages(name: str) -> None:
    _, stem = LAYOUTS[name]
    head = (SAMPLES / f"{stem}.txt").read_bytes()
    assert [r.name for r in READERS.values() if r.name.startswith("page-") and r.sniff(head)] == [
        name.removesuffix("-labelled")]


def test_a_heading_repeated_inside_prose_is_text() -> None:
    """Without blurbs a heading is a bare line: "Summary" inside the Description is its text."""
    text = _text("001_ad5d10a3e830c998").replace("Description\n\nDraft-Version-001-\n",
                                                  "Description\n\nDraft-Version-001-\nSummary\nOf the design.\n")
    trial, unplaced = listing.parse(text, "page.txt")
    assert unplaced == []
    assert trial.detailed_description == "Draft-Version-001-\nSummary\nOf the design."


def test_a_value_the_model_refuses_names_line_field_and_value() -> None:
    text = _text("000_2338396f704c9960").replace("NCT ID: NCT06886919", "NCT ID: NCT0688")
    err = _error(compact, text)
    assert err.problem.place == "line 2"
    assert err.problem.message.startswith("identification.nct_id: String should match pattern")
    assert err.problem.message.endswith("(got 'NCT0688')")


"""The shared value parsers: what they read, what precision they keep, what they refuse."""

from __future__ import annotations

import calendar
import datetime
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trial2fhir.readers.values import (
    AGENCY_CLASSES,
    agency_class,
    parse_age,
    parse_date,
    parse_date_type,
    parse_enrollment,
    parse_phases,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020", "2020"),
        ("2020-01", "2020-01"),
        ("2020-01-15", "2020-01-15"),
        ("January 2020", "2020-01"),
        ("Jan 2020", "2020-01"),
        ("Sept. 2021", "2021-09"),
        ("Jan 15, 2020", "2020-01-15"),
        ("January 15, 2020", "2020-01-15"),
        ("January 5,2020", "2020-01-05"),
        ("15 January 2020", "2020-01-15"),
        ("3 Feb 2024", "2024-02-03"),
        ("  March   2015 ", "2015-03"),
        ("February 29, 2024", "2024-02-29"),
        ("2000-02-29", "2000-02-29"),
    ],
)
def test_parse_date_keeps_precision(text: str, expected: str) -> None:
    date = parse_date(text)
    assert (date.date, date.type) == (expected, None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2025-13-45", "no month 13"),
        ("2025-00", "no month 0"),
        ("2023-02-29", "February 2023 has 28 days"),
        ("1900-02-29", "February 1900 has 28 days"),
        ("February 30, 2020", "February 2020 has 29 days"),
        ("31 April 2020", "April 2020 has 30 days"),
        ("2020-04-00", "April 2020 has 30 days"),
        ("0000", "year 0000"),
    ],
)
def test_impossible_dates_are_refused_quoting_the_value(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="impossible date") as exc:
        parse_date(text)
    assert repr(text) in str(exc.value)
    assert reason in str(exc.value)


@pytest.mark.parametrize(
    "text",
    ["", "Smarch 2015", "Someday", "2020/01/15", "20-01-2020", "2020-1-5", "\u0662\u0660\u0662\u0660", "２０２０"],
)
def test_unreadable_dates_are_refused_quoting_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable date") as exc:
        parse_date(text)
    assert repr(text) in str(exc.value)


def test_parse_date_type() -> None:
    assert [parse_date_type(t) for t in ("Actual", "Anticipated", "ESTIMATED", " estimate ")] == [
        "ACTUAL",
        "ESTIMATED",
        "ESTIMATED",
        "ESTIMATED",
    ]
    with pytest.raises(ValueError, match="'Guessed'"):
        parse_date_type("Guessed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18 Years", "18 Years"),
        ("18 years", "18 Years"),
        ("6 Months", "6 Months"),
        ("1 Year", "1 Years"),
        ("2 Weeks", "2 Weeks"),
        ("28 Days", "28 Days"),
        ("12 Hours", "12 Hours"),
        ("30 Minutes", "30 Minutes"),
        ("65 yrs.", "65 Years"),
        ("18years", "18 Years"),
        ("N/A", None),
        ("No limit", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_age(text: str | None, expected: str | None) -> None:
    age = parse_age(text)
    assert (str(age) if age else None) == expected


@pytest.mark.parametrize("text", ["eighteen", "18", "18 Fortnights", "-1 Years", "١٨ Years", "18 Years old"])
def test_bad_age_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable age") as exc:
        parse_age(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phase 1/Phase 2", ["PHASE1", "PHASE2"]),
        ("Phase 2 Phase 3", ["PHASE2", "PHASE3"]),
        ("PHASE1, PHASE2", ["PHASE1", "PHASE2"]),
        ("PHASE2", ["PHASE2"]),
        ("Phase 1/2", ["PHASE1", "PHASE2"]),
        ("Phase I/II", ["PHASE1", "PHASE2"]),
        ("Phase III", ["PHASE3"]),
        ("Phase 2 and Phase 3", ["PHASE2", "PHASE3"]),
        ("Early Phase 1", ["EARLY_PHASE1"]),
        ("EARLY_PHASE1", ["EARLY_PHASE1"]),
        ("Phase 0", ["EARLY_PHASE1"]),
        ("Phase 4", ["PHASE4"]),
        ("Phase 1/Phase 1", ["PHASE1"]),
        ("N/A", ["NA"]),
        ("Not Applicable", ["NA"]),
        ("NA", ["NA"]),
        ("", []),
        ("  ", []),
    ],
)
def test_parse_phases(text: str, expected: list[str]) -> None:
    assert parse_phases(text) == expected


@pytest.mark.parametrize("text", ["Phase 5", "1/2", "Phase", "Phase 2b", "Pilot", "Phase 1/Pilot", "Phase １"])
def test_bad_phase_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable phase") as exc:
        parse_phases(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("text", "count", "kind"),
    [
        ("120 (Estimated)", 120, "ESTIMATED"),
        ("120 (Anticipated)", 120, "ESTIMATED"),
        ("Actual: 40", 40, "ACTUAL"),
        ("Estimated 1,200", 1200, "ESTIMATED"),
        ("40 participants", 40, None),
        ("36 participants (estimated)", 36, "ESTIMATED"),
        ("40 Actual", 40, "ACTUAL"),
        ("0", 0, None),
        ("1,234,567", 1234567, None),
    ],
)
def test_parse_enrollment(text: str, count: int, kind: str | None) -> None:
    enrollment = parse_enrollment(text)
    assert enrollment is not None
    assert (enrollment.count, enrollment.type) == (count, kind)


def test_blank_enrollment_is_none() -> None:
    assert parse_enrollment("") is None
    assert parse_enrollment("N/A") is None


@pytest.mark.parametrize("text", ["many", "-5", "12.5", "1,20", "40 (Guessed)", "true", "٤٠"])
def test_bad_enrollment_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unreadable enrollment") as exc:
        parse_enrollment(text)
    assert repr(text) in str(exc.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Industry", "INDUSTRY"),
        ("NIH", "NIH"),
        ("U.S. Fed", "FED"),
        ("US Fed", "FED"),
        ("Other", "OTHER"),
        ("other", "OTHER"),
        ("OTHER_GOV", "OTHER_GOV"),
        ("Individual", "INDIV"),
        ("Network", "NETWORK"),
        ("", None),
    ],
)
def test_agency_class(text: str, expected: str | None) -> None:
    assert agency_class(text) == expected


def test_unknown_agency_class_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown agency class 'Charity'"):
        agency_class("Charity")


def test_every_classic_agency_class_and_date_type_parses(shared_dir: Path) -> None:
    """public.xsd's agency_class_enum and actual_enum all read, to API v2 enums (ctg-oas-v2.yaml)."""
    import yaml

    spec = yaml.safe_load((shared_dir / "schemas/ctgov-api-v2/2.0.5/ctg-oas-v2.yaml").read_text())
    enums = spec["components"]["schemas"]
    assert set(enums["AgencyClass"]["enum"]) == AGENCY_CLASSES
    xsd = (shared_dir / "schemas/ctgov-public/2019.02.14/public.xsd").read_text()

    def values(simple: str) -> list[str]:
        block = xsd.split(f'name="{simple}"', 1)[1].split("</xs:simpleType>", 1)[0]
        return re.findall(r'<xs:enumeration value="([^"]*)"', block)

    assert {agency_class(v) for v in values("agency_class_enum")} <= AGENCY_CLASSES
    assert {parse_date_type(v) for v in values("actual_enum")} <= set(enums["DateType"]["enum"])
    assert {p for v in values("phase_enum") for p in parse_phases(v)} <= set(enums["Phase"]["enum"])


# --- properties --------------------------------------------------------------------------------

_dates = st.dates(min_value=datetime.date(1, 1, 1))


@given(_dates, st.sampled_from(["iso", "long", "short", "day-first"]))
def test_every_real_date_reads_in_every_layout(d: datetime.date, layout: str) -> None:
    text = {
        "iso": d.isoformat(),
        "long": f"{calendar.month_name[d.month]} {d.day}, {d.year:04d}",
        "short": f"{calendar.month_abbr[d.month]} {d.day}, {d.year:04d}",
        "day-first": f"{d.day} {calendar.month_name[d.month]} {d.year:04d}",
    }[layout]
    assert parse_date(text).date == d.isoformat()
    assert parse_date(f"{calendar.month_name[d.month]} {d.year:04d}").date == d.isoformat()[:7]


@given(st.integers(1, 9999), st.integers(1, 12), st.integers(1, 40))
def test_a_day_past_the_end_of_its_month_is_refused(year: int, month: int, day: int) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if day <= calendar.monthrange(year, month)[1]:
        assert parse_date(text).date == text
    else:
        with pytest.raises(ValueError, match=f"impossible date '{text}'"):
            parse_date(text)


_PHASE_WORDS = {"EARLY_PHASE1": ["Early Phase 1", "EARLY_PHASE1"], "PHASE1": ["Phase 1", "PHASE1", "Phase I"],
                "PHASE2": ["Phase 2", "PHASE2", "Phase II"], "PHASE3": ["Phase 3", "Phase III"],
                "PHASE4": ["Phase 4", "PHASE4", "Phase IV"]}  # fmt: skip


@given(
    st.lists(st.sampled_from(sorted(_PHASE_WORDS)), min_size=1, max_size=3, unique=True),
    st.sampled_from(["/", ", ", " ", " and "]),
    st.data(),
)
def test_phase_lists_read_in_any_spelling(phases: list[str], sep: str, data: st.DataObject) -> None:
    text = sep.join(data.draw(st.sampled_from(_PHASE_WORDS[p])) for p in phases)
    assert parse_phases(text) == phases


@given(st.integers(0, 10**7), st.sampled_from(["{n}", "{n:,}", "{n} (Estimated)", "Actual: {n}", "{n:,} participants"]))
def test_enrollment_counts_read(n: int, layout: str) -> None:
    enrollment = parse_enrollment(layout.format(n=n))
    assert enrollment is not None
    assert enrollment.count == n


@given(st.integers(0, 200), st.sampled_from(["Years", "Months", "Weeks", "Days", "Hours", "Minutes"]))
def test_ages_read_singular_or_plural(n: int, unit: str) -> None:
    for text in (f"{n} {unit}", f"{n} {unit[:-1]}", f"{n} {unit.lower()}"):
        age = parse_age(text)
        assert age is not None
        assert str(age) == f"{n} {unit}"


@pytest.mark.parametrize("text", ["9" * 23 + " Years", "9" * 5000 + " Years"])
def test_an_age_of_too_many_digits_is_an_error_naming_it_not_pythons_int_limit(text: str) -> None:
    with pytest.raises(ValueError, match=rf"a number of {len(text) - 6} digits is no count or age: '9999"):
        parse_age(text)


def test_an_enrollment_over_fhirs_integer_is_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="less than or equal to 2147483647"):
        parse_enrollment("99999999999 (Actual)")

"""ClinicalTrials.gov classic XML reader: real records, vocabulary, hostile and broken input."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import shared_files, shared_params
from tests.readers.criteria_util import top_items
from trial2fhir.errors import RecordError
from trial2fhir.mapping.codes import load_code_map
from trial2fhir.mapping.load import MAPPINGS
from trial2fhir.model import Trial
from trial2fhir.readers import safe_xml
from trial2fhir.readers.ctgov_xml import read, sniff
from trial2fhir.readers.xml_element import code, normalise_block, upper_snake, vocabulary

XML_FILES = shared_files("NCT*.xml")


def only_trial(data: bytes, file: str = "t.xml") -> Trial:
    results = list(read(data, file))
    assert len(results) == 1, results
    assert isinstance(results[0], Trial), results[0]
    return results[0]


def only_error(data: bytes, file: str = "t.xml") -> RecordError:
    results = list(read(data, file))
    assert len(results) == 1, results
    assert isinstance(results[0], RecordError), results[0]
    return results[0]


def real(shared_dir: Path, nct_id: str) -> Trial:
    path = shared_dir / "ctgov-dev" / f"{nct_id}.xml"
    return only_trial(path.read_bytes(), str(path))


@pytest.mark.parametrize("path", shared_params("*.xml"), ids=lambda p: getattr(p, "name", "none"))
def test_real_record_reads_to_one_trial(path: Path) -> None:
    data = path.read_bytes()
    assert sniff(data[:65536])
    trial = only_trial(data, str(path))
    assert trial.nct_id == path.stem
    assert trial.source.format == "ctgov-classic-xml"
    assert trial.source.locator == ""
    assert trial.identification.brief_title
    for text in (trial.brief_summary, trial.detailed_description, trial.eligibility.criteria):
        assert text is None or ("\r" not in text and not text[0].isspace())


def test_nct04349592(shared_dir: Path) -> None:
    t = real(shared_dir, "NCT04349592")
    assert t.identification.org_study_id == "MRC-05-001"
    assert t.identification.organization_name == "Hamad Medical Corporation"
    assert t.sponsors.lead_sponsor is not None
    assert t.sponsors.lead_sponsor.agency_class == "INDUSTRY"
    assert t.oversight.has_dmc is True
    assert t.oversight.is_fda_regulated_drug is False
    assert t.status.overall_status == "COMPLETED"
    assert t.status.start_date is not None
    assert (t.status.start_date.date, t.status.start_date.type) == ("2020-04-14", "ACTUAL")
    assert t.status.status_verified_date is not None
    assert t.status.status_verified_date.date == "2021-02"
    assert t.design.study_type == "INTERVENTIONAL"
    assert t.design.phases == ["NA"]
    assert (t.design.allocation, t.design.intervention_model) == ("RANDOMIZED", "PARALLEL")
    assert t.design.masking == "QUADRUPLE"
    assert t.design.who_masked == ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"]
    assert t.design.masking_description == "Double-blinded trial"
    assert t.design.enrollment is not None
    assert (t.design.enrollment.count, t.design.enrollment.type) == (456, "ACTUAL")
    assert [a.type for a in t.arms] == ["EXPERIMENTAL", "ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR"]
    assert t.arms[0].intervention_names == ["DRUG: Hydroxychloroquine", "DRUG: Azithromycin"]
    assert [i.type for i in t.interventions] == ["DRUG", "DRUG", "OTHER", "OTHER"]
    assert t.interventions[1].other_names == ["Zithromax, Azithrocin"]
    assert t.interventions[0].arm_labels == ["Combination therapy group", "Monotherapy therapy group"]
    assert t.outcomes.primary[0].time_frame == "Day 6"
    assert len(t.outcomes.secondary) == 5
    assert t.conditions == ["Covid19"]
    e = t.eligibility
    assert e.criteria is not None
    assert e.criteria.startswith("Inclusion Criteria:\n\n  -  Patient is in HMC facility")
    assert "\n\nExclusion Criteria:\n\n" in e.criteria
    assert len(top_items(e, "inclusion")) == 3
    assert top_items(e, "inclusion")[1].endswith("(i.e. not as part of Q-PROTECT)")  # a hard wrap joined
    assert "Age <18" in top_items(e, "exclusion")
    assert (e.sex, str(e.minimum_age), e.maximum_age, e.healthy_volunteers) == ("ALL", "18 Years", None, False)
    assert [(o.name, o.role) for o in t.overall_officials] == [("Tim R Harris", "PRINCIPAL_INVESTIGATOR")]
    assert (t.locations[0].facility, t.locations[0].city, t.locations[0].country) == (
        "Hamad Medical Corporation",
        "Doha",
        "Qatar",
    )
    assert t.references[0].pmid == "31978945"
    assert {r.type for r in t.references} == {"BACKGROUND"}
    rp = t.sponsors.responsible_party
    assert rp is not None
    assert (rp.type, rp.investigator_full_name) == ("PRINCIPAL_INVESTIGATOR", "Tim Richard Edmund Harris")


def test_other_records(shared_dir: Path) -> None:
    t = real(shared_dir, "NCT00460928")
    assert (t.design.phases, t.design.allocation, t.design.intervention_model) == (
        ["EARLY_PHASE1"],
        "NA",
        "SINGLE_GROUP",
    )
    assert t.design.masking == "NONE"
    assert t.design.who_masked == []
    assert t.see_also_links[0].url.startswith("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3214993")
    assert t.see_also_links[0].label is not None
    assert t.status.first_posted is not None
    assert (t.status.first_posted.date, t.status.first_posted.type) == ("2007-04-17", "ESTIMATED")

    t = real(shared_dir, "NCT00499941")
    assert (t.design.study_type, t.design.patient_registry, t.design.target_duration) == (
        "OBSERVATIONAL",
        True,
        "20 Years",
    )
    assert "RESULT" in {r.type for r in t.references}
    assert "10988213" in {r.pmid for r in t.references if r.type == "RESULT"}

    t = real(shared_dir, "NCT01220531")
    assert (t.design.study_type, t.status.overall_status) == ("EXPANDED_ACCESS", "AVAILABLE")
    assert [c.name for c in t.central_contacts] == ["M. Louise Markert, M.D., Ph.D", "Stephanie Gupton, RN, CPNP"]
    assert {c.role for c in t.central_contacts} == {"CONTACT"}
    assert t.central_contacts[1].email == "stephanie.gupton@dm.duke.edu"

    t = real(shared_dir, "NCT03494712")
    assert (t.design.masking, t.design.who_masked) == ("DOUBLE", ["PARTICIPANT", "INVESTIGATOR"])
    assert t.design.enrollment is not None
    assert (t.design.enrollment.count, t.design.enrollment.type) == (49, "ESTIMATED")
    assert t.locations[0].status == "RECRUITING"
    assert (t.locations[0].city, t.locations[0].zip) == ("Antwerpen", "B-2060")

    t = real(shared_dir, "NCT00000105")
    assert t.identification.secondary_ids[0].id == "MT1999-06"
    assert (t.design.observational_model, t.design.time_perspective) == ("CASE_CONTROL", "PROSPECTIVE")


# --- vocabulary ------------------------------------------------------------------------------

MINIMAL = """<?xml version="1.0" encoding="UTF-8"?>
<clinical_study>
  <!-- a comment -->
  <id_info><nct_id>NCT01234567</nct_id><nct_alias>NCT07654321</nct_alias></id_info>
  <brief_title>T</brief_title>
  <sponsors><lead_sponsor><agency>A</agency><agency_class>U.S. Fed</agency_class></lead_sponsor>
    <collaborator><agency>B</agency><agency_class>Brand New Class</agency_class></collaborator></sponsors>
  <source>S</source>
  <overall_status>{status}</overall_status>
  <start_date>{start}</start_date>
  <phase>{phase}</phase>
  <study_type>Interventional</study_type>
  <study_design_info>
    <allocation>Non-Randomized</allocation>
    <intervention_model>Crossover Assignment</intervention_model>
    <primary_purpose>{purpose}</primary_purpose>
    <masking>{masking}</masking>
  </study_design_info>
  <arm_group><arm_group_label>X</arm_group_label><arm_group_type>Sham Comparator</arm_group_type></arm_group>
  <intervention><intervention_type>Dietary Supplement</intervention_type><intervention_name>V</intervention_name>
    <arm_group_label>X</arm_group_label></intervention>
  <eligibility><gender>{gender}</gender><minimum_age>1 Year</minimum_age><maximum_age>N/A</maximum_age>
    <healthy_volunteers>Accepts Healthy Volunteers</healthy_volunteers></eligibility>
  <overall_official><first_name>Ann</first_name><last_name>Lee</last_name><degrees>MD</degrees>
    <role>Study Chair</role></overall_official>
  <location><facility><name>F</name></facility><status>Active, not recruiting</status>
    <contact><last_name>C</last_name><phone>1</phone><phone_ext>9</phone_ext></contact>
    <investigator><last_name>I</last_name><role>Sub-Investigator</role></investigator></location>
  <responsible_party><name_title>Dr Old</name_title><organization>Old Org</organization></responsible_party>
</clinical_study>
"""


def minimal(**kw: str) -> bytes:
    values = {
        "status": "Unknown status",
        "start": "March 2015",
        "phase": "Phase 1/Phase 2",
        "purpose": "Health Services Research",
        "masking": "Triple (Participant, Care Provider, Outcomes Assessor)",
        "gender": "Both",
    }
    return MINIMAL.format(**{**values, **kw}).encode()


def test_vocabulary_of_a_synthetic_record() -> None:
    t = only_trial(minimal())
    assert t.identification.nct_id_aliases == ["NCT07654321"]
    assert t.status.overall_status == "UNKNOWN"
    assert t.status.start_date is not None
    assert (t.status.start_date.date, t.status.start_date.type) == ("2015-03", None)
    assert t.design.phases == ["PHASE1", "PHASE2"]
    assert (t.design.allocation, t.design.intervention_model) == ("NON_RANDOMIZED", "CROSSOVER")
    assert t.design.primary_purpose == "HEALTH_SERVICES_RESEARCH"
    assert (t.design.masking, t.design.who_masked) == ("TRIPLE", ["PARTICIPANT", "CARE_PROVIDER", "OUTCOMES_ASSESSOR"])
    assert t.sponsors.lead_sponsor is not None
    assert t.sponsors.lead_sponsor.agency_class == "FED"
    assert t.sponsors.collaborators[0].agency_class == "BRAND_NEW_CLASS"  # unknown: kept, upper-snake
    assert t.arms[0].type == "SHAM_COMPARATOR"
    assert t.arms[0].intervention_names == ["DIETARY_SUPPLEMENT: V"]
    assert t.interventions[0].type == "DIETARY_SUPPLEMENT"
    assert (t.eligibility.sex, str(t.eligibility.minimum_age), t.eligibility.maximum_age) == ("ALL", "1 Years", None)
    assert t.eligibility.healthy_volunteers is True
    assert [(o.name, o.role) for o in t.overall_officials] == [("Ann Lee, MD", "STUDY_CHAIR")]
    loc = t.locations[0]
    assert loc.status == "ACTIVE_NOT_RECRUITING"
    assert [(c.name, c.role, c.phone_ext) for c in loc.contacts] == [
        ("C", "CONTACT", "9"),
        ("I", "SUB_INVESTIGATOR", None),
    ]
    rp = t.sponsors.responsible_party
    assert rp is not None
    assert (rp.type, rp.old_name_title, rp.old_organization) == (None, "Dr Old", "Old Org")


@pytest.mark.parametrize(
    ("masking", "expected"),
    [
        ("None (Open Label)", ("NONE", [])),
        ("Single (Participant)", ("SINGLE", ["PARTICIPANT"])),
        ("Double (Participant, Investigator)", ("DOUBLE", ["PARTICIPANT", "INVESTIGATOR"])),
        ("Double Blind (Subject, Caregiver)", ("DOUBLE", ["PARTICIPANT", "CARE_PROVIDER"])),
        ("Quadruple", ("QUADRUPLE", [])),
    ],
)
def test_masking(masking: str, expected: tuple[str, list[str]]) -> None:
    t = only_trial(minimal(masking=masking))
    assert (t.design.masking, t.design.who_masked) == expected


def test_date_types_and_bad_date() -> None:
    t = only_trial(minimal().replace(b"<start_date>", b'<start_date type="Anticipated">'))
    assert t.status.start_date is not None
    assert t.status.start_date.type == "ESTIMATED"
    err = only_error(minimal(start="Someday 2015"))
    assert err.problem.place == "/clinical_study/start_date"
    assert "'Someday 2015'" in err.problem.message


def test_unknown_values_are_kept_upper_snake() -> None:
    assert upper_snake("Health Services Research") == "HEALTH_SERVICES_RESEARCH"
    assert code("primary-purpose", "Brand-New purpose") == "BRAND_NEW_PURPOSE"
    assert code("status", "recruiting") == "RECRUITING"
    t = only_trial(minimal(purpose="Brand-New purpose", gender="Female"))
    assert (t.design.primary_purpose, t.eligibility.sex) == ("BRAND_NEW_PURPOSE", "FEMALE")


def test_classic_code_maps_target_api_v2_enums(shared_dir: Path) -> None:
    """Every ctgov-classic-*.yaml maps onto the API v2 enum its group names as target."""
    import yaml

    spec = yaml.safe_load((shared_dir / "schemas/ctgov-api-v2/2.0.5/ctg-oas-v2.yaml").read_text())
    enums = {k: set(v["enum"]) for k, v in spec["components"]["schemas"].items() if "enum" in v}
    files = sorted((MAPPINGS / "codes").glob("ctgov-classic-*.yaml"))
    assert len(files) == 18
    for path in files:
        (group,) = yaml.safe_load(path.read_text())["group"]
        enum = group["target"].rsplit("/", 1)[1]
        values = {v for v in load_code_map(path).forward.values() if v is not None}
        assert values <= enums[enum], (path.name, values - enums[enum])
        assert group["unmapped"] == {"mode": "use-source-code"}, path.name


def test_classic_enumerations_all_have_a_code(shared_dir: Path) -> None:
    """The classic enumerations of public.xsd all have a code map entry (no fallback needed)."""
    xsd = (shared_dir / "schemas/ctgov-public/2019.02.14/public.xsd").read_text()
    xsd_tables = {
        "overall_status_enum": "status",
        "recruitment_status_enum": "status",
        "intervention_type_enum": "intervention-type",
        "study_type_enum": "study-type",
        "gender_enum": "gender",
        "sampling_method_enum": "sampling-method",
        "role_enum": "role",
        "responsible_party_type_enum": "responsible-party-type",
        "biospec_retention_enum": "biospec-retention",
    }
    for simple, concept in xsd_tables.items():
        block = xsd.split(f'name="{simple}"', 1)[1].split("</xs:simpleType>", 1)[0]
        for value in re.findall(r'<xs:enumeration value="([^"]*)"', block):
            assert value.casefold() in vocabulary(concept), (simple, value)


def test_normalise_block() -> None:
    raw = "\n        Inclusion Criteria:\r\n\r\n          -  one\r\n             more\r\n      "
    assert normalise_block(raw) == "Inclusion Criteria:\n\n  -  one\n     more"
    assert normalise_block("   \n  ") is None


# --- hostile and broken input ----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<clinical_study><id_info><nct_id>NCT01234567</nct_id></id_info><brief_title>&lol9;</brief_title></clinical_study>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE clinical_study [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<clinical_study><id_info><nct_id>NCT01234567</nct_id></id_info><brief_title>&xxe;</brief_title></clinical_study>
"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, XXE, XXE.replace(b"<!ENTITY", b"<!entity")], ids=["laughs", "xxe", "lower"]
)
def test_entities_are_refused(data: bytes) -> None:
    start = time.monotonic()
    err = only_error(data, "evil.xml")
    assert time.monotonic() - start < 1
    assert err.problem.message == "XML declares entities (DTD entity expansion is refused)"
    assert err.problem.place == "line 2"
    assert str(err).startswith("evil.xml: line 2: ")
    assert "root:" not in str(err)


def test_entity_check_after_parse_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Even if the byte scan were fooled, the parsed internal DTD is checked and nothing expands.
    monkeypatch.setattr(safe_xml, "_ENTITY_DECL", re.compile(rb"(?!)"))
    err = only_error(XXE)
    assert (err.problem.place, err.problem.message) == (
        "DOCTYPE",
        "XML declares entities (DTD entity expansion is refused)",
    )
    start = time.monotonic()
    err = only_error(BILLION_LAUGHS)  # libxml2 itself refuses the amplification
    assert time.monotonic() - start < 1
    assert "lollol" not in str(err)


def test_external_dtd_not_loaded() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE clinical_study SYSTEM "http://127.0.0.1:9/x.dtd">\n'
        + minimal().split(b"\n", 1)[1]
    )
    t = only_trial(data)
    assert t.nct_id == "NCT01234567"


def test_malformed(shared_dir: Path) -> None:
    data = (shared_dir / "ctgov-dev" / "NCT04349592.xml").read_bytes()
    err = only_error(data[: len(data) // 2], "cut.xml")
    assert err.problem.place.startswith("line ")
    assert ", column " in err.problem.place
    assert err.problem.message.startswith("malformed XML: ")
    err = only_error(b"<clinical_study>\n  <a></b>\n</clinical_study>")
    assert err.problem.place.startswith("line 2, column ")


def test_wrong_root() -> None:
    err = only_error(b'<?xml version="1.0"?>\n<!-- hi -->\n<studies><x/></studies>')
    assert err.problem.message == "XML root <studies> is not a ClinicalTrials.gov <clinical_study> record"
    assert err.problem.place == "line 3"


def test_missing_or_bad_nct_id() -> None:
    err = only_error(minimal().replace(b"<nct_id>NCT01234567</nct_id>", b""))
    assert (err.problem.place, err.problem.message) == (
        "/clinical_study/id_info/nct_id",
        "no NCT ID: nct_id is missing",
    )
    err = only_error(minimal().replace(b"NCT01234567", b"NCT12"))
    assert "'NCT12'" in err.problem.message


def test_bad_flag_and_age() -> None:
    err = only_error(minimal().replace(b"Accepts Healthy Volunteers", b"Maybe"))
    assert err.problem.place == "/clinical_study/eligibility/healthy_volunteers"
    err = only_error(minimal().replace(b"1 Year", b"one year"))
    assert err.problem.place == "/clinical_study/eligibility/minimum_age"


def test_sniff() -> None:
    assert sniff(b'\xef\xbb\xbf  <?xml version="1.0"?><clinical_study/>')
    assert sniff(b"\n<!-- c --><clinical_study/>")
    assert not sniff(b'{"a": 1}')
    assert not sniff(b"Title\nNCT ID: NCT01234567")


@pytest.mark.parametrize(("tag", "old", "new"), [
    ("overall_status", "<overall_status>", "<overall_status>Withdrawn</overall_status><overall_status>"),
    ("gender", "<gender>", "<gender>Male</gender><gender>"),
])
def test_an_element_a_record_has_once_given_twice_is_an_error_not_first_wins(tag: str, old: str, new: str) -> None:
    # first-wins lost the other value silently (hostile test: a second <eligibility> replaced the real one)
    data = minimal()
    assert old.encode() in data
    err = only_error(data.replace(old.encode(), new.encode(), 1))
    assert f"<{tag}> appears twice" in str(err)
    assert err.problem.place.endswith(f"{tag}[2]")

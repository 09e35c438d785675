"""Hypothesis strategies for Trial: every field, realistic value shapes (shared by round-trip tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from trial2fhir import model as m
from trial2fhir.readers.criteria import MAX_DEPTH

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).map(str.strip).filter(bool)
opt_text = st.none() | text
words = st.lists(text, max_size=3)
enum = st.sampled_from
nct = st.integers(1, 99_999_999).map(lambda n: f"NCT{n:08d}")
date = st.dates().map(lambda d: d.isoformat()) | st.dates().map(lambda d: d.isoformat()[:7])
partial_date = st.builds(m.PartialDate, date=date, type=st.none() | enum(["ACTUAL", "ESTIMATED"]))
opt_date = st.none() | partial_date
opt_bool = st.none() | st.booleans()
age = st.builds(m.Age, value=st.integers(0, 120), unit=enum(["Years", "Months", "Weeks", "Days", "Hours", "Minutes"]))
contact = st.builds(m.Contact, name=opt_text, role=st.none() | enum(["CONTACT", "PRINCIPAL_INVESTIGATOR"]),
                    phone=opt_text, phone_ext=opt_text, email=opt_text)




IPD_INFO_TYPES = ["STUDY_PROTOCOL", "SAP", "ICF", "CSR", "ANALYTIC_CODE"]
EA_TYPES = ["INDIVIDUAL", "INTERMEDIATE", "TREATMENT"]


def _criterion(depth: int) -> st.SearchStrategy[m.Criterion]:
    """Criteria nested as deep as the parser nests them (lead-ins down to MAX_DEPTH levels)."""
    leaf = st.builds(m.Criterion, text=text)
    if depth >= MAX_DEPTH:
        return leaf
    return leaf | st.builds(m.Criterion, text=text, combination=enum(["all-of", "any-of"]),
                            items=st.lists(_criterion(depth + 1), min_size=1, max_size=2))


criteria_section = st.builds(m.CriteriaSection, side=enum(["inclusion", "exclusion", "unspecified"]),
                             heading=opt_text, items=st.lists(_criterion(1), min_size=1, max_size=3),
                             notes=st.lists(text, max_size=2))
url = st.from_regex(r"https://[a-z]{1,12}\.org/[a-z0-9/]{0,20}", fullmatch=True)

# Dependent fields (an ID's type, an organization's class) come with what they qualify, as in
# registry data: the mappings write them beside it.
trials = st.builds(
    m.Trial,
    source=st.builds(m.Source, format=enum(["ctgov-api-v2-json", "ctgov-classic-xml", "page-compact"]),
                     file=text, locator=st.just("") | st.integers(0, 9).map(lambda i: f"#/{i}")),
    identification=st.builds(
        m.Identification, nct_id=nct, nct_id_aliases=st.lists(nct, max_size=2), org_study_id=text,
        org_study_id_type=st.none() | enum(["NIH", "FDA"]), org_study_id_link=st.none(),
        secondary_ids=st.lists(st.builds(m.SecondaryId, id=text, type=opt_text, domain=opt_text, link=opt_text),
                               max_size=2),
        brief_title=opt_text, official_title=opt_text, acronym=opt_text,
        organization_name=text, organization_class=st.none() | enum(["INDUSTRY", "OTHER", "NIH"]),
    ),
    status=st.builds(
        m.Status,
        overall_status=st.none() | enum(["RECRUITING", "COMPLETED", "TERMINATED", "NOT_YET_RECRUITING"]),
        last_known_status=st.none() | enum(["RECRUITING"]), why_stopped=opt_text,
        status_verified_date=opt_date, start_date=opt_date, primary_completion_date=opt_date,
        completion_date=opt_date, first_submitted=opt_date, first_posted=opt_date,
        last_update_submitted=opt_date, last_update_posted=opt_date,
    ),
    sponsors=st.builds(
        m.Sponsors,
        lead_sponsor=st.none() | st.builds(m.Sponsor, name=text, agency_class=st.none() | enum(["INDUSTRY", "OTHER"])),
        collaborators=st.lists(st.builds(m.Sponsor, name=text, agency_class=st.none() | enum(["NIH", "FED"])),
                               max_size=2),
        responsible_party=st.none() | st.builds(m.ResponsibleParty, type=st.none() | enum(["SPONSOR"]),
                                                investigator_full_name=opt_text),
    ),
    oversight=st.builds(m.Oversight, has_dmc=opt_bool, is_fda_regulated_drug=opt_bool,
                        is_fda_regulated_device=opt_bool),
    brief_summary=opt_text,
    detailed_description=opt_text,
    conditions=words,
    keywords=words,
    design=st.builds(
        m.Design, study_type=st.none() | enum(["INTERVENTIONAL", "OBSERVATIONAL"]),
        # the phase lists ClinicalTrials.gov allows (a single phase, or one of two combinations)
        phases=enum([[], ["NA"], ["EARLY_PHASE1"], ["PHASE1"], ["PHASE2"], ["PHASE3"], ["PHASE4"],
                     ["PHASE1", "PHASE2"], ["PHASE2", "PHASE3"]]),
        allocation=st.none() | enum(["RANDOMIZED", "NA"]), intervention_model=st.none() | enum(["PARALLEL"]),
        primary_purpose=st.none() | enum(["TREATMENT", "PREVENTION"]), masking=st.none() | enum(["NONE", "DOUBLE"]),
        who_masked=st.lists(enum(["PARTICIPANT", "INVESTIGATOR"]), max_size=2, unique=True),
        enrollment=st.none() | st.builds(m.Enrollment, count=st.none() | st.integers(0, 10**6),
                                         type=st.none() | enum(["ACTUAL", "ESTIMATED"])),
    ),
    arms=st.lists(st.builds(m.Arm, label=text, type=st.none() | enum(["EXPERIMENTAL", "PLACEBO_COMPARATOR"]),
                            description=opt_text, intervention_names=words), max_size=3),
    interventions=st.lists(st.builds(m.Intervention, name=text, type=st.none() | enum(["DRUG", "BIOLOGICAL"]),
                                     description=opt_text, other_names=words, arm_labels=words), max_size=3),
    outcomes=st.builds(m.Outcomes, **{
        k: st.lists(st.builds(m.Outcome, measure=text, description=opt_text, time_frame=opt_text), max_size=2)
        for k in ("primary", "secondary", "other")
    }),
    eligibility=st.builds(
        m.Eligibility, criteria=opt_text, criteria_sections=st.lists(criteria_section, max_size=3),
        sex=st.none() | enum(["ALL", "FEMALE", "MALE"]), minimum_age=st.none() | age, maximum_age=st.none() | age,
        healthy_volunteers=opt_bool, std_ages=st.lists(enum(["CHILD", "ADULT", "OLDER_ADULT"]), unique=True),
    ),
    central_contacts=st.lists(contact, max_size=2),
    overall_officials=st.lists(st.builds(m.Official, name=text, affiliation=opt_text,
                                         role=st.none() | enum(["PRINCIPAL_INVESTIGATOR", "STUDY_CHAIR"])),
                               max_size=2),
    locations=st.lists(st.builds(
        m.Location, facility=opt_text, status=st.none() | enum(["RECRUITING"]), city=opt_text, state=opt_text,
        zip=opt_text, country=opt_text,
        geo_point=st.none() | st.builds(m.GeoPoint, lat=st.floats(-90, 90), lon=st.floats(-180, 180)),
        contacts=st.lists(contact, max_size=1)), max_size=2),
    references=st.lists(st.builds(m.Reference, pmid=st.none() | st.integers(1, 10**8).map(str),
                                  type=st.none() | enum(["BACKGROUND", "RESULT"]), citation=opt_text), max_size=2),
    see_also_links=st.lists(st.builds(m.SeeAlsoLink, label=opt_text, url=url), max_size=1),
    related_trials=st.lists(st.builds(m.RelatedTrial, nct_id=nct, title=opt_text,
                                      status=st.none() | enum(["RECRUITING", "COMPLETED"]),
                                      phases=enum([[], ["PHASE1"], ["PHASE1", "PHASE2"]])), max_size=2),
)

# --- the rest of the protocol Trial (IPD sharing, documents, derived data, results dates ...) -----
# Composed onto ``trials`` rather than written into it, so each part of the Trial has one block.

_mesh = st.builds(m.MeshTerm, id=st.none() | st.integers(1, 999_999).map(lambda n: f"D{n:06d}"), term=text)
_ipds = st.lists(st.builds(m.AvailableIpd, id=opt_text, type=opt_text, url=st.none() | url, comment=opt_text),
                 max_size=2)
_complete = st.fixed_dictionaries({
    "available_ipds": _ipds,
    "ipd_sharing": st.none() | st.builds(
        m.IpdSharing, sharing=st.none() | enum(["YES", "NO", "UNDECIDED"]), description=opt_text,
        # a set of flags (PRS writes one yes/no element each): in the API's enum order, as registries give it
        info_types=st.lists(enum(IPD_INFO_TYPES), max_size=3, unique=True).map(
            lambda v: sorted(v, key=IPD_INFO_TYPES.index)),
        time_frame=opt_text, access_criteria=opt_text, url=st.none() | url),
    "documents": st.none() | st.builds(m.Documents, no_sap=opt_bool, large_docs=st.lists(st.builds(
        m.LargeDocument, type_abbrev=st.none() | enum(["Prot", "SAP", "ICF", "Prot_SAP"]), has_protocol=opt_bool,
        has_sap=opt_bool, has_icf=opt_bool, label=opt_text, date=opt_date,
        upload_date=st.none() | st.just("2021-11-10T11:05"), filename=opt_text,
        size=st.none() | st.integers(0, 10**8), url=st.none() | url), max_size=2)),
    "derived": st.builds(
        m.Derived, condition_meshes=st.lists(_mesh, max_size=2), condition_mesh_ancestors=st.lists(_mesh, max_size=2),
        intervention_meshes=st.lists(_mesh, max_size=2),
        condition_browse_leaves=st.lists(st.builds(m.BrowseLeaf, id=opt_text, name=text, as_found=opt_text,
                                                   relevance=st.none() | enum(["LOW", "HIGH"])), max_size=2),
        condition_browse_branches=st.lists(st.builds(m.BrowseBranch, abbrev=opt_text, name=text), max_size=2),
        location_countries=words, removed_countries=words, version_holder=st.none() | st.just("2025-01-02")),
    "has_results": opt_bool,
})
_status_rest = st.fixed_dictionaries({
    "first_submitted_qc": opt_date, "results_first_submitted": opt_date, "results_first_posted": opt_date,
    "disposition_first_submitted": opt_date, "delayed_posting": opt_bool, "results_waived": opt_bool,
    "expanded_access": st.none() | st.builds(m.ExpandedAccessInfo, has_expanded_access=opt_bool,
                                             nct_id=st.none() | nct, status=st.none() | enum(["AVAILABLE"])),
})
_design_rest = st.fixed_dictionaries({
    "expanded_access_types": st.lists(enum(EA_TYPES), max_size=3, unique=True).map(  # a set: in enum order
        lambda v: sorted(v, key=EA_TYPES.index)),
    "n_ptrs_to_this_exp_acc_nct_id": st.none() | st.integers(0, 9),
    "bio_spec": st.none() | st.builds(m.BioSpec, retention=st.none() | enum(["SAMPLES_WITH_DNA", "NONE_RETAINED"]),
                                      description=opt_text),
})
_retractions = st.lists(st.builds(m.Retraction, pmid=st.none() | st.integers(1, 10**8).map(str), source=opt_text),
                        max_size=1)


def _completed(t: m.Trial, rest: dict[str, object], status: dict[str, object], design: dict[str, object],
               retractions: list[m.Retraction]) -> m.Trial:
    references = [r.model_copy(update={"retractions": retractions}) for r in t.references]
    return m.Trial.model_validate({
        **t.model_dump(), **rest, "references": [r.model_dump() for r in references],
        "status": {**t.status.model_dump(), **status}, "design": {**t.design.model_dump(), **design},
    })


trials = st.builds(_completed, trials, _complete, _status_rest, _design_rest, _retractions)

"""The canonical Trial model: the one vocabulary every reader writes and every mapping reads.

Field names follow the ClinicalTrials.gov Data API v2 ``protocolSection`` (snake_case), and coded
values keep the API v2 enum spelling (``RECRUITING``, ``PHASE2``, ``INDUSTRY`` ...): readers of
other formats normalise to it, so mappings need one code table per concept, not one per format.
Every model forbids unknown keys, so a reader typo or a stale mapping path fails loudly.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NCT_ID_PATTERN = r"^NCT[0-9]{8}$"
r"""ASCII digits only: ``\d`` also matches Arabic-Indic and full-width digits (in Python and pydantic)."""
_NCT_RE = re.compile(NCT_ID_PATTERN)

SourceFormat = Literal[
    "ctgov-api-v2-json",
    "ctgov-classic-xml",
    "page-compact",
    "page-listing",
    "page-summary",
    "trial-json",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


NonEmptyStr = Annotated[str, Field(min_length=1)]


class Source(_Model):
    """Where a Trial was read from; ``locator`` is stable across runs (e.g. ``#/studies/3``)."""

    format: SourceFormat
    file: str = Field(description="Path of the input file as given, or '-' for stdin.")
    locator: str = Field(
        default="",
        description="Place of the record inside the file: JSON pointer, NDJSON line, "
        "ZIP member, or empty when the file holds one record.",
    )
    unplaced: list[str] = Field(
        default_factory=list,
        description="Content of a saved page that no reader rule could place in a field: kept here "
        "(and reported as a warning) so that nothing is lost silently.",
    )


class PartialDate(_Model):
    """A date as registries give it: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, with its type."""

    date: Annotated[str, Field(pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")]
    type: Literal["ACTUAL", "ESTIMATED"] | None = None


MAX_INT = 2**31 - 1
"""The largest count or age a Trial holds: FHIR's integer and unsignedInt (a 20-digit enrollment is
a typo, and no output could carry it)."""


class Age(_Model):
    """An age limit, e.g. 18 Years. Unit is the API v2 plural form."""

    value: Annotated[int, Field(ge=0, le=MAX_INT)]
    unit: Literal["Years", "Months", "Weeks", "Days", "Hours", "Minutes"]

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"


class SecondaryId(_Model):
    id: NonEmptyStr
    type: str | None = Field(default=None, description="API v2 SecondaryIdType, e.g. NIH, OTHER_GRANT.")
    domain: str | None = Field(default=None, description="Issuer of the identifier.")
    link: str | None = None


class Identification(_Model):
    nct_id: Annotated[str, Field(pattern=NCT_ID_PATTERN)]
    nct_id_aliases: list[str] = Field(default_factory=list)
    org_study_id: str | None = None
    org_study_id_type: str | None = None
    org_study_id_link: str | None = None
    secondary_ids: list[SecondaryId] = Field(default_factory=list)
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    organization_name: str | None = Field(default=None, description="Submitting organization.")
    organization_class: str | None = None


class ExpandedAccessInfo(_Model):
    """Whether an expanded-access record exists for this (investigational) trial (API v2 statusModule)."""

    has_expanded_access: bool | None = None
    nct_id: Annotated[str, Field(pattern=NCT_ID_PATTERN)] | None = Field(
        default=None, description="The NCT ID of the expanded-access record."
    )
    status: str | None = Field(default=None, description="API v2 ExpandedAccessStatus, e.g. AVAILABLE.")


class Status(_Model):
    overall_status: str | None = Field(default=None, description="API v2 Status, e.g. RECRUITING.")
    last_known_status: str | None = None
    why_stopped: str | None = None
    status_verified_date: PartialDate | None = None
    start_date: PartialDate | None = None
    primary_completion_date: PartialDate | None = None
    completion_date: PartialDate | None = None
    first_submitted: PartialDate | None = None
    first_posted: PartialDate | None = None
    last_update_submitted: PartialDate | None = None
    last_update_posted: PartialDate | None = None
    first_submitted_qc: PartialDate | None = Field(default=None, description="studyFirstSubmitQcDate.")
    results_first_submitted: PartialDate | None = None
    results_first_submitted_qc: PartialDate | None = None
    results_first_posted: PartialDate | None = None
    disposition_first_submitted: PartialDate | None = Field(
        default=None, description="Certification/extension request (dispFirstSubmitDate)."
    )
    disposition_first_submitted_qc: PartialDate | None = None
    disposition_first_posted: PartialDate | None = None
    delayed_posting: bool | None = None
    results_waived: bool | None = None
    expanded_access: ExpandedAccessInfo | None = None




class Sponsor(_Model):
    name: NonEmptyStr
    agency_class: str | None = Field(default=None, description="API v2 AgencyClass, e.g. INDUSTRY.")


class ResponsibleParty(_Model):
    type: str | None = Field(default=None, description="SPONSOR, PRINCIPAL_INVESTIGATOR, ...")
    investigator_full_name: str | None = None
    investigator_title: str | None = None
    investigator_affiliation: str | None = None
    old_name_title: str | None = None
    old_organization: str | None = None


class Sponsors(_Model):
    lead_sponsor: Sponsor | None = None
    collaborators: list[Sponsor] = Field(default_factory=list)
    responsible_party: ResponsibleParty | None = None


class Oversight(_Model):
    has_dmc: bool | None = None
    is_fda_regulated_drug: bool | None = None
    is_fda_regulated_device: bool | None = None
    is_unapproved_device: bool | None = None
    is_ppsd: bool | None = None
    is_us_export: bool | None = None
    fdaaa801_violation: bool | None = None


class Enrollment(_Model):
    count: Annotated[int, Field(ge=0, le=MAX_INT)] | None = None
    type: Literal["ACTUAL", "ESTIMATED"] | None = None


class BioSpec(_Model):
    """Biospecimen retention of an observational study."""

    retention: str | None = Field(default=None, description="NONE_RETAINED, SAMPLES_WITH_DNA, SAMPLES_WITHOUT_DNA.")
    description: str | None = None


class Design(_Model):
    study_type: str | None = Field(default=None, description="INTERVENTIONAL, OBSERVATIONAL, ...")
    phases: list[str] = Field(default_factory=list, description="All phases, e.g. [PHASE1, PHASE2].")
    allocation: str | None = None
    intervention_model: str | None = None
    intervention_model_description: str | None = None
    primary_purpose: str | None = None
    observational_model: str | None = None
    time_perspective: str | None = None
    masking: str | None = None
    masking_description: str | None = None
    who_masked: list[str] = Field(default_factory=list)
    enrollment: Enrollment | None = None
    patient_registry: bool | None = None
    target_duration: str | None = None
    expanded_access_types: list[str] = Field(
        default_factory=list, description="INDIVIDUAL, INTERMEDIATE, TREATMENT (API v2 expandedAccessTypes set true)."
    )
    n_ptrs_to_this_exp_acc_nct_id: Annotated[int, Field(ge=0, le=MAX_INT)] | None = Field(
        default=None, description="How many trials name this expanded-access record (nPtrsToThisExpAccNctId)."
    )
    bio_spec: BioSpec | None = None




class Arm(_Model):
    label: NonEmptyStr
    type: str | None = Field(default=None, description="EXPERIMENTAL, PLACEBO_COMPARATOR, ...")
    description: str | None = None
    intervention_names: list[str] = Field(
        default_factory=list, description="'TYPE: Name' as API v2 writes them, or bare names."
    )


class Intervention(_Model):
    name: NonEmptyStr
    type: str | None = Field(default=None, description="DRUG, BIOLOGICAL, DEVICE, ...")
    description: str | None = None
    other_names: list[str] = Field(default_factory=list)
    arm_labels: list[str] = Field(default_factory=list)


class Outcome(_Model):
    measure: NonEmptyStr
    description: str | None = None
    time_frame: str | None = None


class Outcomes(_Model):
    primary: list[Outcome] = Field(default_factory=list)
    secondary: list[Outcome] = Field(default_factory=list)
    other: list[Outcome] = Field(default_factory=list)


CriteriaSide = Literal["inclusion", "exclusion", "unspecified"]


CriteriaCombination = Literal["all-of", "any-of"]


class Criterion(_Model):
    """One criterion as its author wrote it: one item however it was wrapped. A lead-in ("Prior
    therapy:", "... as defined by:") carries the items it introduces in ``items``, combined as its
    text says (``any-of`` for "any of the following", else ``all-of``)."""

    text: NonEmptyStr
    combination: CriteriaCombination | None = Field(
        default=None, description="How the sub-items combine; set exactly when there are sub-items."
    )
    items: list[Criterion] = Field(default_factory=list, description="Sub-items of a lead-in.")

    @model_validator(mode="after")
    def _combination_with_items(self) -> Criterion:
        # A lead-in always says how its items combine; a criterion without items says nothing.
        if self.items and self.combination is None:
            self.combination = "all-of"
        elif not self.items:
            self.combination = None
        return self


class CriteriaSection(_Model):
    """A run of criteria under one heading. ``side`` is unspecified when the text gives no side."""

    side: CriteriaSide
    heading: str | None = Field(default=None, description="The heading text as written, if any.")
    items: list[Criterion] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list,
        description="What the section says that is no criterion, as written: \"Further criteria apply.\"",
    )


class Eligibility(_Model):
    criteria: str | None = Field(default=None, description="The criteria text as registered, verbatim.")
    criteria_sections: list[CriteriaSection] = Field(
        default_factory=list, description="The criteria text as a tree: sections, items, sub-items."
    )
    sex: str | None = Field(default=None, description="ALL, FEMALE or MALE.")
    gender_based: bool | None = None
    gender_description: str | None = None
    minimum_age: Age | None = None
    maximum_age: Age | None = None
    healthy_volunteers: bool | None = None
    std_ages: list[str] = Field(default_factory=list, description="CHILD, ADULT, OLDER_ADULT.")
    study_population: str | None = None
    sampling_method: str | None = None


class Contact(_Model):
    name: str | None = None
    role: str | None = Field(default=None, description="CONTACT, PRINCIPAL_INVESTIGATOR, ...")
    phone: str | None = None
    phone_ext: str | None = None
    email: str | None = None


class Official(_Model):
    name: NonEmptyStr
    affiliation: str | None = None
    role: str | None = Field(default=None, description="PRINCIPAL_INVESTIGATOR, STUDY_CHAIR, ...")


class GeoPoint(_Model):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Location(_Model):
    facility: str | None = None
    status: str | None = Field(default=None, description="Site recruitment status (API v2 enum).")
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    geo_point: GeoPoint | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Retraction(_Model):
    pmid: str | None = None
    source: str | None = None


class Reference(_Model):
    pmid: str | None = None
    type: str | None = Field(default=None, description="BACKGROUND, RESULT or DERIVED.")
    citation: str | None = None
    retractions: list[Retraction] = Field(default_factory=list)


class AvailableIpd(_Model):
    """A document or data set the investigators make available (API v2 availIpds, classic study_docs)."""

    id: str | None = None
    type: str | None = Field(default=None, description="e.g. Study Protocol, Statistical Analysis Plan.")
    url: str | None = None
    comment: str | None = None


class IpdSharing(_Model):
    """The plan to share individual participant data (API v2 ipdSharingStatementModule)."""

    sharing: str | None = Field(default=None, description="YES, NO or UNDECIDED.")
    description: str | None = None
    info_types: list[str] = Field(default_factory=list, description="STUDY_PROTOCOL, SAP, ICF, CSR, ANALYTIC_CODE.")
    time_frame: str | None = None
    access_criteria: str | None = None
    url: str | None = None


class LargeDocument(_Model):
    """A protocol, statistical analysis plan or informed consent form posted with the record."""

    type_abbrev: str | None = Field(default=None, description="Prot, SAP, ICF, Prot_SAP, Prot_SAP_ICF ...")
    has_protocol: bool | None = None
    has_sap: bool | None = None
    has_icf: bool | None = None
    label: str | None = None
    date: PartialDate | None = None
    upload_date: str | None = Field(default=None, description="yyyy-MM-ddTHH:mm as API v2 gives it.")
    filename: str | None = None
    size: Annotated[int, Field(ge=0, le=2**53)] | None = None
    url: str | None = Field(
        default=None,
        description="Where the document is: classic XML document_url; for API v2, the address "
        "ClinicalTrials.gov serves it from.",
    )


class Documents(_Model):
    no_sap: bool | None = None
    large_docs: list[LargeDocument] = Field(default_factory=list)


class MeshTerm(_Model):
    id: str | None = Field(default=None, description="MeSH descriptor UI, e.g. D003924.")
    term: NonEmptyStr


class BrowseLeaf(_Model):
    """A MeSH term CT.gov's search relates to the record, with how it was found."""

    id: str | None = None
    name: NonEmptyStr
    as_found: str | None = Field(default=None, description="The record's own wording it was found from.")
    relevance: str | None = Field(default=None, description="LOW or HIGH.")


class BrowseBranch(_Model):
    """A MeSH tree branch the record falls under (e.g. BC04, Neoplasms)."""

    abbrev: str | None = None
    name: NonEmptyStr


class Derived(_Model):
    """What ClinicalTrials.gov derives from the record: MeSH terms, removed countries."""

    condition_meshes: list[MeshTerm] = Field(default_factory=list)
    condition_mesh_ancestors: list[MeshTerm] = Field(default_factory=list)
    intervention_meshes: list[MeshTerm] = Field(default_factory=list)
    intervention_mesh_ancestors: list[MeshTerm] = Field(default_factory=list)
    condition_browse_leaves: list[BrowseLeaf] = Field(default_factory=list)
    condition_browse_branches: list[BrowseBranch] = Field(default_factory=list)
    intervention_browse_leaves: list[BrowseLeaf] = Field(default_factory=list)
    intervention_browse_branches: list[BrowseBranch] = Field(default_factory=list)
    location_countries: list[str] = Field(
        default_factory=list, description="Countries of the sites as the registry lists them (classic XML)."
    )
    removed_countries: list[str] = Field(default_factory=list, description="Countries whose sites were removed.")
    version_holder: str | None = None


class SeeAlsoLink(_Model):
    label: str | None = None
    url: NonEmptyStr


class RelatedTrial(_Model):
    """A trial the source names as related (pages list them; API v2 has no such module)."""

    nct_id: Annotated[str, Field(pattern=NCT_ID_PATTERN)]
    title: str | None = None
    status: str | None = Field(default=None, description="Its overall status, as the page shows it.")
    phases: list[str] = Field(default_factory=list, description="Its phases, as the page shows them.")


class Trial(_Model):
    """One clinical trial, as every reader produces it and every mapping consumes it."""

    source: Source
    identification: Identification
    status: Status = Field(default_factory=Status)
    sponsors: Sponsors = Field(default_factory=Sponsors)
    oversight: Oversight = Field(default_factory=Oversight)
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    design: Design = Field(default_factory=Design)
    arms: list[Arm] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    outcomes: Outcomes = Field(default_factory=Outcomes)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    central_contacts: list[Contact] = Field(default_factory=list)
    overall_officials: list[Official] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    see_also_links: list[SeeAlsoLink] = Field(default_factory=list)
    available_ipds: list[AvailableIpd] = Field(default_factory=list)
    ipd_sharing: IpdSharing | None = None
    documents: Documents | None = None
    derived: Derived = Field(default_factory=Derived)
    related_trials: list[RelatedTrial] = Field(default_factory=list)
    has_results: bool | None = Field(
        default=None, description="Results are posted (the results section itself is not in the model)."
    )

    @property
    def nct_id(self) -> str:
        return self.identification.nct_id


def is_nct_id(value: str) -> bool:
    """True for a canonical NCT ID (``NCT`` + 8 digits): the only form that becomes a file name."""
    return bool(_NCT_RE.fullmatch(value))


def normalise_nct_id(value: str) -> str | None:
    """``nct1234567`` or ``NCT01234567`` -> ``NCT01234567``; None when it is not an NCT ID."""
    m = re.fullmatch(r"\s*[Nn][Cc][Tt]0*([1-9][0-9]{0,7})\s*", value)
    return f"NCT{int(m.group(1)):08d}" if m else None


__all__ = [
    "Age",
    "Arm",
    "AvailableIpd",
    "BioSpec",
    "BrowseBranch",
    "BrowseLeaf",
    "Contact",
    "CriteriaCombination",
    "CriteriaSection",
    "Criterion",
    "Derived",
    "Design",
    "Documents",
    "Eligibility",
    "Enrollment",
    "ExpandedAccessInfo",
    "GeoPoint",
    "Identification",
    "Intervention",
    "IpdSharing",
    "LargeDocument",
    "Location",
    "MeshTerm",
    "Official",
    "Outcome",
    "Outcomes",
    "Oversight",
    "PartialDate",
    "Reference",
    "RelatedTrial",
    "ResponsibleParty",
    "Retraction",
    "SecondaryId",
    "SeeAlsoLink",
    "Source",
    "Sponsor",
    "Sponsors",
    "Status",
    "Trial",
    "is_nct_id",
    "normalise_nct_id",
]

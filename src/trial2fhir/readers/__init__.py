"""Readers, one module per input format; ``READERS`` is the registry the pipeline dispatches on.

Order matters for sniffing: our own trial-json and the structured formats first, then page
layouts from most to least specific.
"""

from __future__ import annotations

from trial2fhir.readers import ctgov_json, ctgov_xml, trial_json
from trial2fhir.readers.base import Reader, ReadResult
from trial2fhir.readers.pages import compact, listing, summary

READERS: dict[str, Reader] = {
    r.name: r
    for r in (
        Reader("trial-json", "trial2fhir's own Trial JSON (*.trial.json)", trial_json.sniff, trial_json.read),
        Reader("ctgov-api-v2-json", "ClinicalTrials.gov API v2 JSON: study, page, array or NDJSON",
               ctgov_json.sniff, ctgov_json.read, stream=ctgov_json.stream),
        Reader("ctgov-classic-xml", "ClinicalTrials.gov classic XML <clinical_study>",
               ctgov_xml.sniff, ctgov_xml.read, decodes_itself=True),
        Reader("page-compact", "Registry page, compact CT.gov-style layout (labelled or not)",
               compact.sniff, compact.read),
        Reader("page-listing", "Registry page, recruiting-listing layout", listing.sniff, listing.read),
        Reader("page-summary", "Registry page, plain-language summary layout", summary.sniff, summary.read),
    )
}

__all__ = ["READERS", "ReadResult", "Reader"]

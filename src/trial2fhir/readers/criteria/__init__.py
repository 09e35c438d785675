"""Eligibility criteria text -> a tree of sections, criteria and sub-criteria, as the author wrote it.

Every reader keeps the registered text verbatim in ``eligibility.criteria`` and calls
:func:`parse_criteria` for the tree, so API v2 Markdown, classic-XML text blocks and page layouts
give the same tree. The parser works on lines:

* a *heading* opens a section: a side heading ("Key Inclusion Criteria:", "EXCLUSION CRITERIA --",
  "Transplant Exclusion:"), a neutral one ("Eligibility criteria", NCI's "DISEASE
  CHARACTERISTICS:"), a cohort or part ("For the SLE cohort:", "Group 2"), or an introduction
  ("Patients must meet all of the following criteria:"). A heading with no side of its own keeps
  the side of the section it sits in; text before any heading has no side ("unspecified").
* an *item* is a list entry (bullet, 1. 1) (a) i. ...) or an unmarked paragraph; lines that continue
  it (hard wraps, an indented "Note: ..." paragraph) are joined to it. Nesting follows indentation,
  corrected by numbering ("* 1." then "  2." are siblings; a list that restarts at 1 under an item
  ending in ":" belongs to that item).
* a *lead-in* is an item with sub-items: "Prior therapy:", "... as defined by:", "any of the
  following:", an unmarked label such as NCI's "Hepatic:" followed by a list.
"""


from __future__ import annotations

from trial2fhir.readers.criteria.lines import clean_item, is_item_start, unescape
from trial2fhir.readers.criteria.tree import MAX_DEPTH, parse_criteria

__all__ = ["MAX_DEPTH", "clean_item", "is_item_start", "parse_criteria", "unescape"]

"""Validation of what trial2fhir writes."""

from trial2fhir.validation.fhir import (
    FhirValidator,
    Issue,
    SchemaNotInstalledError,
    correct_known_typos,
    load_schema,
    locate_schema,
    validate_bundle,
    validate_resource,
)

__all__ = [
    "FhirValidator",
    "Issue",
    "SchemaNotInstalledError",
    "correct_known_typos",
    "load_schema",
    "locate_schema",
    "validate_bundle",
    "validate_resource",
]

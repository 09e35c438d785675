"""trial2fhir: clinical-trial registry records to validated HL7 FHIR and CDISC XML."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trial2fhir")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

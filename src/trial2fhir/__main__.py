"""``python -m trial2fhir``: the same CLI as the ``trial2fhir`` command."""

from trial2fhir.cli import app

app(prog_name="trial2fhir")

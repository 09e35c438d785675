"""Where the data files the package needs are: its own copy when installed, else the checkout's.

A wheel carries ``mappings/`` and ``schemas/mapping.schema.json`` as package data under
``trial2fhir/_data/`` (copied by ``setup.py``'s build step, so the ``mappings/`` folder stays where
every mapping author edits it). An editable install or a run from the source tree has no such
copy and reads the checkout, two folders above this file.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parents[1]  # src/trial2fhir -> the repository root
DATA = PACKAGE / "_data"


def data_path(*parts: str) -> Path:
    """``mappings``, ``schemas/mapping.schema.json``, ...: the packaged copy first, else the checkout's."""
    packaged = DATA.joinpath(*parts)
    return packaged if packaged.exists() else CHECKOUT.joinpath(*parts)


def installed() -> bool:
    """True when running from an installed wheel (its data next to the code), not from a checkout."""
    return DATA.is_dir()

"""Build step only (everything else is in pyproject.toml): copy the mapping files and the mapping
language's schema into the wheel as ``trial2fhir/_data/``, so an installed trial2fhir runs from any
folder while ``mappings/`` stays at the repository root where the mapping authors edit it."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
DATA = {"mappings": ROOT / "mappings", "schemas/mapping.schema.json": ROOT / "schemas" / "mapping.schema.json"}


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "trial2fhir" / "_data"
        for name, source in DATA.items():
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", ".*"))
            else:
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": BuildWithData})

"""Writing outputs so that no broken file ever lands under its final name.

Every file is written to a temporary file in the same folder (``mkstemp``: unique per process, so
two runs into one folder never share one) and renamed into place; a temporary file is removed on
any error and on Ctrl-C (``Writer.close`` runs in a ``finally``). A fault of the output side (a
full disk, a read-only folder) is an ``OutputError``: one clear line, the run stops, the report
is still written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from trial2fhir.errors import clean


def _file_mode() -> int:
    """The mode an ordinary new file gets here (0o666 less the umask): mkstemp makes 0o600 files."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


class UsageError(Exception):
    """A bad option value found before any record is read (exit 2)."""


class OutputError(Exception):
    """The output side failed (exit 1): what, where and the system's reason, on one line."""

    def __init__(self, action: str, path: Path | str, exc: OSError) -> None:
        super().__init__(f"cannot {action} {clean(str(path))}: {exc.strerror or exc}")


def check_outdir(outdir: Path, what: str = "-o") -> None:
    """The output folder exists (made if needed) and takes a file; UsageError or OutputError otherwise."""
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{what} {clean(str(outdir))}: is a file, not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{what} {clean(str(outdir))}: a parent is a file, not a folder") from None
    except OSError as exc:
        raise OutputError("create", outdir, exc) from None
    try:  # probe once, so a read-only folder is one line, not one error per record
        fd, probe = tempfile.mkstemp(dir=outdir, prefix=".trial2fhir-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError("write into", outdir, exc) from None


def check_report_path(report: Path) -> None:
    if report.is_dir():
        raise UsageError(f"--report {clean(str(report))}: is a folder; give a file name, e.g. {clean(str(report))}"
                         "/report.json")
    if report.parent.exists() and not report.parent.is_dir():
        raise UsageError(f"--report {clean(str(report))}: {clean(str(report.parent))} is a file, not a folder")


class Writer:
    """Atomic writes into one folder; ``close`` removes every temporary file still there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._temps: set[str] = set()
        # In every temporary name, so close() finds even one that Ctrl-C hit before mkstemp returned.
        self._token = f"{os.getpid()}-{id(self):x}"

    def temp(self, name: str) -> tuple[int, str]:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{name}.{self._token}.", suffix=".tmp")
        except OSError as exc:
            raise OutputError("write", self.folder / name, exc) from None
        self._temps.add(tmp)
        with contextlib.suppress(OSError):  # as any file the user writes, not private: outputs are shared
            os.fchmod(fd, FILE_MODE)
        return fd, tmp

    def write(self, name: str, data: bytes) -> Path:
        """``data`` as ``folder/name``, all or nothing."""
        target = self.folder / name
        if target.resolve().parent != self.folder.resolve():  # belt and braces: names come from NCT IDs
            raise ValueError(f"output name {name!r} escapes the output folder")
        fd, tmp = self.temp(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            self.discard(tmp)
            raise OutputError("write", target, exc) from None
        return self.commit(tmp, name)

    def commit(self, tmp: str, name: str) -> Path:
        """Move a finished temporary file (from :meth:`temp`) to its final name."""
        target = self.folder / name
        try:
            os.replace(tmp, target)
        except OSError as exc:
            self.discard(tmp)
            raise OutputError("write", target, exc) from None
        self._temps.discard(tmp)
        return target

    def discard(self, tmp: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        self._temps.discard(tmp)

    def close(self) -> None:
        for tmp in list(self._temps):
            self.discard(tmp)
        with contextlib.suppress(OSError):
            for stray in self.folder.glob(f".*.{self._token}.*.tmp"):
                self.discard(str(stray))


def write_atomic(path: Path, data: bytes) -> None:
    """One file (a report) written all or nothing; OutputError on failure."""
    writer = Writer(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer.write(path.name, data)
    except OSError as exc:
        raise OutputError("write", path, exc) from None
    finally:
        writer.close()

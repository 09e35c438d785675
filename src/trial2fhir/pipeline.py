"""The one read loop: INPUTs -> records -> per-record work -> results in input order.

convert, roundtrip and check all run here; each gives a ``work`` function (Trial -> result, pure
and picklable, so it can run in a worker process) and consumes the results in input order, doing
its own side effects (writing files, printing) in the main process. Read errors come through as
``RecordError`` items in their place, so one bad record never stops the others.

With ``jobs`` > 1 the work runs in a process pool once a batch is large enough to pay for it, one
batch in flight while the next is read: memory is bounded by two batches, whatever the input size.
Workers ignore SIGINT, so Ctrl-C reaches only the main process, which stops them and unwinds.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from trial2fhir.errors import RecordError
from trial2fhir.model import Trial
from trial2fhir.readers import ReadResult
from trial2fhir.sources import DEFAULT_MAX_FILE_MB, Inputs, expand, read_input

R = TypeVar("R")

ProgressHook = Callable[[int, int, str], None]
"""Called as (files done, files in all, name of the file just done)."""

BATCH = 256  # records per round of the worker pool: bounded memory on a whole registry


@dataclass
class Done(Generic[R]):
    """One record read and worked on."""

    trial: Trial
    result: R


Item = Done[R] | RecordError


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def records(
    found: Inputs,
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    progress: ProgressHook | None = None,
) -> Iterator[ReadResult]:
    """Every record of every input, in order: missing inputs first (as errors), then each file's records."""
    yield from found.missing
    for done, item in enumerate(found.files, 1):
        yield from read_input(item, input_format, max_file_mb)
        if progress is not None:
            progress(done, len(found.files), item.name)


def _quiet_worker() -> None:
    # Ctrl-C is the main process's to handle: a worker that died of it would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run(
    source: Inputs | Sequence[str],
    work: Callable[[Trial], R],
    *,
    input_format: str | None = None,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    jobs: int = 1,
    progress: ProgressHook | None = None,
) -> Iterator[Item[R]]:
    """``work`` applied to every record of ``source``; results (or read errors) in input order."""
    found = source if isinstance(source, Inputs) else expand(source)
    pool: ProcessPoolExecutor | None = None
    in_flight: tuple[list[ReadResult], Iterator[R]] | None = None

    def submit(batch: list[ReadResult]) -> tuple[list[ReadResult], Iterator[R]]:
        nonlocal pool
        trials = [r for r in batch if isinstance(r, Trial)]
        if pool is None and jobs > 1 and len(trials) >= BATCH:
            pool = ProcessPoolExecutor(jobs, initializer=_quiet_worker)
        if pool is None:
            return batch, map(work, trials)  # lazy: worked on as the caller consumes
        return batch, iter(pool.map(work, trials, chunksize=8))

    def drain(batch: list[ReadResult], results: Iterator[R]) -> Iterator[Item[R]]:
        for r in batch:
            yield r if isinstance(r, RecordError) else Done(r, next(results))

    try:
        batch: list[ReadResult] = []
        for result in records(found, input_format, max_file_mb, progress):
            batch.append(result)
            if len(batch) >= BATCH:
                # Submit this batch, then hand out the previous one: workers render while we read.
                previous, in_flight = in_flight, submit(batch)
                batch = []
                if previous is not None:
                    yield from drain(*previous)
        if in_flight is not None:
            yield from drain(*in_flight)
            in_flight = None
        if batch:
            yield from drain(*submit(batch))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


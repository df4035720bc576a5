"""Running items (recordings, reports) one after the other or in a process pool: their outcomes, a progress
line per finished item, and the summary at the end."""

from __future__ import annotations

import contextlib
import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger("fnirs_glm")


@dataclass
class Outcome:
    recording: str
    status: str  # "done" | "skipped" | "failed"
    seconds: float
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def pool(*, n_cpus: int, verbose: int):
    """A process pool for ``--n_cpus`` > 1; None (run here, one after the other) for 1."""
    if n_cpus == 1:
        return contextlib.nullcontext()
    return ProcessPoolExecutor(max_workers=n_cpus, initializer=init_worker, initargs=(verbose,))


class Progress:
    """One log line per finished item ("[3/10] name: done in 1.2 s"), and a bar on a terminal."""

    def __init__(self, *, total: int):
        self.total, self.finished = total, 0
        self._bar = self._redirect = None
        if sys.stderr.isatty():
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._bar = tqdm(total=total, unit="item", leave=False, file=sys.stderr)
            self._redirect = logging_redirect_tqdm(loggers=[logger])

    def __enter__(self):
        if self._redirect is not None:
            self._redirect.__enter__()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._redirect.__exit__(*exc)
            self._bar.close()
        return False

    def run(self, pool, jobs: list[tuple[str, object, dict]]) -> list[Outcome]:
        """Outcomes of ``jobs`` (name, function, keyword arguments) in their order, each reported when
        it finishes; in ``pool`` when given, else here one after the other."""
        if pool is None:
            return [self._report(job[1](**job[2])) for job in jobs]
        from concurrent.futures import as_completed

        futures = {pool.submit(function, **kwargs): name for name, function, kwargs in jobs}
        done = {}
        for future in as_completed(futures):
            done[future] = self._report(_result(future, futures[future]))
        return [done[future] for future in futures]

    def _report(self, outcome: Outcome) -> Outcome:
        self.finished += 1
        text = f"[{self.finished}/{self.total}] {outcome.recording}: {outcome.status} in {outcome.seconds:.1f} s"
        note = " (the error is listed at the end)" if outcome.status == "failed" else (
            f" ({outcome.message})" if outcome.message else "")
        logger.info(text + note)
        if self._bar is not None:
            self._bar.update()
        return outcome


def log_summary(recorded: list[Outcome], reported: list[Outcome]) -> None:
    """A table of every item's status and time, the counts, then one error line per failure."""
    items = recorded + reported
    width = max([len(o.recording) for o in items] + [4])
    lines = [f"{'item':<{width}}  {'status':<8} {'seconds':>8}"]
    lines += [f"{o.recording:<{width}}  {o.status:<8} {o.seconds:>8.1f}" for o in items]
    logger.info("summary:\n" + "\n".join(lines))

    def counts(outcomes):
        return ", ".join(f"{sum(o.status == s for o in outcomes)} {s}" for s in ("done", "failed", "skipped"))

    logger.info(f"recordings: {counts(recorded)}; reports: {counts(reported)}")
    for outcome in items:
        if outcome.status == "failed":
            logger.error(outcome.message)


def init_worker(verbose: int) -> None:
    """Logging and MNE verbosity, in this process and in each worker whatever the start method."""
    import mne

    from bids_app.logs import setup_logging

    setup_logging(verbose)
    mne.set_log_level("error" if verbose < 2 else "info")


def _result(future, name: str) -> Outcome:
    """A worker's outcome; a worker that died (e.g. out of memory) fails only its item."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - BrokenProcessPool and the like
        return Outcome(name, "failed", 0.0, f"{name}: the worker process failed ({type(exc).__name__}: {exc})")

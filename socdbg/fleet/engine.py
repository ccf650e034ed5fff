"""One task per target on Dask distributed: a LocalCluster of worker processes on this machine
by default, or an existing cluster (``--scheduler ADDRESS``).

The task itself (run a script, take a dump) is a module-level function the caller passes in:
Dask sends it to the workers by reference, so this module knows nothing of scripts or dumps.
Per-host concurrency is bounded with a :class:`distributed.Semaphore` per host; a task is
never retried (a target that does not answer is reported unreachable by the task, within its
connect and access timeouts); Ctrl-C cancels every future and closes the cluster.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from socdbg.errors import UsageError
from socdbg.fleet import need
from socdbg.fleet.targets import FleetTarget

#: Results of one target: passed, failed (a check failed), error (a command failed, the script
#: is bad, the target broke mid-run), unreachable (it did not answer), cancelled (Ctrl-C).
TICK = 0.2  # seconds between progress updates while nothing finishes
#: How long closing the client or the local cluster may take before its workers are stopped.
CLOSE_SECONDS = 10
RESULTS = ("passed", "failed", "error", "unreachable", "cancelled")

#: ``task(spec, name, *args) -> {"result": ..., "where": ..., "reason": ..., more data}``
Task = Callable[..., dict[str, Any]]
#: ``progress(finished results, number of targets, running now)``
Progress = Callable[[list["TargetResult"], int, int], None]


@dataclass
class TargetResult:
    name: str
    spec: str
    result: str
    where: str = ""  # the failing FILE:LINE
    reason: str = ""
    seconds: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "passed"

    def to_json(self) -> dict[str, Any]:
        return {"target": self.name, "spec": self.spec, "result": self.result,
                "where": self.where, "reason": self.reason,
                "seconds": round(self.seconds, 3), **self.data}


@dataclass(frozen=True)
class ClusterOptions:
    scheduler: str | None = None  # an existing cluster's address; None: a LocalCluster
    workers: int = 4  # worker processes of the LocalCluster
    per_host: int = 4  # tasks at once against one host


def guarded(task: Task, spec: str, name: str, semaphore: Any, args: tuple[Any, ...]
            ) -> dict[str, Any]:
    """Run on a worker: take the host's lease (if any), run the task, time it; an unexpected
    exception is this target's error, not the fleet's."""
    with semaphore if semaphore is not None else contextlib.nullcontext():
        start = time.monotonic()
        try:
            out = dict(task(spec, name, *args))
        except Exception as exc:  # a bug in one task must not hide the other targets
            out = {"result": "error", "reason": f"{type(exc).__name__}: {exc}"}
        out["seconds"] = time.monotonic() - start
    return out


@contextlib.contextmanager
def connect(options: ClusterOptions) -> Iterator[Any]:
    """A Dask client on the chosen cluster; the LocalCluster (if one was started here) and the
    client are closed whatever happens."""
    distributed = need("distributed")
    for name in ("distributed", "tornado"):  # the report is ours: no worker chatter
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    try:
        if options.scheduler:
            try:
                client = distributed.Client(options.scheduler, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {options.scheduler}: cannot connect: {exc}",
                                 "give the address a Dask scheduler listens on, "
                                 "e.g. tcp://10.0.0.2:8786") from None
        else:
            with _deferred_interrupt() as interrupted:
                cluster = distributed.LocalCluster(
                    n_workers=options.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL)
                client = distributed.Client(cluster)
            if interrupted:
                raise KeyboardInterrupt("fleet run: cancelled while the local cluster "
                                        "started; nothing was run")
    except BaseException:
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_SECONDS)
        raise
    try:
        yield client
    finally:
        # bounded: workers still running a task (a script sleeping, a stuck target) are
        # stopped, never waited for
        with contextlib.suppress(Exception):
            client.close(timeout=CLOSE_SECONDS)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_SECONDS)


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[list[int]]:
    """Ctrl-C while a LocalCluster starts is held until it has started (an interrupted start
    leaves worker processes half made, which distributed then fails to close); the caller
    closes it and stops."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    seen: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, old)


def run_fleet(targets: Sequence[FleetTarget], task: Task, args: tuple[Any, ...],
              options: ClusterOptions, progress: Progress | None = None
              ) -> list[TargetResult]:
    """Run ``task(target.spec, target.name, *args)`` for every target on the cluster; results in the
    targets' order. Ctrl-C cancels the futures, closes the cluster and raises
    KeyboardInterrupt saying how far the run got."""
    distributed = need("distributed")
    run_id = uuid.uuid4().hex[:12]
    with connect(options) as client:
        semaphores: dict[str, Any] = {}
        futures = {}
        for i, t in enumerate(targets):
            host = t.host
            sem = None
            if host is not None:
                if host not in semaphores:
                    semaphores[host] = distributed.Semaphore(
                        max_leases=options.per_host, name=f"socdbg-{run_id}-{host}")
                sem = semaphores[host]
            fut = client.submit(guarded, task, t.spec, t.name, sem, args, pure=False,
                                key=f"socdbg-fleet-{run_id}-{i}")
            futures[fut] = i
        results: list[TargetResult | None] = [None] * len(targets)
        done: list[TargetResult] = []
        try:
            waiting = distributed.as_completed(list(futures))
            while not waiting.is_empty():
                if progress is not None:
                    progress(done, len(targets), _running(client, len(targets) - len(done)))
                if not waiting.has_ready():
                    time.sleep(TICK)
                    continue
                for fut in waiting.next_batch(block=False):
                    i = futures[fut]
                    results[i] = _result(targets[i], fut)
                    done.append(results[i])  # type: ignore[arg-type]
            if progress is not None:
                progress(done, len(targets), 0)
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                client.cancel(list(futures), force=True)
            raise KeyboardInterrupt(f"fleet run: {len(done)} of {len(targets)} targets "
                                    "done, the rest cancelled") from None
    return [r if r is not None else TargetResult(t.name, t.spec, "cancelled")
            for r, t in zip(results, targets, strict=True)]


def _running(client: Any, remaining: int) -> int:
    """Tasks a worker thread is on now: assigned to a worker, at most one per thread."""
    try:
        assigned = client.processing()
        threads = client.nthreads()
        busy = sum(min(len(keys), threads.get(worker, 1)) for worker, keys in assigned.items())
    except Exception:  # the count is only for the progress line
        busy = 0
    return min(int(busy), remaining)


def _result(target: FleetTarget, fut: Any) -> TargetResult:
    try:
        out = fut.result()
    except Exception as exc:  # the worker died under the task (KilledWorker, ...)
        return TargetResult(target.name, target.spec, "error",
                            reason=f"{type(exc).__name__}: {exc}"[:500])
    result = out.get("result")
    if result not in RESULTS:
        result = "error"
    data = {k: v for k, v in out.items()
            if k not in ("result", "where", "reason", "seconds")}
    return TargetResult(target.name, target.spec, str(result), str(out.get("where", "")),
                        str(out.get("reason", "")), float(out.get("seconds", 0.0)), data)

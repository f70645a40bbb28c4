"""Map folds or settings over Ray tasks, or run them one by one in this process.

The one way rtdecode parallelises its offline work (LOWO folds, calibration sessions, setting
searches). A :class:`Runner` either runs every task here, in order (``ray=None``, the plain run),
or submits them as Ray tasks (``ray="local"``, ``"auto"`` or a cluster address). Both report
progress the same way, keep going when a task fails and name it in :attr:`Outcome.failures`.

On Ray the shared value (the prepared recordings) goes into the object store once and every
task receives a reference to it; a task is retried once when its worker dies; Ctrl-C cancels
the tasks still pending. Ray is the optional extra ``cluster`` and is imported only here.

Examples
--------
>>> from operator import truediv
>>> with Runner() as runner:  # ray="local" runs the same on a local Ray runtime
...     outcome = runner.map(truediv, [1.0, 0.0, 4.0], shared=2.0, echo=None)
>>> outcome.results, [f.error for f in outcome.failures]
([2.0, None, 0.5], ['ZeroDivisionError: float division by zero'])
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import Any, Generic, TypeVar

from rtdecode._optional import import_optional
from rtdecode.errors import ConfigError
from rtdecode.log import get_logger

__all__ = ["Failure", "Outcome", "Progress", "Runner"]

T = TypeVar("T")
R = TypeVar("R")
_log = get_logger(__name__)
Echo = Callable[[str], None] | None


@dataclass(frozen=True)
class Failure:
    """A task that raised: its position, its name (the held-out animal, the setting) and error."""

    index: int
    name: str
    error: str


@dataclass
class Outcome(Generic[R]):
    """What a :meth:`Runner.map` returned: results in item order (``None`` where it failed)."""

    results: list[R | None]
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def succeeded(self) -> list[tuple[int, R]]:
        """``(index, result)`` of every task that finished, in item order."""
        return [(i, r) for i, r in enumerate(self.results) if r is not None]


class Progress:
    """Lines of ``[####------] 4/10 folds, 0:42 left``, one per finished task (at most ~1 a second
    when tasks carry no message), with the remaining time extrapolated from the rate so far."""

    def __init__(self, total: int, what: str, echo: Callable[[str], None]) -> None:
        self.total, self.what, self.echo = total, what, echo
        self.done = self.failed = 0
        self.started = self._last = time.perf_counter()

    def update(self, message: str | None = None, failed: bool = False) -> None:
        """One more task finished (``failed``: it raised); ``message`` says how it went."""
        self.done += 1
        self.failed += failed
        now = time.perf_counter()
        if message is None and not failed and self.done < self.total and now - self._last < 1.0:
            return
        self._last = now
        filled = round(10 * self.done / max(self.total, 1))
        left = (now - self.started) / self.done * (self.total - self.done)
        line = f"[{'#' * filled}{'-' * (10 - filled)}] {self.done}/{self.total} {self.what}"
        line += f", {int(left) // 60}:{int(left) % 60:02d} left"
        if self.failed:
            line += f", {self.failed} failed"
        self.echo(line + (f"  {message}" if message else ""))


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _call(fn: Callable[[Any, T], R], shared: Any, item: T) -> R:
    """The Ray task: one item (``shared`` arrives resolved from the object store)."""
    return fn(shared, item)


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast when nothing listens at a cluster ``address`` (Ray itself retries for minutes).

    Raises
    ------
    ConfigError
        If ``HOST:PORT`` (after an optional ``ray://``) is malformed or does not accept a
        connection within ``timeout_s``.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--ray {address}: no Ray cluster answers at that address ({exc}); pass HOST:PORT as "
            "'ray start --head' printed it (or ray://HOST:10001), 'auto', or 'local' for a "
            "runtime on this machine"
        ) from exc


class Runner:
    """Where tasks run: in this process, or as Ray tasks on a local runtime or a cluster.

    Parameters
    ----------
    ray
        ``None``: every task in this process, one after another. ``"local"``: start a Ray
        runtime on this machine (stopped on exit). ``"auto"``: join the cluster ``RAY_ADDRESS``
        names or ``ray start`` runs on this machine, else start a local one. Anything else: the
        address of a running cluster (``HOST:6379`` or ``ray://HOST:10001``).
    num_cpus
        CPUs of a runtime started here (default: all).
    object_store_mb
        Object store size of a runtime started here (default: Ray's).
    gpus_per_task
        GPUs each task reserves on Ray (for ``device="cuda"`` training).

    Use it as a context manager; a Ray runtime that was already running is left running.
    """

    def __init__(
        self,
        ray: str | None = None,
        num_cpus: int | None = None,
        object_store_mb: int | None = None,
        gpus_per_task: float = 0.0,
    ) -> None:
        self.address = ray
        self.num_cpus, self.object_store_mb, self.gpus_per_task = (
            num_cpus,
            object_store_mb,
            gpus_per_task,
        )
        self._ray: ModuleType | None = None
        self._started = False

    @property
    def on_ray(self) -> bool:
        """Whether tasks go to Ray."""
        return self.address is not None

    def __enter__(self) -> Runner:
        if self.address is None:
            return self
        ray = import_optional("ray", "cluster", f"--ray {self.address}")
        self._ray = ray
        if self.address not in ("local", "auto"):
            _check_reachable(self.address)
        if ray.is_initialized():
            return self
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address == "local":
            # Ray lowers its workers' priority by 15 (nice 19 here): on a shared machine they then
            # yield to every other process, Ray's own daemons included. Folds run at ours.
            os.environ.setdefault("RAY_worker_niceness", "0")
            options.update(address="local", num_cpus=self.num_cpus)
            if self.object_store_mb is not None:
                options["object_store_memory"] = self.object_store_mb * 1024**2
        elif self.address != "auto":
            options["address"] = self.address
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"--ray {self.address}: could not start or reach a Ray runtime ({exc}); use "
                "'local' for one on this machine, or the address 'ray start --head' printed"
            ) from exc
        self._started = True
        _log.info("Ray runtime: %s", ray.cluster_resources())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
            self._started = False

    def share(self, value: Any) -> Any:
        """``value`` ready to pass to several :meth:`map` calls: on Ray, put once in the object
        store (the reference is returned); here, ``value`` itself."""
        return self._ray.put(value) if self._ray is not None else value

    def map(
        self,
        fn: Callable[[Any, T], R],
        items: Sequence[T],
        shared: Any = None,
        names: Sequence[str] | None = None,
        what: str = "tasks",
        describe: Callable[[R], str] | None = None,
        echo: Echo = print,
    ) -> Outcome[R]:
        """``fn(shared, item)`` for every item, on Ray as one task each.

        Parameters
        ----------
        fn
            A module-level function (Ray workers import it by name), returning non-``None``.
        items
            Small per-task arguments (a fold index, a setting).
        shared
            The large argument every task reads (recordings), or :meth:`share`'s reference.
        names
            One name per item for progress and failures (default: the item's position).
        what
            What the items are, for the progress line ("folds", "settings").
        describe
            A short message about a finished task's result, shown with its progress line.
        echo
            Where progress lines go (``None``: nowhere).

        Returns
        -------
        Outcome
            Results in item order; a task that raised (or whose worker died twice) is ``None``
            there and listed in ``failures`` with its name and error; the others finish.

        Raises
        ------
        KeyboardInterrupt
            After cancelling the tasks still pending (Ctrl-C).
        """
        labels = list(names) if names is not None else [str(i) for i in range(len(items))]
        if len(labels) != len(items):
            raise ValueError(f"{len(labels)} names for {len(items)} items")
        progress = Progress(len(items), what, echo) if echo is not None else None
        started = time.perf_counter()
        outcome: Outcome[R] = Outcome([None] * len(items))
        run = self._map_ray if self._ray is not None else self._map_here
        for i, result, error in run(fn, items, shared):
            if error is None:
                outcome.results[i] = result
            else:
                outcome.failures.append(Failure(i, labels[i], error))
                _log.debug("%s %s failed: %s", what, labels[i], error)
            if progress is not None:
                text = f"{labels[i]}: " + (
                    f"FAILED {error}" if error else describe(result) if describe else "done"
                )
                progress.update(text if describe or error else None, failed=error is not None)
        outcome.failures.sort(key=lambda f: f.index)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _map_here(self, fn: Callable[[Any, T], R], items: Sequence[T], shared: Any) -> Any:
        for i, item in enumerate(items):
            try:
                yield i, fn(shared, item), None
            except Exception as exc:  # reported with its name; the other tasks still run
                _log.debug("task %d failed", i, exc_info=True)
                yield i, None, _error(exc)

    def _map_ray(self, fn: Callable[[Any, T], R], items: Sequence[T], shared: Any) -> Any:
        ray = self._ray
        assert ray is not None
        ref = shared if isinstance(shared, ray.ObjectRef) else ray.put(shared)
        resources = {"num_gpus": self.gpus_per_task} if self.gpus_per_task else {}
        task = ray.remote(_call).options(max_retries=1, num_cpus=1, **resources)
        index = {task.remote(fn, ref, item): i for i, item in enumerate(items)}
        pending = list(index)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for done in ready:
                    try:
                        yield index[done], ray.get(done), None
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                        yield index[done], None, _error(cause)
                    except ray.exceptions.RayError as exc:  # worker died twice, cancelled, ...
                        yield index[done], None, _error(exc).splitlines()[0]
        except BaseException:  # Ctrl-C, or the caller stopped early: nothing keeps running
            for left in pending:
                ray.cancel(left, force=True)
            raise

"""The decoder under test: the real ``rtdecode run`` in its own process, watched from outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from rtdecode.bench._peers import BenchError
from rtdecode.bench._wire import BenchKeys

__all__ = ["DecoderProcess", "DecoderUsage", "run_arguments"]


@dataclass(frozen=True)
class DecoderUsage:
    """Resource use of the decoder process at one instant.

    Parameters
    ----------
    cpu_s
        User plus system CPU seconds since the process started (all threads).
    rss_bytes
        Resident memory now.
    peak_rss_bytes
        Largest resident memory so far (``VmHWM``), or ``None`` where the OS does not say.
    """

    cpu_s: float
    rss_bytes: int
    peak_rss_bytes: int | None


def run_arguments(
    engine: str,
    sources: Sequence[str],
    sink_port: int,
    session_path: Path,
    summary_path: Path,
    keys: BenchKeys | None = None,
) -> list[str]:
    """``rtdecode run`` and its options for the bench: one ``--source`` per producer endpoint
    (in order), a ZMQ sink on ``sink_port`` (stream k of K on ``sink_port + k - 1``), a session
    file and a summary."""
    client = "" if keys is None else f"?{keys.client_query}"
    return [
        "rtdecode",
        "run",
        *(arg for source in sources for arg in ("--source", f"zmq+{source}{client}")),
        "--sink",
        f"zmq+tcp://127.0.0.1:{sink_port}" + ("" if keys is None else f"?{keys.server_query}"),
        "--sink",
        str(session_path),
        "--engine",
        engine,
        "--json",
        str(summary_path),
    ]


class DecoderProcess:
    """Start ``rtdecode run`` with ZMQ sources, ZMQ sinks, session files and a summary.

    Parameters
    ----------
    engine
        ``--engine`` value.
    sources
        Producer endpoints, ``tcp://127.0.0.1:PORT``, one ``--source`` each, in order.
    sink_port
        Port on 127.0.0.1 the decoder binds its prediction PUB to; with K sources, stream k
        (1-based) binds ``sink_port + k - 1``.
    stem
        Path prefix of the session file (``STEM.h5``; ``STEM-k.h5`` per stream with K sources),
        summary (``STEM.summary.json``) and the decoder's log (``STEM.log``).
    extra_args
        More ``rtdecode run`` options (``--busy-poll``, ``--window W``).
    env
        Environment variables set for the decoder on top of this process's own
        (``OMP_NUM_THREADS``, ``MALLOC_MMAP_THRESHOLD_``, ...).
    keys
        CURVE keys: the sources connect as clients, the sinks bind as servers.
    """

    def __init__(
        self,
        engine: str,
        sources: Sequence[str],
        sink_port: int,
        stem: Path,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        keys: BenchKeys | None = None,
    ) -> None:
        self.session_path = stem.with_name(f"{stem.name}.h5")
        self.session_paths = (
            [self.session_path]
            if len(sources) == 1
            else [stem.with_name(f"{stem.name}-{k}.h5") for k in range(1, len(sources) + 1)]
        )
        self.summary_path = stem.with_name(f"{stem.name}.summary.json")
        self.log_path = stem.with_name(f"{stem.name}.log")
        for stale in {self.session_path, *self.session_paths, self.summary_path}:
            stale.unlink(missing_ok=True)
        self.sinks = [f"tcp://127.0.0.1:{sink_port + k}" for k in range(len(sources))]
        self.command = [
            sys.executable,
            "-m",
            *run_arguments(engine, sources, sink_port, self.session_path, self.summary_path, keys),
            *extra_args,
        ]
        self._log = self.log_path.open("wb")
        self._popen = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self._process = psutil.Process(self._popen.pid)
        self._rss_trace: list[tuple[float, int]] = []

    def alive(self) -> bool:
        """Whether the decoder is still running."""
        return self._popen.poll() is None

    def usage(self) -> DecoderUsage:
        """Sample the decoder's CPU time and memory now."""
        with self._process.oneshot():
            times = self._process.cpu_times()
            rss = int(self._process.memory_info().rss)
        return DecoderUsage(times.user + times.system, rss, _peak_rss(self._popen.pid))

    def trace_rss(self, every_s: float = 1.0) -> None:
        """Record the resident memory now, unless the last record is under ``every_s`` old."""
        now = time.monotonic()
        if self._rss_trace and now - self._rss_trace[-1][0] < every_s:
            return
        if self.alive():
            self._rss_trace.append((now, int(self._process.memory_info().rss)))

    def rss_slope_mib_per_min(self) -> float | None:
        """Growth of resident memory over the second half of the trace (least squares), MiB/min.

        Start-up allocation settles in the first half; a leak keeps the second half rising.
        ``None`` with fewer than 10 records.
        """
        if len(self._rss_trace) < 10:
            return None
        half = np.asarray(self._rss_trace[len(self._rss_trace) // 2 :], dtype=np.float64)
        slope_bytes_per_s = np.polyfit(half[:, 0], half[:, 1], 1)[0]
        return float(slope_bytes_per_s * 60 / 2**20)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines the decoder printed."""
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout_s: float = 30.0) -> int:
        """Send SIGINT (a clean shutdown that writes the summary), kill after ``timeout_s``."""
        if self.alive():
            self._popen.send_signal(signal.SIGINT)
            try:
                self._popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(timeout=10.0)
        self._log.close()
        return int(self._popen.returncode)

    def summary(self) -> dict[str, Any]:
        """The decoder's own end-of-run summary (``--summary-json``)."""
        if not self.summary_path.is_file():
            raise BenchError(
                f"the decoder wrote no summary at {self.summary_path}; its log ends with:\n"
                f"{self.log_tail()}"
            )
        return dict(json.loads(self.summary_path.read_text()))


def _peak_rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None

"""LSL inlet source: any numeric LSL stream, its channel labels taken as neuron labels.

LSL has no sequence numbers: frames are numbered from their time stamps, or from a
frame-counter channel named by ``?counter=LABEL`` (:mod:`rtdecode.stream._lsl_numbering`), so
that lost frames show as gaps, as in ZeroMQ.

An outlet that goes away is looked for again by name. When it comes back with the same
non-empty ``source_id`` and channel count, numbering goes on (frames lost while it was away
are counted from the time stamps); any other outlet of that name is a new stream: counted as a
restart, the window and preprocessing start afresh.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rtdecode.errors import SourceError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream._address import Address
from rtdecode.stream._lsl_common import channel_labels, pylsl
from rtdecode.stream._lsl_numbering import CounterNumbers, FrameNumbers
from rtdecode.stream._source import Chunk, Source

__all__ = ["LslSource"]

_log = get_logger(__name__)
_waiting_log = RateLimitedLog(_log, interval_s=30.0)
_NUMPY_TYPES = {1: np.float32, 2: np.float64, 4: np.int32, 5: np.int16, 6: np.int8, 7: np.int64}
_OFFSET_EVERY_S = 5.0
_WAIT_WARN_S = 10.0  # away longer than this: a reminder every 30 s
_RESOLVE_SLICE_S = 0.05  # the look-up polls its resolver this often (and sees interrupt())
_OPEN_TIMEOUT_S = 10.0  # opening a found outlet, when the look-up has no limit


class LslSource(Source):
    """Receive frames from an LSL outlet found by name.

    Parameters
    ----------
    address
        Parsed ``lsl://NAME`` address (``?dejitter`` smooths the time stamps).
    resolve_timeout
        Seconds to look for the stream at start before giving up; negative: until it appears
        (or :meth:`interrupt`).
    max_chunk
        Largest number of samples taken in one read.
    max_hole_s
        A hole in the time stamps longer than this is a restart, not lost frames.

    Attributes
    ----------
    restarts
        Times a different outlet (another ``source_id``, channel count, or none) took over.
    losses
        Times the outlet went away (each time it is looked for again by name).
    lost_frames
        Frames lost, from the time stamps or the counter (also the window's gaps).
    dropped_on_loss
        Frames liblsl had received but not yet handed over when the outlet went away: it
        drops them. When the same outlet comes back, they are inside the hole counted in
        ``lost_frames`` too.
    clock_offset_s
        Latest LSL clock correction: the outlet host's clock minus this one (s); already
        applied to the time stamps.

    Notes
    -----
    Times are LSL time stamps on this machine's LSL clock (clock-corrected). Samples are
    pulled into a preallocated buffer; the chunk's arrays are reused by the next :meth:`read`.
    """

    def __init__(
        self,
        address: Address,
        resolve_timeout: float = 10.0,
        max_chunk: int = 1024,
        max_hole_s: float = 3600.0,
    ):
        super().__init__()
        self.uri = address.uri
        self._name = address.target
        self._resolve_timeout = resolve_timeout
        self._max_chunk = max_chunk
        self._counter_label = address.counter
        self._counter: int | None = None  # column of the counter channel
        self._numbers: FrameNumbers | CounterNumbers = (
            FrameNumbers(address.dejitter, max_hole_s)
            if address.counter is None
            else CounterNumbers()
        )
        self._inlet: Any = None
        self._resolver: Any = None
        self._started = False
        self._identity: tuple[str, int] | None = None
        self._labels: tuple[str | None, ...] | None = None
        self._raw: np.ndarray = np.zeros(0)
        self._data: np.ndarray = np.zeros((0, 0), np.float32)
        self._stamps = np.zeros(max_chunk, np.float64)
        self._counts = np.zeros(max_chunk, np.float64)
        self._times = np.zeros(max_chunk, np.float64)
        self._lo = self._hi = 0
        self._recv_ns = 0
        self._lost_at = 0.0
        self._next_offset = 0.0
        self.restarts = 0
        self.losses = 0
        self.dropped_on_loss = 0
        self.clock_offset_s: float | None = None

    # ------------------------------------------------------------------ connection
    def start(self) -> None:
        """Resolve the stream by name and open an inlet."""
        found = self._resolve()
        self._started = True
        if found is not None:
            timeout = self._resolve_timeout if self._resolve_timeout > 0 else _OPEN_TIMEOUT_S
            self._open(found, timeout)

    def _resolve(self) -> Any:
        """Look for the stream by name (liblsl's continuous resolver, polled), so that
        :meth:`interrupt` ends the look-up within a slice; ``None`` when interrupted."""
        lsl = pylsl(f"reading LSL stream '{self._name}'")
        limit = self._resolve_timeout
        resolver = lsl.ContinuousResolver(prop="name", value=self._name)
        began = time.monotonic()
        while not self.interrupted:
            found = resolver.results()
            if found:
                return max(found, key=lambda info: info.created_at())
            waited = time.monotonic() - began
            if 0 <= limit <= waited:
                raise SourceError(
                    f"no LSL stream named '{self._name}' found within {limit:g} s; is its "
                    "outlet running on this network (or on this machine, see LSLAPICFG)? A "
                    "negative --resolve-timeout waits until it appears"
                )
            if waited > _WAIT_WARN_S:
                _waiting_log.warning(
                    f"lsl-resolve:{self._name}",
                    f"no LSL stream named '{self._name}' yet after {waited:.0f} s; still looking",
                )
            time.sleep(_RESOLVE_SLICE_S if limit < 0 else min(_RESOLVE_SLICE_S, limit - waited))
        _log.info("look-up of LSL stream '%s' interrupted", self._name)
        return None

    def _open(self, found: Any, timeout: float) -> None:
        """Open an inlet on ``found``; on a reconnect, decide whether it is the same stream."""
        lsl = pylsl("reading LSL")
        fmt = found.channel_format()
        if fmt not in _NUMPY_TYPES:
            raise SourceError(
                f"LSL stream '{self._name}' carries channel format {fmt} (strings?); "
                "rtdecode reads numeric streams only"
            )
        # recover=False: a lost outlet raises LostError at once, and is looked for by name.
        # With liblsl's own recovery, pull_chunk(timeout=0.5) blocked for over 20 s once the
        # outlet was gone (pylsl 1.18), and it only ever looks for the same source_id.
        inlet = lsl.StreamInlet(
            found, max_buflen=60, recover=False, processing_flags=lsl.proc_clocksync
        )
        info = inlet.info(timeout=timeout)
        inlet.open_stream(timeout=timeout)
        n = info.channel_count()
        identity = (info.source_id(), n)
        srate = info.nominal_srate()
        labels, counter = self._split_counter(channel_labels(info))
        if self._identity is not None:
            same = bool(identity[0]) and identity == self._identity
            if same:
                _log.warning(
                    "LSL stream '%s' is back (source_id '%s'); frames lost while it was away "
                    "are counted",
                    self._name,
                    identity[0],
                )
            else:
                self.restarts += 1
                self._numbers.restart()
                _log.warning(
                    "LSL stream '%s' came back as another outlet (source_id '%s', %d channels; "
                    "was '%s', %d): counted as a restart, window and preprocessing reset",
                    self._name,
                    identity[0],
                    n,
                    *self._identity,
                )
        self._identity = identity
        self._labels, self._counter = labels, counter
        self._raw = np.zeros((self._max_chunk, n), dtype=_NUMPY_TYPES[fmt])
        copy = fmt != 1 or counter is not None
        n_data = n - (counter is not None)
        self._data = np.zeros((self._max_chunk, n_data), np.float32) if copy else self._raw
        self._numbers.set_rate(srate)
        self._inlet = inlet
        self._refresh_clock_offset(timeout)
        _log.info(
            "LSL stream '%s': %d channels at %g Hz, labels %s, clock offset %s s",
            self._name,
            n,
            srate,
            bool(self._labels),
            self.clock_offset_s,
        )

    @property
    def labels(self) -> tuple[str | None, ...] | None:
        """The stream's channel labels (known once started; ``None`` when it has none)."""
        return self._labels

    def _split_counter(
        self, labels: tuple[str | None, ...] | None
    ) -> tuple[tuple[str | None, ...] | None, int | None]:
        """The neuron labels, and the column of the ``?counter=`` channel (``None``: none)."""
        name = self._counter_label
        if name is None:
            return labels, None
        if labels is None or name not in labels:
            raise SourceError(
                f"LSL stream '{self._name}' has no channel labelled '{name}' (asked for by "
                f"?counter=); its labels: {labels}"
            )
        column = labels.index(name)
        rest = labels[:column] + labels[column + 1 :]
        return (None if all(label is None for label in rest) else rest), column

    def _lost(self) -> None:
        """Close the lost inlet, counting the samples liblsl held for us and now drops."""
        # liblsl drops the samples it had received but not yet handed over, and adds one
        # end marker to the count (measured with pylsl 1.18: n queued -> n + 1 available).
        dropped = max(0, int(self._inlet.samples_available()) - 1)
        self.dropped_on_loss += dropped
        self._inlet.close_stream()
        self._inlet = None
        self._lost_at = time.monotonic()
        self.losses += 1
        _log.warning(
            "LSL stream '%s' was lost (%d frames received but not yet decoded were dropped "
            "with it); looking for it by name",
            self._name,
            dropped,
        )

    def _reconnect(self, timeout: float) -> bool:
        """Look for the stream again without blocking; open the newest outlet found."""
        lsl = pylsl("reading LSL")
        if self._resolver is None:
            self._resolver = lsl.ContinuousResolver(prop="name", value=self._name)
        found = self._resolver.results()
        if found:
            newest = max(found, key=lambda info: info.created_at())
            try:
                self._open(newest, min(self._resolve_timeout, 5.0))
            except (SourceError, TimeoutError, lsl.util.LostError) as exc:
                _waiting_log.warning(f"lsl-open:{self._name}", f"LSL stream '{self._name}': {exc}")
            else:
                self._resolver = None
                return True
        away_s = time.monotonic() - self._lost_at
        if away_s > _WAIT_WARN_S:
            _waiting_log.warning(
                f"lsl-wait:{self._name}",
                f"LSL stream '{self._name}' away for {away_s:.0f} s; still looking for it",
            )
        time.sleep(timeout)
        return False

    # ------------------------------------------------------------------ frames
    def read(self, timeout: float) -> Chunk | None:
        """Return the samples that arrived (at least one), or ``None`` after ``timeout`` s.

        Frames on both sides of a hole or a restart come in separate chunks.
        """
        if not self._started:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        if self._identity is None:  # interrupted before the stream was found
            return None
        if self._lo < self._hi:
            return self._number()
        if self._inlet is None and not self._reconnect(timeout):
            return None
        lsl = pylsl("reading LSL")
        try:
            _, stamps = self._inlet.pull_chunk(
                timeout=timeout,
                max_samples=self._max_chunk,
                dest_obj=self._raw,
                min_samples=1,
                as_numpy=True,
            )
        except lsl.util.LostError:
            self._lost()
            return None
        self._recv_ns = time.perf_counter_ns()
        k = len(stamps)
        if k == 0:
            return None
        c = self._counter
        if c is not None:  # the counter numbers the frames; it is no neuron
            np.copyto(self._data[:k, :c], self._raw[:k, :c], casting="unsafe")
            np.copyto(self._data[:k, c:], self._raw[:k, c + 1 :], casting="unsafe")
            self._counts[:k] = self._raw[:k, c]
        elif self._data is not self._raw:
            np.copyto(self._data[:k], self._raw[:k], casting="unsafe")
        self._stamps[:k] = stamps
        self._lo, self._hi = 0, k
        if time.monotonic() >= self._next_offset:
            self._refresh_clock_offset(0.1)
        return self._number()

    def _refresh_clock_offset(self, timeout: float) -> None:
        """Read liblsl's latest clock correction (it re-measures it every few seconds)."""
        self._next_offset = time.monotonic() + _OFFSET_EVERY_S
        try:
            self.clock_offset_s = float(self._inlet.time_correction(timeout=timeout))
        except (TimeoutError, pylsl("reading LSL").util.LostError):
            pass  # no fresh estimate: keep the last one (a loss shows at the next pull)

    def _number(self) -> Chunk:
        """Number the pending samples up to the first hole; the rest wait for the next read."""
        numbers, stamps = self._numbers, self._stamps
        keys = stamps if self._counter is None else self._counts
        lo, hi = self._lo, self._hi
        first = numbers.seq_of(float(keys[lo]))
        end = lo
        seq = first
        while True:
            lost, self._times[end] = numbers.accept(seq, float(stamps[end]))
            if lost:
                _waiting_log.warning(
                    f"lsl-hole:{self._name}",
                    f"LSL stream '{self._name}': {lost} frames missing before t={stamps[end]:.3f}",
                )
            end += 1
            if end == hi:
                break
            seq = numbers.seq_of(float(keys[end]))
            if seq != numbers.next_seq:
                break
        self._lo = end
        return Chunk(self._data[lo:end], first, self._times[lo:end], self._recv_ns, self._labels)

    @property
    def finished(self) -> bool:
        """True when :meth:`interrupt` ended the first look-up: there is nothing to read."""
        return self._started and self._identity is None

    @property
    def lost_frames(self) -> int:
        """Frames lost, from the time stamps or the counter."""
        return self._numbers.lost

    def stats(self) -> dict[str, Any]:
        """LSL health: restarts, losses, frames lost or dropped, and the clock offset."""
        return {
            "lsl_restarts": self.restarts,
            "lsl_losses": self.losses,
            "lsl_lost_frames": self.lost_frames,
            "lsl_dropped_on_loss": self.dropped_on_loss,
            "clock_offset_s": self.clock_offset_s,
        }

    def stop(self) -> None:
        """Close the inlet."""
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None
        self._resolver = None
        self._started = False

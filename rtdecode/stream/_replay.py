"""Replay: a recording played as a live stream (the fake microscope), with optional faults."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from rtdecode.data import Recording
from rtdecode.errors import ConfigError
from rtdecode.stream._protocol import BEHAVIOR_FIELDS
from rtdecode.stream._source import Chunk, Source

__all__ = ["Faults", "ReplaySource"]


@dataclass(frozen=True)
class Faults:
    """Faults a replay injects, as a real rig might produce them.

    Parameters
    ----------
    drop
        Probability that a frame is lost (its ``seq`` is skipped).
    jitter_s
        Standard deviation of random delay added to each frame's delivery, in wall seconds.
    nan
        Probability that any one value is NaN (a neuron missing in that frame).
    burst_every, burst_size
        Every ``burst_every`` frames, ``burst_size`` frames are held back and delivered at
        once (0 = no bursts).
    seed
        Random seed, so a faulty replay can be repeated exactly.
    """

    drop: float = 0.0
    jitter_s: float = 0.0
    nan: float = 0.0
    burst_every: int = 0
    burst_size: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "nan"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ConfigError(f"faults.{name} is a probability in [0, 1), got {value}")
        if not self.jitter_s >= 0.0:
            raise ConfigError(f"faults.jitter_s must be >= 0 seconds, got {self.jitter_s}")
        if self.burst_every < 0 or self.burst_size < 0 or self.burst_size > self.burst_every:
            raise ConfigError(
                f"faults.burst_size ({self.burst_size}) must be between 0 and "
                f"faults.burst_every ({self.burst_every})"
            )


class ReplaySource(Source):
    """Play a :class:`~rtdecode.data.Recording` frame by frame at its own timing.

    Parameters
    ----------
    recording
        What to play.
    speed
        Playback speed: 1 is real time, 10 ten times faster, ``math.inf`` as fast as read.
    loop
        Start again at the end, forever (``seq`` and time keep increasing).
    faults
        Faults to inject (none by default).

    Attributes
    ----------
    behavior_fields
        The tracked behaviour the recording has, of ``BEHAVIOR_FIELDS`` (velocity in mm/s,
        reversal 0/1); :meth:`behavior_at` gives its values at a frame.

    Notes
    -----
    Frame times (``Chunk.t``) are the recording's acquisition times, whatever the speed, so
    the decoder sees the same data as at real time. The chunk's arrays are reused by the next
    :meth:`read`.
    """

    lossless = True

    def __init__(
        self,
        recording: Recording,
        speed: float = 1.0,
        loop: bool = False,
        faults: Faults | None = None,
    ) -> None:
        super().__init__()
        if not speed > 0:
            raise ConfigError(f"replay speed must be > 0 (1 = real time), got {speed}")
        self.uri = f"replay:{recording.id}"
        self.recording = recording
        self.speed = speed
        self.loop = loop
        self.faults = faults or Faults()
        self.labels = None if recording.n_labelled == 0 else recording.labels
        interval = recording.frame_interval
        self._period = (
            recording.timestamps[-1]
            - recording.timestamps[0]
            + (interval if math.isfinite(interval) else 1.0)
        )
        self._buffer = np.zeros((1, recording.n_neurons), np.float32)
        self._rng = np.random.default_rng(self.faults.seed)
        self._index = 0  # frames emitted or dropped so far, over all loops
        self._start = 0.0
        self._jitter_index = -1
        self._jitter = 0.0
        self.dropped = 0
        fields = [name for name in BEHAVIOR_FIELDS if getattr(recording, name) is not None]
        self.behavior_fields = tuple(fields)
        self._behavior = np.zeros((recording.n_frames, len(fields)), np.float32)
        for j, name in enumerate(fields):
            self._behavior[:, j] = getattr(recording, name)

    def behavior_at(self, seq: int) -> np.ndarray:
        """The recording's behaviour at frame ``seq`` (values of :attr:`behavior_fields`)."""
        return self._behavior[seq % self.recording.n_frames]

    @property
    def finished(self) -> bool:
        """True once a non-looping replay has played every frame."""
        return not self.loop and self._index >= self.recording.n_frames

    def start(self) -> None:
        """Start the clock: frame 0 is due now."""
        self._start = time.monotonic()
        self._index = 0

    def _time(self, index: int) -> float:
        loops, i = divmod(index, self.recording.n_frames)
        return (
            float(self.recording.timestamps[i] - self.recording.timestamps[0])
            + loops * self._period
        )

    def _due(self, index: int) -> float:
        every, size = self.faults.burst_every, self.faults.burst_size
        if every and size and index % every < size:  # held back until the burst's last frame
            index = index - index % every + size - 1
        if math.isinf(self.speed):
            return self._start
        return self._start + self._time(index) / self.speed

    def read(self, timeout: float) -> Chunk | None:
        """Wait for the next frame's due time (up to ``timeout`` s) and return it."""
        while not self.finished and self.faults.drop and self._rng.random() < self.faults.drop:
            self._index += 1
            self.dropped += 1
        if self.finished:
            return None
        if self._jitter_index != self._index:  # one delay per frame, however many reads wait
            self._jitter_index = self._index
            self._jitter = (
                abs(self._rng.normal(0.0, self.faults.jitter_s)) if self.faults.jitter_s else 0.0
            )
        due = self._due(self._index) + self._jitter
        wait = due - time.monotonic()
        if wait > timeout:
            time.sleep(max(timeout, 0.0))
            return None
        if wait > 0:
            time.sleep(wait)
        index = self._index
        self._index += 1
        i = index % self.recording.n_frames
        frame = self._buffer
        frame[0] = self.recording.traces[i]
        if self.faults.nan:
            frame[0, self._rng.random(frame.shape[1]) < self.faults.nan] = np.nan
        t0 = float(self.recording.timestamps[0])
        t = np.array([t0 + self._time(index)])
        return Chunk(frame, index, t, time.perf_counter_ns(), self.labels)

    def stop(self) -> None:
        """Nothing to release."""

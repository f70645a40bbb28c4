"""LSL inlet source: any numeric LSL stream, its channel labels taken as neuron labels."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rtdecode.errors import SourceError
from rtdecode.log import get_logger
from rtdecode.stream._address import Address
from rtdecode.stream._lsl_common import channel_labels, pylsl
from rtdecode.stream._source import Chunk, Source

__all__ = ["LslSource"]

_log = get_logger(__name__)
_NUMPY_TYPES = {1: np.float32, 2: np.float64, 4: np.int32, 5: np.int16, 6: np.int8, 7: np.int64}


class LslSource(Source):
    """Receive frames from an LSL outlet found by name.

    Parameters
    ----------
    address
        Parsed ``lsl://NAME`` address.
    resolve_timeout
        Seconds to look for the stream before giving up.
    max_chunk
        Largest number of samples taken in one read.

    Notes
    -----
    LSL has no sequence numbers: frames are numbered as they arrive, so losses inside LSL
    are not seen as gaps. Times are the LSL time stamps (seconds). Samples are pulled into a
    preallocated buffer; the chunk's arrays are reused by the next :meth:`read`.
    """

    def __init__(self, address: Address, resolve_timeout: float = 10.0, max_chunk: int = 1024):
        super().__init__()
        self.uri = address.uri
        self._name = address.target
        self._resolve_timeout = resolve_timeout
        self._max_chunk = max_chunk
        self._inlet: Any = None
        self._seq = 0
        self._labels: tuple[str | None, ...] | None = None
        self._raw: np.ndarray = np.zeros(0)
        self._data: np.ndarray = np.zeros((0, 0), np.float32)

    def start(self) -> None:
        """Resolve the stream by name and open an inlet."""
        lsl = pylsl(f"reading LSL stream '{self._name}'")
        found = lsl.resolve_byprop("name", self._name, minimum=1, timeout=self._resolve_timeout)
        if not found:
            raise SourceError(
                f"no LSL stream named '{self._name}' found within {self._resolve_timeout:g} s; "
                "is its outlet running on this network (or on this machine, see LSLAPICFG)?"
            )
        fmt = found[0].channel_format()
        if fmt not in _NUMPY_TYPES:
            raise SourceError(
                f"LSL stream '{self._name}' carries channel format {fmt} (strings?); "
                "rtdecode reads numeric streams only"
            )
        inlet = lsl.StreamInlet(found[0], max_buflen=60, recover=True)
        info = inlet.info(timeout=self._resolve_timeout)
        self._labels = channel_labels(info)
        n = info.channel_count()
        self._raw = np.zeros((self._max_chunk, n), dtype=_NUMPY_TYPES[fmt])
        self._data = self._raw if fmt == 1 else np.zeros((self._max_chunk, n), np.float32)
        inlet.open_stream(timeout=self._resolve_timeout)
        self._inlet = inlet
        _log.info("LSL stream '%s': %d channels, labels %s", self._name, n, bool(self._labels))

    @property
    def labels(self) -> tuple[str | None, ...] | None:
        """The stream's channel labels (known once started; ``None`` when it has none)."""
        return self._labels

    def read(self, timeout: float) -> Chunk | None:
        """Return the samples that arrived (at least one), or ``None`` after ``timeout`` s."""
        if self._inlet is None:
            raise SourceError(f"source '{self.uri}' is not started; call start() first")
        lost_error = pylsl("reading LSL").util.LostError
        try:
            _, stamps = self._inlet.pull_chunk(
                timeout=timeout,
                max_samples=self._max_chunk,
                dest_obj=self._raw,
                min_samples=1,
                as_numpy=True,
            )
        except lost_error:
            _log.warning("LSL stream '%s' was lost; waiting for it to come back", self._name)
            time.sleep(min(timeout, 0.1))
            return None
        recv_ns = time.perf_counter_ns()
        k = len(stamps)
        if k == 0:
            return None
        if self._data is not self._raw:
            np.copyto(self._data[:k], self._raw[:k], casting="unsafe")
        seq = self._seq
        self._seq += k
        return Chunk(self._data[:k], seq, np.asarray(stamps, np.float64), recv_ns, self._labels)

    def stop(self) -> None:
        """Close the inlet."""
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None

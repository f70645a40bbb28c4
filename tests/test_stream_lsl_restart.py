"""LSL outlets that go away and come back, holes in the time stamps, the clock offset.

Real outlets and inlets, resolved on this machine only (see stream_support.use_local_lsl).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stream_support import WindowMeanEngine, live_session

from rtdecode.cli._report import format_summary
from rtdecode.errors import SourceError
from rtdecode.stream import Source, open_source
from rtdecode.stream._lsl_common import set_channel_labels

pylsl = pytest.importorskip("pylsl")
pytestmark = pytest.mark.lsl

RATE = 100.0


def _outlet(name: str, source_id: str, n: int = 3) -> Any:
    info = pylsl.StreamInfo(name, "Calcium", n, RATE, pylsl.cf_float32, source_id)
    return pylsl.StreamOutlet(info)


def _push(outlet: Any, frames: Iterable[int], t0: float, n: int = 3) -> None:
    """Push frames numbered ``frames`` stamped ``t0 + i / RATE``; channel 0 holds ``i``."""
    assert outlet.wait_for_consumers(20), "the source's inlet never connected"
    for i in frames:
        outlet.push_sample([float(i)] + [0.0] * (n - 1), t0 + i / RATE)


def _reconnect(source: Source, outlet: Any) -> None:
    """Keep reading (as the decoder does) until the source has found ``outlet``."""
    deadline = time.monotonic() + 20
    while not outlet.have_consumers():
        assert time.monotonic() < deadline, "the source did not find the new outlet"
        assert source.read(0.05) is None


def _read(source: Source, count: int, timeout_s: float = 20.0) -> tuple[list[int], np.ndarray]:
    """Read ``count`` frames: their sequence numbers and their channel-0 values."""
    seqs: list[int] = []
    values: list[float] = []
    deadline = time.monotonic() + timeout_s
    while len(seqs) < count:
        assert time.monotonic() < deadline, f"only {len(seqs)} of {count} frames arrived"
        chunk = source.read(0.05)
        if chunk is not None:
            seqs.extend(chunk.seq + i for i in range(chunk.n_frames))
            values.extend(chunk.data[:, 0])
    return seqs, np.array(values)


@pytest.fixture
def name() -> str:
    return f"rtdecode-restart-{uuid.uuid4().hex[:8]}"


def test_frames_lost_while_the_outlet_was_away_are_counted(name: str) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        t0 = pylsl.local_clock()
        _push(outlet, range(50), t0)
        seqs, values = _read(source, 50)
        del outlet  # the acquisition program stops; the microscope does not
        assert source.read(0.2) is None
        outlet = _outlet(name, "scope-1")  # back, same source: frames 50..79 never sent
        _reconnect(source, outlet)
        _push(outlet, range(80, 130), t0)
        seqs, values = _read(source, 50)
        assert seqs == list(range(80, 130)), "numbering skips the frames lost while away"
        np.testing.assert_array_equal(values, np.arange(80, 130))
        assert source.stats()["lsl_lost_frames"] == 30
        assert source.stats()["lsl_restarts"] == 0 and source.stats()["lsl_losses"] == 1
    finally:
        source.stop()


def test_frames_still_queued_when_the_outlet_goes_are_counted(name: str) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        _push(outlet, range(100), pylsl.local_clock())
        time.sleep(0.3)  # all queued in the inlet; the decoder is busy elsewhere
        del outlet
        time.sleep(0.3)
        assert source.read(0.1) is None, "liblsl drops what it held when the outlet goes"
        assert source.stats()["lsl_dropped_on_loss"] == 100
    finally:
        source.stop()


def test_a_hole_inside_one_stream_is_counted_and_splits_the_chunk(name: str) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        t0 = pylsl.local_clock()
        _push(outlet, [*range(20), *range(27, 40)], t0)
        time.sleep(0.3)  # all in the inlet's buffer: one pull takes both sides of the hole
        chunk = source.read(1.0)
        assert chunk is not None and (chunk.seq, chunk.n_frames) == (0, 20)
        chunk = source.read(1.0)
        assert chunk is not None and (chunk.seq, chunk.n_frames) == (27, 13)
        assert source.stats()["lsl_lost_frames"] == 7
    finally:
        source.stop()


def test_time_stamp_jitter_is_not_taken_for_loss(name: str) -> None:
    """Stamps off by up to 0.4 of an interval either way: no frame is counted lost."""
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        t0 = pylsl.local_clock()
        jitter = np.random.default_rng(0).uniform(-0.4, 0.4, 3000) / RATE
        assert outlet.wait_for_consumers(20)
        for i in range(3000):
            outlet.push_sample([float(i), 0.0, 0.0], t0 + i / RATE + jitter[i])
        seqs, _ = _read(source, 3000)
        assert seqs == list(range(3000)) and source.stats()["lsl_lost_frames"] == 0
    finally:
        source.stop()


def test_dejitter_smooths_time_stamps_without_hiding_a_hole(name: str) -> None:
    source = open_source(f"lsl://{name}?dejitter", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        t0 = pylsl.local_clock()
        jitter = np.random.default_rng(1).uniform(-0.3, 0.3, 400) / RATE
        kept = [i for i in range(400) if not 200 <= i < 230]
        assert outlet.wait_for_consumers(20)
        for i in kept:
            outlet.push_sample([float(i), 0.0, 0.0], t0 + i / RATE + jitter[i])
        times: list[float] = []
        seqs: list[int] = []
        while len(seqs) < len(kept):
            chunk = source.read(5.0)
            assert chunk is not None
            seqs.extend(chunk.seq + i for i in range(chunk.n_frames))
            times.extend(chunk.t)
        assert seqs == kept and source.stats()["lsl_lost_frames"] == 30
        late = np.array(times[50:]) - (t0 + np.array(kept[50:]) / RATE)
        assert np.abs(late).max() < 0.1 / RATE, "fitted times are within 10% of an interval"
        assert np.abs(jitter[kept[50:]]).max() > 0.25 / RATE, "the raw stamps were not"
    finally:
        source.stop()


def test_an_outlet_back_with_another_source_id_is_a_restart(name: str) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        t0 = pylsl.local_clock()
        _push(outlet, range(30), t0)
        _read(source, 30)
        del outlet
        assert source.read(0.2) is None
        outlet = _outlet(name, "scope-2")
        _reconnect(source, outlet)
        _push(outlet, range(1000, 1010), t0)
        seqs, values = _read(source, 10)
        assert seqs == list(range(10)), "numbering starts again: the window resets"
        np.testing.assert_array_equal(values, np.arange(1000, 1010))
        stats = source.stats()
        assert (stats["lsl_restarts"], stats["lsl_lost_frames"]) == (1, 0)
    finally:
        source.stop()


def test_an_outlet_back_with_another_channel_count_resets_the_layout(name: str) -> None:
    engine = WindowMeanEngine(window=4)
    session = live_session(
        open_source(f"lsl://{name}", resolve_timeout=20), engine, [], max_frames=60, max_batch=1
    )
    outlet = _outlet(name, "scope-1", n=3)
    result: dict[str, Any] = {}
    decoder = threading.Thread(target=lambda: result.update(session.run()))
    decoder.start()
    try:
        t0 = pylsl.local_clock()
        _push(outlet, range(30), t0, n=3)
        deadline = time.monotonic() + 20
        while session.streams[0].frames < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        del outlet
        outlet = _outlet(name, "scope-1", n=5)  # same source_id, other layout
        _push(outlet, range(30, 60), t0, n=5)
        decoder.join(30)
    finally:
        session.stop()
        decoder.join(10)
    assert result["frames"] == 60
    counts = [n for n, _, _ in engine.prepared]
    assert counts[0] == 3 and counts[-1] == 5 and set(counts) == {3, 5}
    assert result["resets"] == 1 and result["source_stats"]["lsl_restarts"] == 1
    assert result["predictions"] == 60 - 2 * 3, "each layout fills its own window"
    printed = format_summary(result)
    assert "lsl restarts 1" in printed and "clock offset s" in printed


def test_an_outlet_back_without_source_id_is_found_without_a_warning_storm(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "")
    source.start()
    try:
        t0 = pylsl.local_clock()
        _push(outlet, range(20), t0)
        _read(source, 20)
        with caplog.at_level(logging.WARNING, logger="rtdecode"):
            del outlet
            away_until = time.monotonic() + 2.0
            while time.monotonic() < away_until:  # the decoder's loop: 20 reads a second
                assert source.read(0.05) is None
            away = [r for r in caplog.records if r.name.startswith("rtdecode")]
            assert len(away) == 1, [r.getMessage() for r in away]
            outlet = _outlet(name, "")
            _reconnect(source, outlet)
            _push(outlet, range(20, 30), t0)
            seqs, _ = _read(source, 10)
        assert seqs == list(range(10)) and source.stats()["lsl_restarts"] == 1
    finally:
        source.stop()


def test_the_clock_offset_is_measured(name: str) -> None:
    source = open_source(f"lsl://{name}", resolve_timeout=20)
    outlet = _outlet(name, "scope-1")
    source.start()
    try:
        offset = source.stats()["clock_offset_s"]
        assert isinstance(offset, float) and abs(offset) < 1e-3, "same machine: about 0"
        _push(outlet, range(5), pylsl.local_clock())
        _read(source, 5)
    finally:
        source.stop()


_PRODUCER = """
import sys, time
sys.path.insert(0, {tests!r})
import stream_support  # local-only LSL
import pylsl
name, source_id, t0, start = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
info = pylsl.StreamInfo(name, "Calcium", 3, {rate}, pylsl.cf_float32, source_id)
outlet = pylsl.StreamOutlet(info)
outlet.wait_for_consumers(30)
i = start
while True:  # the microscope's schedule: frame i at t0 + i / rate, until killed
    time.sleep(max(0.0, t0 + i / {rate} - pylsl.local_clock()))
    outlet.push_sample([float(i), 0.0, 0.0], t0 + i / {rate})
    i += 1
"""


def test_a_producer_killed_and_restarted_loses_exactly_the_frames_it_missed(name: str) -> None:
    """kill -9 of the acquisition process; it comes back where the microscope is by then."""
    script = _PRODUCER.format(tests=str(Path(__file__).parent), rate=RATE)
    t0 = pylsl.local_clock()

    def producer(start: int) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", script, name, "scope-1", repr(t0), str(start)]
        return subprocess.Popen(args, stderr=subprocess.DEVNULL)

    first = producer(0)
    source = open_source(f"lsl://{name}", resolve_timeout=30)
    second = None
    try:
        source.start()
        seqs, _ = _read(source, 50)
        first.kill()
        first.wait(10)
        chunk = source.read(0.2)
        while chunk is not None:  # what was in flight before the kill
            seqs.extend(chunk.seq + i for i in range(chunk.n_frames))
            chunk = source.read(0.2)
        time.sleep(0.3)  # away: the microscope goes on
        resume = int(np.ceil((pylsl.local_clock() - t0) * RATE))
        second = producer(resume)
        after, values = _read(source, 20, timeout_s=30)
    finally:
        source.stop()
        for process in (first, second):
            if process is not None:
                process.kill()
                process.wait(10)
    assert seqs == list(range(len(seqs))), "nothing lost before the kill"
    assert after == list(range(resume, resume + len(after))) and int(values[0]) == resume
    assert source.stats()["lsl_lost_frames"] == resume - len(seqs) > 20
    assert source.stats()["lsl_restarts"] == 0


def test_a_counter_channel_numbers_frames_exactly_and_is_no_neuron(name: str) -> None:
    info = pylsl.StreamInfo(name, "Calcium", 4, RATE, pylsl.cf_double64, "scope-1")
    set_channel_labels(info, ["AVA", "frame", "AVB", "RIM"], "a.u.", "Calcium")
    outlet = pylsl.StreamOutlet(info)
    source = open_source(f"lsl://{name}?counter=frame", resolve_timeout=20)
    source.start()
    try:
        assert outlet.wait_for_consumers(20)
        t = pylsl.local_clock()  # one stamp for all: the counter, not the stamps, numbers
        for count in [*range(100, 150), *range(160, 200), *range(5, 10)]:
            outlet.push_sample([0.5, float(count), float(count), 2.0], t)
        first = source.read(5.0)
        assert first is not None and first.labels == ("AVA", "AVB", "RIM")
        np.testing.assert_array_equal(first.data[0], [0.5, 100.0, 2.0])
        seqs = [first.seq + i for i in range(first.n_frames)]
        more, _ = _read(source, 95 - len(seqs))
        assert seqs + more == [*range(50), *range(60, 100), *range(5)], "going back: restart"
        assert source.stats()["lsl_lost_frames"] == 10
    finally:
        source.stop()


def test_a_missing_counter_channel_is_a_clear_error(name: str) -> None:
    outlet = _outlet(name, "scope-1")
    source = open_source(f"lsl://{name}?counter=frame", resolve_timeout=20)
    with pytest.raises(SourceError, match="no channel labelled 'frame'"):
        source.start()
    del outlet

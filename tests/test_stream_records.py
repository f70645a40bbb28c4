"""Session file across block boundaries, and latency percentiles in constant memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import psutil

from rtdecode.latency import LatencyHistogram, percentiles
from rtdecode.stream import FrameTiming, Prediction, SessionFile


def test_session_file_keeps_every_row_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    session = SessionFile(path, {"source": "test"})
    session.open(("forward", "reversal"))
    frames = 5000
    for seq in range(frames):
        recv = 1_000_000 * seq
        decoded = seq % 3 != 0
        prediction = None
        if decoded:
            probs = np.array([1 - seq / frames, seq / frames], np.float32)
            prediction = Prediction(seq, seq * 0.5, probs, int(seq > frames / 2), recv)
            session.publish(prediction)
        session.record_frame(
            FrameTiming(
                seq,
                seq * 0.5,
                -1,
                recv,
                recv + 10,
                recv + 20 if decoded else -1,
                recv + 30 if decoded else -1,
            ),
            prediction,
        )
    session.close({"frames": frames})
    with h5py.File(path) as handle:
        assert handle.attrs["source"] == "test" and json.loads(handle.attrs["summary"]) == {
            "frames": frames
        }
        np.testing.assert_array_equal(handle["frames/seq"][:], np.arange(frames))
        decoded_seqs = [s for s in range(frames) if s % 3]
        np.testing.assert_array_equal(handle["predictions/seq"][:], decoded_seqs)
        np.testing.assert_allclose(handle["predictions/latency_us"][:], 0.03)
        np.testing.assert_allclose(
            handle["predictions/probs"][:, 1], np.array(decoded_seqs) / frames, rtol=1e-6
        )
        assert (handle["frames/published_ns"][:] == -1).sum() == len(range(0, frames, 3))


def test_latency_percentiles_are_within_one_percent() -> None:
    samples = np.random.default_rng(0).lognormal(11, 1.2, 50_000).astype(np.int64)
    histogram = LatencyHistogram()
    for value in samples:
        histogram.record(int(value))
    for q in (50, 99, 99.9):
        exact = percentiles(samples, [q])[0]
        assert exact <= histogram.percentile(q) <= exact * 1.0101
    assert histogram.summary_us()["max"] == round(samples.max() / 1e3, 1)
    assert LatencyHistogram().summary_us()["p99"] is None


def test_session_rows_reach_the_file_while_the_session_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    session = SessionFile(path, flush_every_s=0.0)  # flush after every frame
    session.open(("forward", "reversal"))
    probs = np.array([0.5, 0.5], np.float32)
    for seq in range(3):
        prediction = Prediction(seq, 0.0, probs, 0, 0)
        session.publish(prediction)
        session.record_frame(FrameTiming(seq, 0.0, -1, 0, 1, 2, 3), prediction)
    reader = (  # another process reads while the session still writes
        "import h5py, sys\n"
        "with h5py.File(sys.argv[1], 'r', libver='latest', swmr=True, locking=False) as f:\n"
        "    print(len(f['frames/seq']), len(f['predictions/seq']))\n"
    )
    seen = subprocess.run(
        [sys.executable, "-c", reader, str(path)], capture_output=True, text=True, timeout=60
    )
    session.close()
    assert seen.stdout.split() == ["3", "3"], seen.stderr


def _resident_mib() -> float:
    return int(psutil.Process().memory_info().rss) / 2**20


def test_session_file_memory_does_not_grow_with_the_session(tmp_path: Path) -> None:
    # 200,000 frames (over 3 minutes at 1 kHz) write ~12 MiB to the file; the process must not
    # keep them: HDF5's default chunk cache once held every written chunk.
    session = SessionFile(tmp_path / "long.h5", flush_every_s=3600.0)
    session.open(("forward", "reversal"))
    probs = np.array([0.3, 0.7], np.float32)
    before = 0.0
    for seq in range(200_000):
        if seq == 50_000:
            before = _resident_mib()
        prediction = Prediction(seq, seq * 1e-3, probs, 1, seq) if seq % 4 == 0 else None
        decoded = seq if seq % 4 == 0 else -1
        session.record_frame(
            FrameTiming(seq, seq * 1e-3, seq, seq, seq, decoded, decoded), prediction
        )
    grown = _resident_mib() - before
    session.close()
    assert grown < 3.0, f"resident memory grew {grown:.1f} MiB over 150,000 session rows"

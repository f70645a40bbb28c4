"""``--fused``: issue 17's fused decision decides after self-calibration, live, over ZeroMQ.

The bundled recording with its tracked behaviour is replayed (``rtdecode replay --behavior``) over a
real ZeroMQ socket into a live session built by ``open_session`` from the same configuration
``rtdecode run --calibrate 60 --fused shipped`` makes. When calibration ends the animal's part of
the fused decision (neuron roles, state and onset heads) is fit off the decoding thread and the
fused score decides from then on; the session file and the summary say so, and every live
frame-by-frame fused score equals the offline score of the same decoder on the same frames.
With ``--fuse-behavior`` the fused stack also takes the replayed tracked velocity.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest
from stream_support import free_port

from rtdecode.data import bundled_recording
from rtdecode.live import open_session, resolve_run_config
from rtdecode.preprocess import preprocess_traces
from rtdecode.stream import FrameTiming, Prediction, read_session

pytestmark = pytest.mark.timeout(300)

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 400  # 240 s: 10 s settling, 60 s calibration, the rest decided by the fused score


class _Fused:
    """A tap keeping each fused prediction's sequence number and reversal probability."""

    def __init__(self) -> None:
        self.seq: list[int] = []
        self.p: list[float] = []

    def __call__(self, prediction: Prediction, timing: FrameTiming, target: int | None) -> None:
        if prediction.head == 2:
            self.seq.append(prediction.seq)
            self.p.append(float(prediction.probs[1]))


@pytest.fixture(scope="module", params=[False, True], ids=["neural", "fuse-behavior"])
def session(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("fused")
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    config = resolve_run_config(
        {},
        {
            "source": {"addresses": (uri,), "sinks": (str(folder / "session.h5"),)},
            "decoder": {"fused": "shipped", "max_batch": 1, "max_frames": FRAMES - 60},
            # 60 s of this animal is too little evidence to switch on the rule's defaults (the
            # shipped model saw it in training); a margin of -1 lets the fused decision decide
            "calibration": {"seconds": 60.0, "margin": -1.0},
            "behavior": {"fuse": request.param},
        },
    )
    tap = _Fused()
    live = open_session(config, taps=[tap])
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(summary=live.run()))
    runner.start()
    try:
        subprocess.run(
            [*RTDECODE, "replay", "--to", uri, "--speed", "15", "--behavior",
             "--wait-s", "60", "--max-frames", str(FRAMES)],
            check=True, capture_output=True, timeout=150,
        )  # fmt: skip
    finally:
        runner.join(150)
    assert "summary" in result, "the session did not end"
    calibration = live.streams[0].calibration
    assert calibration is not None and calibration.calibrator is not None
    return {
        "summary": result["summary"],
        "data": read_session(folder / "session.h5"),
        "tap": tap,
        "decoder": calibration.calibrator.fused,
        "fuse": request.param,
    }


def test_the_fused_decision_decides_after_calibration_and_says_so(
    session: dict[str, Any],
) -> None:
    block = session["summary"]["calibration"]
    assert block["fused_predictions"] > 40
    velocity = "fused stack with tracked velocity"
    assert block["fused_part"] == (velocity if session["fuse"] else "its calibrated part")
    data = session["data"]
    heads = data.predictions["head"]
    first = int(np.argmax(heads == 2))
    last = int(np.flatnonzero(heads == 2)[-1])
    assert (heads[first : last + 1] == 2).all()  # from then on, every frame until ...
    assert (heads[:first] != 2).all() and first > 50  # not before calibration ended
    if last < len(heads) - 1:  # ... the watch found the shipped model better, and said so
        assert block["decides"] != "fused" and data.calibration["decides"] != "fused"
        assert block["fused_reason"].startswith("switched back: ")
    else:
        assert block["decides"] == "fused" and data.calibration["decides"] == "fused"
    if session["fuse"]:  # velocity decodes this animal as well as the shipped model: it stays
        assert last == len(heads) - 1


def test_live_fused_scores_equal_the_offline_scores_on_the_same_frames(
    session: dict[str, Any],
) -> None:
    recording = bundled_recording()
    frames = session["data"].frames["seq"]
    first, last = int(frames.min()), int(frames.max())
    traces = recording.traces[first : last + 1].astype(np.float64)
    traces[~np.isin(np.arange(first, last + 1), frames)] = np.nan  # frames lost on the way
    times = recording.timestamps[first : last + 1]
    features, valid = preprocess_traces(traces, times)
    decoder = session["decoder"]  # its default part decides, or the stack with velocity
    assert decoder.fuse_behavior == session["fuse"]
    tap = session["tap"]
    assert len(tap.seq) > 40
    live, at = np.asarray(tap.p), np.asarray(tap.seq) - first
    offline = decoder.recording(features, valid)[:, decoder.decides_at]
    if not session["fuse"]:
        np.testing.assert_allclose(live, offline[at], rtol=1e-5, atol=1e-6)
        return
    assert recording.velocity is not None
    velocity = recording.velocity[first : last + 1]
    with_velocity = decoder.recording(features, valid, velocity)[:, decoder.decides_at]
    near = np.isclose(live, with_velocity[at], rtol=1e-5, atol=1e-6)
    # a frame decoded before its behaviour sample arrived decides on the neural stack alone
    assert np.all(near | np.isclose(live, offline[at], rtol=1e-5, atol=1e-6))
    assert near.mean() > 0.8 and np.mean(with_velocity[at] != offline[at]) > 0.5

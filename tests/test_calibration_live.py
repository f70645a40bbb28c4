"""``rtdecode run --calibrate``: self-calibration live, over real sockets, on the bundled recording.

One replay (``rtdecode replay --behavior``) feeds two decoders at once, so both see the same
frames: one calibrates on the behaviour, the other gets none (its behaviour source is silent)
and keeps the shipped model. The calibrated run's session file then starts a third session
(``--calibration-from``), which also checks that ``--abstain`` sets the decoder's ``uncertain``
output and the trigger policy's band alike.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import zmq
from click.testing import CliRunner
from stream_support import free_port, live_session

from rtdecode.calibration import CalibrationConfig
from rtdecode.cli import cli
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.live import CalibrationSection, StreamProcessor
from rtdecode.stream import Chunk, Prediction, Sink, Source

pytestmark = pytest.mark.timeout(300)

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]
FRAMES = 400  # 240 s of the recording; at 15x, 16 s (11 s for the fit on a busy machine)
CALIBRATE = "60"
BUNDLED = Path(__file__).parents[1] / "rtdecode" / "resources" / "2022-08-02-31.npz"


def _start_run(args: list[str]) -> subprocess.Popen[str]:
    decoder = subprocess.Popen(
        [*RTDECODE, "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert decoder.stderr is not None
    line = decoder.stderr.readline()  # "decoding" once its source and sinks are open
    while line and not line.startswith("decoding"):  # after "loading the model", "Ctrl-C"
        line = decoder.stderr.readline()
    assert line.startswith("decoding"), line
    return decoder


def _replay(uri: str, frames: int, behavior: bool = True) -> None:
    command = [*RTDECODE, "replay", "--to", uri, "--speed", "15", "--max-frames", str(frames)]
    command += ["--wait-s", "60", *(["--behavior"] if behavior else [])]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _finish(decoder: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop a decoder with Ctrl-C once the frames in flight are in; its stdout and stderr."""
    time.sleep(2.0)
    decoder.send_signal(signal.SIGINT)
    out, err = decoder.communicate(timeout=120)
    assert decoder.returncode == 0, err
    return out, err


def _run_args(uri: str, folder: Path, name: str, *extra: str) -> list[str]:
    return [
        "--source",
        uri,
        "--sink",
        str(folder / f"{name}.h5"),
        "--decode-every-frame",
        "--json",
        str(folder / f"{name}.json"),
        *extra,
    ]


def _predictions(path: Path) -> dict[str, Any]:
    with h5py.File(path) as handle:
        table = {name: handle[f"predictions/{name}"][:] for name in handle["predictions"]}
        table["calibration"] = json.loads(handle.attrs["calibration"])
        table["policy"] = json.loads(handle.attrs.get("policy", "null"))
        table["first_t"] = float(handle["frames/t"][0])
    return table


def _session(folder: Path, name: str, *extra: str) -> tuple[str, str]:
    """``rtdecode replay --behavior`` of the first FRAMES frames into ``rtdecode run``."""
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    decoder = _start_run(_run_args(uri, folder, name, *extra))
    try:
        _replay(uri, FRAMES)
        return _finish(decoder)
    finally:
        decoder.kill()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A calibrating decoder, and one on the same frames whose behaviour stream is silent."""
    folder = tmp_path_factory.mktemp("live")
    silent = f"zmq+tcp://127.0.0.1:{free_port()}"  # a behaviour stream that never sends
    outputs = {
        "calib": _session(folder, "calib", "--calibrate", CALIBRATE),
        "blind": _session(folder, "blind", "--calibrate", CALIBRATE, "--behavior-source", silent),
    }
    return {
        "folder": folder,
        "out": outputs,
        **{
            name: {
                "summary": json.loads((folder / f"{name}.json").read_text()),
                "table": _predictions(folder / f"{name}.h5"),
            }
            for name in outputs
        },
    }


def test_sixty_labelled_seconds_keep_the_shipped_model_and_say_why(
    sessions: dict[str, Any],
) -> None:
    # Calibrating on this animal's first 60 s once switched to a head that then decoded at
    # balanced accuracy 0.5: its held-back part had 2 reversal frames. Scored out of sample
    # over the whole period, such a head is surely worse than the shipped model (or the frames
    # are too few): the shipped model stays, and the reason says which.
    summary, table = sessions["calib"]["summary"], sessions["calib"]["table"]
    calibration = summary["calibration"]
    assert calibration["chosen"] == "shipped" and calibration["head_predictions"] == 0
    reason = calibration["reason"]
    assert "too little evidence" in reason or "not surely" in reason, reason
    assert calibration["seconds"] == 60 and calibration["collected_s"] >= 60
    assert calibration["frames"] >= 100
    assert "weights" not in table["calibration"] and not table["head"].any()
    out, err = sessions["out"]["calib"]
    assert f"calibration: head shipped ({reason}" in out
    assert "calibration done after" in err and "the shipped model decodes from now on" in err
    assert re.search(r"calib [1-5]\d/60 s", err)  # the status line, while calibrating
    assert "head shipped (held-back AUROC" in err  # and after


def test_without_enough_evidence_the_predictions_stay_the_shipped_models(
    sessions: dict[str, Any],
) -> None:
    mine, shipped = sessions["calib"]["table"], sessions["blind"]["table"]
    np.testing.assert_array_equal(mine["seq"], shipped["seq"])  # same frames, all decoded
    np.testing.assert_allclose(mine["probs"], shipped["probs"], atol=1e-6)


def test_without_behaviour_nothing_switches_and_it_says_why(sessions: dict[str, Any]) -> None:
    summary, table = sessions["blind"]["summary"], sessions["blind"]["table"]
    calibration = summary["calibration"]
    assert calibration["chosen"] == "shipped" and calibration["head_predictions"] == 0
    assert "no behaviour target" in calibration["reason"]
    assert not table["head"].any() and "weights" not in table["calibration"]
    _, err = sessions["out"]["blind"]
    assert "calib waiting for behaviour" in err


def test_the_default_abstain_band_marks_uncertain_predictions(sessions: dict[str, Any]) -> None:
    table = sessions["blind"]["table"]
    p = table["probs"][:, 1]
    inside = (p > 0.4) & (p < 0.6)
    assert inside.any()
    assert table["uncertain"][inside].all()


def test_an_earlier_session_decodes_from_the_first_frame_with_one_abstain_band(
    sessions: dict[str, Any], tmp_path: Path
) -> None:
    earlier = BUNDLED  # a recording with behaviour: its head is fit on all of it
    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    frames = 100  # 60 s: this session cannot finish its own calibration
    extra = ["--calibrate", CALIBRATE, "--calibration-from", str(earlier)]
    extra += ["--abstain", "0.3,0.7", "--trigger"]
    decoder = _start_run(_run_args(uri, tmp_path, "again", *extra))
    try:
        _replay(uri, frames)
        _finish(decoder)
    finally:
        decoder.kill()
    table = _predictions(tmp_path / "again.h5")
    assert table["head"].all()  # the earlier head, from the first prediction
    shipped = sessions["blind"]["table"]
    same = np.isin(shipped["seq"], table["seq"])
    assert np.median(np.abs(table["probs"][:, 1] - shipped["probs"][same, 1])) > 0.01
    # This session ended before its own calibration: it kept the earlier head, and says so.
    summary = json.loads((tmp_path / "again.json").read_text())["calibration"]
    assert summary["chosen"] == "calibrated" and summary["from"] == str(earlier)
    assert "kept the head from" in summary["reason"]
    assert len(table["calibration"]["weights"]) == 2 * 130 + 1  # the earlier head, kept
    # --abstain: the decoder's uncertain output and the policy's band are the same band.
    assert table["policy"]["abstain"] == [0.3, 0.7]
    p = table["probs"][:, 1]  # healthy input throughout: uncertain is the band alone
    np.testing.assert_array_equal(table["uncertain"], (p > 0.3) & (p < 0.7))


def test_abstain_disagreeing_with_the_policy_file_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("abstain = [0.45, 0.55]\n")
    args = ["run", "--source", f"zmq+tcp://127.0.0.1:{free_port()}", "--trigger", str(policy)]
    result = CliRunner().invoke(cli, [*args, "--abstain", "0.3,0.7"])
    assert result.exit_code != 0 and "one band serves the decoder and the policy" in result.output


def test_calibration_from_a_session_that_kept_the_shipped_model_is_refused(
    sessions: dict[str, Any],
) -> None:
    blind = sessions["folder"] / "blind.h5"
    args = ["run", "--source", f"zmq+tcp://127.0.0.1:{free_port()}"]
    result = CliRunner().invoke(cli, [*args, "--calibration-from", str(blind)])
    assert result.exit_code != 0 and "kept the shipped model" in result.output


class _TwoLayouts(Source):
    """The bundled recording's frames; from frame ``switch`` on only its first 100 neurons (a
    new layout). Frame ``wait_at`` comes once the first layout's calibration fit has finished
    (a real stream keeps coming while the fit runs; this one is faster than life)."""

    uri = "two-layouts"

    def __init__(self, wait_at: int, switch: int, frames: int) -> None:
        super().__init__()
        self.recording = bundled_recording()
        self.wait_at, self.switch, self.frames = wait_at, switch, frames
        self.pipeline: StreamProcessor | None = None
        self._next = 0

    def start(self) -> None:
        self._next = 0

    def read(self, timeout: float) -> Chunk | None:
        i = self._next
        if i >= self.frames:
            return None
        if i == self.wait_at:
            assert self.pipeline is not None and self.pipeline.calibration is not None
            calibrator = self.pipeline.calibration.calibrator
            assert calibrator is not None and calibrator.wait(60) is not None
        self._next += 1
        row = self.recording.traces[i % self.recording.n_frames]
        data = (row if i < self.switch else row[:100])[None, :].astype(np.float32)
        return Chunk(data, i, np.array([0.6 * i]), time.perf_counter_ns())

    def stop(self) -> None:
        self._next = self.frames

    @property
    def finished(self) -> bool:
        return self._next >= self.frames


class _Heads(Sink):
    uri = "memory"

    def __init__(self) -> None:
        self.heads: list[int] = []

    def open(self, states: tuple[str, ...]) -> None:
        pass

    def publish(self, prediction: Prediction) -> None:
        self.heads.append(prediction.head)


def test_a_layout_reset_restarts_calibration_for_the_new_layout() -> None:
    recording = bundled_recording()
    assert recording.reversal is not None
    engine = load_engine()
    switch, frames = 280, 360
    source = _TwoLayouts(240, switch, frames)
    sink = _Heads()
    calibration_config = CalibrationSection(fit=CalibrationConfig(seconds=120.0))
    live = live_session(source, engine, [sink], max_batch=1, calibration=calibration_config)
    stream = live.streams[0]
    assert stream.behavior is not None
    for i in range(recording.n_frames):  # the tracker, sample i at frame i's time
        stream.behavior.add(i, 0.6 * i, float("nan"), float(recording.reversal[i]))
    source.pipeline = stream
    summary = live.run()
    calibration = stream.calibration
    assert calibration is not None
    heads = np.array(sink.heads)
    first = switch - engine.window + 1  # predictions of the first layout
    assert heads[:first].any()  # the first layout switched to its head
    assert not heads[first:].any()  # the new layout starts from the shipped model
    assert summary["resets"] == 1
    block = summary["calibration"]
    assert block["layouts_discarded"] == 1 and block["chosen"] == "shipped"
    assert block["reason"].startswith("session ended after")
    # The new layout calibrates afresh, on 100 neurons.
    assert calibration.calibrator is not None and calibration.calibrator.n_neurons == 100
    assert calibration.calibrator.collecting


def test_one_abstain_band_for_decoder_and_policy() -> None:
    from rtdecode.errors import ConfigError
    from rtdecode.live import resolve_run_config

    config = resolve_run_config({}, {})
    assert config.decoder.abstain == (0.4, 0.6) and config.policy is None  # as rtdecode eval
    config = resolve_run_config({}, {"decoder": {"abstain": (0.3, 0.7)}}, trigger=True)
    assert config.policy is not None
    assert config.decoder.abstain == config.policy.abstain == (0.3, 0.7)
    config = resolve_run_config({"policy": {"abstain": [0.45, 0.55]}}, {})  # the policy's serves
    assert config.policy is not None
    assert config.decoder.abstain == config.policy.abstain == (0.45, 0.55)
    config = resolve_run_config({}, {"decoder": {"abstain": (0.5, 0.5)}}, trigger=True)
    assert config.policy is not None  # LO = HI: no band anywhere
    assert config.decoder.abstain is None and config.policy.abstain is None
    with pytest.raises(ConfigError, match="one band"):
        resolve_run_config(
            {"policy": {"abstain": [0.45, 0.55]}}, {"decoder": {"abstain": (0.3, 0.7)}}
        )


def test_zmq_predictions_say_uncertain_and_which_head() -> None:
    from rtdecode.stream import open_sink, parse_prediction

    uri = f"zmq+tcp://127.0.0.1:{free_port()}"
    sink = open_sink(uri)
    sink.open(("forward", "reversal"))
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.connect(uri.replace("zmq+", ""))
    time.sleep(0.3)  # the subscription reaches the PUB
    probs = np.array([0.45, 0.55], np.float32)
    try:
        sink.publish(Prediction(1, 0.6, probs, 1, time.perf_counter_ns()))
        sink.publish(Prediction(2, 1.2, probs, 1, time.perf_counter_ns(), 0, True, 1))
        assert subscriber.poll(5000)
        plain = parse_prediction(subscriber.recv_multipart())
        assert subscriber.poll(5000)
        marked = parse_prediction(subscriber.recv_multipart())
    finally:
        subscriber.close(linger=0)
        sink.close()
    assert "uncertain" not in plain and "head" not in plain
    assert marked["uncertain"] is True and marked["head"] == 1

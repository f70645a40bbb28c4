"""The view's parts without a browser: tap, feed, state, manifold, the model's edges, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zmq
from stream_support import free_port

from rtdecode.data import bundled_recording
from rtdecode.models import load_model_file
from rtdecode.stream import FrameTiming, Prediction
from rtdecode.trigger import TriggerEvent
from rtdecode.view import FeedPublisher, StreamContext, ViewTap, parse_view
from rtdecode.view._address import check_free, parse_view_address
from rtdecode.view._edges import EdgeModule, top_edges
from rtdecode.view._manifold import IncrementalPCA
from rtdecode.view._ring import ColumnRing
from rtdecode.view._state import StreamState

pytestmark = pytest.mark.timeout(120)

RTDECODE = [sys.executable, "-c", "from rtdecode.cli import main; main()"]


def _timing(seq: int, latency_us: float) -> FrameTiming:
    return FrameTiming(seq, 0.6 * seq, -1, 1_000, 1_000, 1_000, 1_000 + int(latency_us * 1e3))


def _offer(tap: ViewTap, seq: int) -> None:
    """Offer frame ``seq``, whose processor's newest row is ``(5, 3)`` filled with ``seq``."""
    tap.row = lambda: (np.full((5, 3), seq, np.float32), np.ones(5, bool))
    prediction = Prediction(seq, 0.6 * seq, np.array([0.3, 0.7], np.float32), 1, 1_000)
    tap(prediction, _timing(seq, 100.0 + seq), 1)


def test_a_full_tap_drops_the_oldest_and_counts_it() -> None:
    tap = ViewTap(StreamContext("s", ("forward", "reversal")), capacity=4)
    for seq in range(10):
        _offer(tap, seq)
    assert tap.offered == 10 and tap.dropped == 6
    assert [item.seq for item in tap.drain()] == [6, 7, 8, 9]
    assert tap.drain() == []


def test_the_tap_keeps_its_own_copies() -> None:
    tap = ViewTap(StreamContext("s", ("forward", "reversal")))
    probs, row = np.array([0.1, 0.9], np.float32), np.zeros((4, 3), np.float32)
    tap.row = lambda: (row, np.ones(4, bool))
    prediction = Prediction(1, 0.0, probs, 1, 1_000, skipped=2, uncertain=True, head=1)
    tap(prediction, _timing(1, 5.0), None)
    probs[:] = 0
    row[:] = 7
    (item,) = tap.drain()
    assert item.probs.tolist() == pytest.approx([0.1, 0.9]) and not item.features.any()
    assert item.target == -1 and item.uncertain and item.head == 1 and item.skipped == 2
    assert item.latency_us == pytest.approx(5.0)


def test_the_feed_carries_frames_events_behaviour_and_the_summary() -> None:
    context = StreamContext("zmq+tcp://x", ("forward", "reversal"), abstain=(0.4, 0.6))
    tap = ViewTap(context, health=lambda: {"frames": 3, "latency_us": {"total": {"p99": 1.5}}})
    publisher = FeedPublisher([tap], period_s=0.02)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"view")
    sub.connect(publisher.endpoint)
    publisher.start()
    try:
        time.sleep(0.5)  # the subscription reaches the publisher
        for seq in range(3):
            _offer(tap, seq)
        tap.behavior(0, 0.1, -0.05, 1.0)
        tap.trigger(TriggerEvent(2, 1.2, "fire", "", 500.0, 80.0))
        tap.stopped({"frames": 3, "nan": float("nan")})
        batches = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(b.stopped for b in batches):
            if sub.poll(100):
                batches.append(parse_view(sub.recv_multipart()))
    finally:
        publisher.close()
        sub.close()
    frames = [b for b in batches if len(b.probs)]
    assert frames and frames[0].frames["seq"].tolist() == [0, 1, 2]
    assert frames[0].features.shape == (3, 5, 3) and frames[0].features[2, 0, 0] == 2
    assert any(e["kind"] == "fire" and e["seq"] == 2 for b in batches for e in b.events)
    assert any(b.behavior == [[0, 0.1, pytest.approx(-0.05), 1.0]] for b in batches)
    stopped = next(b for b in batches if b.stopped)
    assert stopped.stopped == {"frames": 3, "nan": None}
    assert stopped.context is not None and stopped.context["abstain"] == [0.4, 0.6]


def test_the_state_decimates_fast_streams_but_keeps_every_event() -> None:
    tap = ViewTap(StreamContext("s", ("forward", "reversal"), window=8))
    for seq in range(100):
        _offer(tap, seq)
        if seq % 10 == 0:
            tap.trigger(TriggerEvent(seq, 0.6 * seq, "fire", "", 500.0))
    publisher = FeedPublisher([tap])
    state = StreamState(0, points_per_batch=5, edges=False)
    try:
        for message in _messages(publisher, tap):
            state.ingest(parse_view(message))
    finally:
        publisher.close()
    assert state.trace.total == 5 and state.events_total == 10
    rows, _ = state.trace.since(0)
    assert rows["seq"][-1] == 99  # the newest frame is always shown
    assert state.frames_seen == 100 and state.window_fill == 100


def _messages(publisher: FeedPublisher, tap: ViewTap) -> list[list[bytes]]:
    """Encode what the tap holds as the feed thread would (without sockets)."""
    from rtdecode.view._feed import _encode, _event_json
    from rtdecode.view._tap import FrameSnapshot

    items = tap.drain()
    frames = [i for i in items if isinstance(i, FrameSnapshot)]
    events = [_event_json(i) for i in items if isinstance(i, TriggerEvent)]
    extra = {"events": events, "behavior": [], "context": tap.context.to_json()}
    return [_encode(0, frames, extra)]


def test_the_ring_tells_a_reader_that_fell_behind_to_start_over() -> None:
    ring = ColumnRing(("t",), 4)
    for k in range(6):
        ring.append({"t": k})
    rows, reset = ring.since(1)
    assert reset and rows["t"].tolist() == [2, 3, 4, 5]
    rows, reset = ring.since(4)
    assert not reset and rows["t"].tolist() == [4, 5]


def test_the_manifold_is_fitted_on_past_rows_only() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(200, 6)) * np.array([5, 2, 1, 0.1, 0.1, 0.1])
    pca = IncrementalPCA(6, components=2)
    for row in rows[:100]:
        pca.update(row)
    assert pca.refit()
    early = pca.project(rows[:5])
    reference = np.cov(rows[:100].T)  # the first 100 rows only: nothing later was used
    assert np.allclose(pca._scatter / 99, reference)
    assert abs(pca.components[0] @ np.eye(6)[0]) > 0.95  # type: ignore[index]
    for row in rows[100:]:
        pca.update(row)
    pca.refit()
    later = pca.project(rows[:5])
    assert np.sign(early[:, 0] @ later[:, 0]) > 0  # no sign flip between refits


def test_the_graph_shows_the_networks_own_edges_for_the_window() -> None:
    model = load_model_file(None)
    recording = bundled_recording()
    from rtdecode.preprocess import Preprocessor

    pre = Preprocessor(recording.n_neurons, model.preprocess)
    window = np.zeros((model.window, recording.n_neurons, pre.n_features), np.float32)
    valid = np.zeros((model.window, recording.n_neurons), bool)
    for k in range(model.window):
        pre.update(recording.traces[k], float(recording.timestamps[k]), window[k], valid[k])
    module = EdgeModule(None, model.window, recording.n_neurons, recording.labels,
                        recording.frame_interval)  # fmt: skip
    weights, role = module(window, valid)
    # The same numbers as the network's message passing: its messages are these edges'
    # channel means averaged over the sending neurons (recomputed in training mode, the
    # other code path of the forward pass).
    net = model.build()
    x = torch.from_numpy(module.adapter.x).unsqueeze(0)
    v = torch.from_numpy(module.adapter.valid).unsqueeze(0)
    with torch.enable_grad():
        again = net.edge_weights(x, v, module._ids)[0].detach().numpy()
    assert np.allclose(weights, again, atol=1e-5)
    assert weights.shape == (recording.n_neurons,) * 2 and (weights >= 0).all()
    assert role.shape == (recording.n_neurons,)
    targets, sources, values = top_edges(weights, 40, per_node=4)
    assert len(values) == 40 and (np.diff(values) <= 0).all()
    assert np.bincount(np.r_[targets, sources]).max() <= 4


def test_view_addresses_and_a_port_in_use() -> None:
    assert parse_view_address("5006").loopback
    assert not parse_view_address("0.0.0.0:5006").loopback
    with pytest.raises(Exception, match="give PORT or HOST:PORT"):
        parse_view_address("here")
    with zmq.Context.instance().socket(zmq.REP) as holder:
        port = holder.bind_to_random_port("tcp://127.0.0.1")
        with pytest.raises(Exception, match=f"view port {port} on 127.0.0.1 is in use"):
            check_free(parse_view_address(f"127.0.0.1:{port}"))


@pytest.mark.timeout(300)
def test_the_view_command_names_what_is_missing(tmp_path: Path) -> None:
    nothing = subprocess.run([*RTDECODE, "view"], capture_output=True, text=True, timeout=240)
    assert nothing.returncode != 0 and "nothing to show" in nothing.stderr
    not_session = tmp_path / "x.h5"
    not_session.write_bytes(b"no")
    bad = subprocess.run([*RTDECODE, "view", str(not_session)], capture_output=True, text=True,
                         timeout=240)  # fmt: skip
    assert bad.returncode != 0 and "x.h5" in bad.stderr


def test_the_ribbon_is_drawn_as_runs_of_one_decision() -> None:
    state = StreamState(0, history=5)
    for i, decision in enumerate([0, 0, 1, 1, 1, 2, 0]):  # the first two roll out of the ring
        state.add_point(float(i), 100.0 + i, 0.5, decision, 10.0, -1.0)
    runs = state.decision_runs()
    # held: t 2..6 (page time: since the first frame seen) with decisions 1 1 1 2 0
    assert runs["left"].tolist() == [2.0, 5.0, 6.0]
    assert runs["right"].tolist() == [5.0, 6.0, 6.0]
    assert runs["decision"].tolist() == [1.0, 2.0, 0.0]
    assert StreamState(1).decision_runs()["left"].size == 0


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to keep one free")
def test_the_view_process_leaves_a_pinned_decoders_core_and_runs_single_threaded() -> None:
    from rtdecode.view import AttachedView

    core = min(os.sched_getaffinity(0))
    tap = ViewTap(StreamContext(name="s", states=("forward", "reversal")))
    view = AttachedView(f"127.0.0.1:{free_port()}", [tap], linger_s=0.0, decoder_cpu=core)
    view.start()
    try:
        assert view._child is not None
        pid = view._child.pid
        assert core not in os.sched_getaffinity(pid)
        env = Path(f"/proc/{pid}/environ").read_bytes()
        while not env and view._child.poll() is None:  # empty while the exec completes
            time.sleep(0.05)
            env = Path(f"/proc/{pid}/environ").read_bytes()
        assert view._child.poll() is None, f"the view process ended ({view._child.returncode})"
        assert b"OPENBLAS_NUM_THREADS=1" in env.split(b"\0")
        assert b"OMP_NUM_THREADS=1" in env.split(b"\0")
    finally:
        view.close()


@pytest.mark.timeout(300)
def test_a_view_feed_beyond_loopback_needs_insecure_and_a_zmq_address() -> None:
    base = [*RTDECODE, "run", "--source", "zmq+tcp://127.0.0.1:9", "--quiet", "--view-feed"]
    open_feed = subprocess.run([*base, "zmq+tcp://0.0.0.0:9"], capture_output=True, text=True,
                               timeout=240)  # fmt: skip
    assert open_feed.returncode != 0
    assert "listens beyond loopback" in open_feed.stderr and "--insecure" in open_feed.stderr
    not_zmq = subprocess.run([*base, "lsl://feed"], capture_output=True, text=True, timeout=240)
    assert not_zmq.returncode != 0 and "zmq+tcp://HOST:PORT or zmq+ipc://PATH" in not_zmq.stderr


@pytest.mark.timeout(300)
def test_a_decoder_that_fails_to_start_leaves_no_view_behind() -> None:
    """The page starts while the model loads; a model that cannot load must stop it at once,
    so that the same command, corrected, can take the port again."""
    port = free_port()
    failed = subprocess.run(
        [*RTDECODE, "run", "--source", "zmq+tcp://127.0.0.1:9", "--model", "/nonexistent.pt",
         "--view", f"127.0.0.1:{port}", "--quiet"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert failed.returncode != 0 and "/nonexistent.pt does not exist" in failed.stderr
    assert "view: http" not in failed.stderr  # announced only once the decoder is up
    check_free(parse_view_address(f"127.0.0.1:{port}"))  # raises while a page holds it

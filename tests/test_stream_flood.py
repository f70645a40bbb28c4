"""A stream that floods large frames costs the other streams nothing: each stream has a
bounded queue that drops its own oldest frames (counted), and the streams take turns."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq
from stream_support import bare_config, free_port

from rtdecode.cli._report import format_run_summary
from rtdecode.data import bundled_recording
from rtdecode.engines import load_engine
from rtdecode.live import open_session
from rtdecode.stream import FairShare, Prediction, Sink, encode_frame, open_source

WINDOW = 64  # the decoder's window (checked below): the calm stream first fills it quickly
CALM_FRAMES = WINDOW + 30  # ... then sends 30 frames at 10 Hz, each decoded
FLOOD_NEURONS = 2048  # the most a decoder serves by default: the largest frames it accepts


class _Order(Sink):
    """Records, across streams, which stream published which frame, in publishing order."""

    def __init__(self, name: str, order: list[tuple[str, int]]) -> None:
        self.uri = name
        self.order = order

    def open(self, states: tuple[str, ...]) -> None:
        self.states = states

    def publish(self, prediction: Prediction) -> None:
        self.order.append((self.uri, prediction.seq))


def _publisher(context: zmq.Context[zmq.Socket[bytes]]) -> tuple[zmq.Socket[bytes], int]:
    """An XPUB socket, which tells when the decoder has subscribed (no frame lost before)."""
    socket = context.socket(zmq.XPUB)
    port = free_port()
    socket.bind(f"tcp://127.0.0.1:{port}")
    return socket, port


def _produce(
    calm: zmq.Socket[bytes],
    flood: zmq.Socket[bytes],
    order: list[tuple[str, int]],
    stop: threading.Event,
) -> int:
    """Calm frames at 10 Hz while the flood sends as fast as it can; then one last flood
    frame once the flood has stopped. Returns the flood's frames sent."""
    for socket in (calm, flood):
        assert socket.poll(30_000), "the decoder never subscribed"
        socket.recv()
    traces = bundled_recording().traces.astype(np.float32)
    large = np.tile(traces, (1, FLOOD_NEURONS // traces.shape[1] + 1))[:, :FLOOD_NEURONS]
    sent = 0
    next_calm = time.monotonic()
    calm_sent = 0
    while calm_sent < CALM_FRAMES and not stop.is_set():
        if time.monotonic() >= next_calm:
            calm.send_multipart(encode_frame(calm_sent, calm_sent * 0.1, traces[calm_sent]))
            calm_sent += 1
            next_calm = time.monotonic() + (0.1 if calm_sent >= WINDOW else 0.001)
        for _ in range(20):  # as fast as ZeroMQ takes them (a PUB drops beyond its queue)
            flood.send_multipart(encode_frame(sent, sent * 0.01, large[sent % len(large)]))
            sent += 1
        time.sleep(0)
    while not stop.is_set() and sum(1 for name, _ in order if name == "calm") < (
        CALM_FRAMES - WINDOW + 1
    ):
        time.sleep(0.05)
    # The flood's last frame comes alone, so that it arrives and ends the count; if ZeroMQ's
    # queues were still full and dropped it, another follows (its loss shows as a gap).
    while not stop.is_set() and (sent == 0 or ("flood", sent - 1) not in order):
        time.sleep(0.5)
        if ("flood", sent - 1) not in order:
            flood.send_multipart(encode_frame(sent, sent * 0.01, large[sent % len(large)]))
            sent += 1
        for _ in range(40):
            if ("flood", sent - 1) in order:
                break
            time.sleep(0.05)
    return sent


@pytest.mark.timeout(240)
def test_a_flooding_stream_drops_its_own_oldest_frames_and_the_calm_one_decodes_every_frame() -> (
    None
):
    engine = load_engine(None, "numba")
    context = zmq.Context.instance()
    (calm, calm_port), (flood, flood_port) = _publisher(context), _publisher(context)
    order: list[tuple[str, int]] = []
    sources = [
        open_source(f"zmq+tcp://127.0.0.1:{calm_port}"),
        open_source(f"zmq+tcp://127.0.0.1:{flood_port}"),
    ]
    session = open_session(
        bare_config(max_batch=1),  # --decode-every-frame: a frame the stream takes is decoded
        engine=engine,
        sources=sources,
        sinks=[[_Order("calm", order)], [_Order("flood", order)]],
    )
    stop = threading.Event()
    result: dict[str, int] = {}

    def produce_then_stop() -> None:
        try:
            result["flood_sent"] = _produce(calm, flood, order, stop)
        finally:
            session.stop()

    producer = threading.Thread(target=produce_then_stop, daemon=True)
    producer.start()
    try:
        summary = session.run()
    finally:
        stop.set()
        producer.join(30)
        calm.close(0)
        flood.close(0)

    calm_stream, flood_stream = summary["streams"]
    assert calm_stream["window"] == WINDOW
    # The calm stream decoded every frame it was sent (once its window filled), in order.
    calm_seqs = [seq for name, seq in order if name == "calm"]
    assert calm_seqs == list(range(WINDOW - 1, CALM_FRAMES)), calm_stream
    assert calm_stream["missing_frames"] == 0 and calm_stream["dropped_oldest"] == 0
    # The flood lost frames, and every one is accounted for: the bound's drops are named, the
    # rest of its losses (ZeroMQ's queue) show as gaps; nothing was left queued at the stop.
    sent = result["flood_sent"]
    stats = flood_stream["source_stats"]
    assert flood_stream["dropped_oldest"] == stats["dropped_oldest"] > 0, flood_stream
    assert stats["left_at_stop"] == 0
    assert flood_stream["missing_frames"] >= flood_stream["dropped_oldest"]
    assert flood_stream["frames"] + flood_stream["missing_frames"] == sent, flood_stream
    decoded = flood_stream["predictions"]
    assert decoded + flood_stream["warming"] + flood_stream["skipped"] == flood_stream["frames"]
    assert sent - decoded == (
        flood_stream["missing_frames"] + flood_stream["warming"] + flood_stream["skipped"]
    )
    assert summary["dropped_oldest"] == flood_stream["dropped_oldest"]
    # ... and the rest of the gaps is named too: what the sockets discarded before the decoder
    # read it (the sender's queue, ZeroMQ's bounded receive queue, the kernel's buffers).
    assert flood_stream["missing_frames"] == (
        flood_stream["dropped_oldest"] + flood_stream["dropped_in_transport"]
    )
    assert sent - decoded == (
        flood_stream["dropped_oldest"]
        + flood_stream["dropped_in_transport"]
        + flood_stream["warming"]
        + flood_stream["skipped"]
    )
    assert calm_stream["dropped_in_transport"] == 0
    # The text summary names both, per stream, as the JSON does.
    text = format_run_summary(summary)
    assert (
        f"oldest dropped by the stream's bound {flood_stream['dropped_oldest']}, in transport "
        f"{flood_stream['dropped_in_transport']}" in text.split("== stream 2 ==")[1]
    )
    assert "oldest dropped by the stream's bound 0, in transport 0" in text.split("== stream 2")[0]
    # The calm stream was decoded while the flood ran: between two of its predictions, the
    # flood's came too (not all of them after a backlog).
    between = [
        order[a + 1 : b]
        for a, b in zip(
            [i for i, (name, _) in enumerate(order) if name == "calm"],
            [i for i, (name, _) in enumerate(order) if name == "calm"][1:],
            strict=False,
        )
    ]
    interleaved = sum(1 for run in between if any(name == "flood" for name, _ in run))
    assert interleaved >= len(between) // 2, (interleaved, len(between))


@pytest.mark.timeout(60)
def test_a_bounded_zeromq_stream_parses_only_what_it_keeps_and_counts_every_loss() -> None:
    """Frames beyond the bound are dropped oldest first without being parsed, yet each is
    counted: as a dropped frame (its header's count, multi-frame messages included), or as a
    malformed message when that is what it was; the frames kept come in order, newest last."""
    context = zmq.Context.instance()
    producer, port = _publisher(context)
    source = FairShare(
        open_source(f"zmq+tcp://127.0.0.1:{port}"), max_bytes=4 * 400, turn_bytes=400
    )
    source.start()
    try:
        assert producer.poll(30_000), "the source never subscribed"
        producer.recv()
        frames = np.ones((3, 100), np.float32)  # 400 bytes a frame
        seq, sent_frames = 0, 0
        for i in range(40):
            k = 1 + i % 3  # one to three frames a message
            producer.send_multipart(encode_frame(seq, seq * 0.1, frames[:k]))
            seq, sent_frames = seq + k, sent_frames + k
            if i % 8 == 0:
                producer.send_multipart([b"frame", b"{not json", b"\0" * 400])  # malformed
        time.sleep(0.5)  # everything is in the socket before the first read
        got, empty_turns = [], 0
        while empty_turns < 3:  # a turn that met a malformed message hands nothing over
            source.new_turn()
            chunk = source.read(0.2)
            empty_turns = 0 if chunk is not None else empty_turns + 1
            if chunk is not None:
                got.append((chunk.seq, chunk.n_frames))
    finally:
        source.stop()
        producer.close(0)
    kept = sum(k for _, k in got)
    assert [s for s, _ in got] == sorted(s for s, _ in got)
    assert got[-1][0] + got[-1][1] == seq  # the newest frame was kept
    assert source.dropped_frames > 0 and kept + source.dropped_frames == sent_frames
    assert source.malformed["bad_json"] == 5
    assert source.stats()["dropped_oldest"] == source.dropped_frames


def test_a_frame_taken_late_does_not_move_its_streams_next_arrival() -> None:
    """The due-frame wait keeps to a calm stream's own rhythm: a frame taken 6 ms late, after
    a flood's long decode, must not make the next one look later than it will come; one taken
    early moves the estimate at once; a missed frame keeps the phase."""
    from rtdecode.live._cadence import Cadence

    interval, start = 100_000_000, 1_000_000_000
    cadence = Cadence()
    for k in range(6):
        cadence.taken(start + k * interval + 300_000)  # each taken 0.3 ms after it came
    due = start + 6 * interval + 300_000
    assert cadence.interval_ns == interval and cadence.next_ns == due
    cadence.taken(due + 6_000_000)  # taken late
    assert cadence.next_ns == due + interval
    cadence.taken(due + 2 * interval - 1_000_000)  # came early: the phase moved
    assert cadence.next_ns == due + 3 * interval - 1_000_000
    cadence.taken(due + 4 * interval - 1_000_000)  # one frame missed on the way
    assert cadence.interval_ns == interval and cadence.next_ns == due + 5 * interval - 1_000_000


def test_a_streams_rhythm_is_learnt_within_a_few_frames_after_a_burst() -> None:
    """A producer that first sends a window's frames back to back, then one every 100 ms (as
    a microscope's stream starts): within 16 frames the next arrival is known to 1 ms, though
    one frame in four is taken 6 ms late. (An average of the gaps, which had started from the burst's
    1 ms, still expected the frames 20-35 ms early seconds later, and the due-frame wait
    gave up on them.)"""
    from rtdecode.live._cadence import Cadence

    interval, start = 100_000_000, 5_000_000_000
    cadence = Cadence()
    for k in range(16):
        cadence.taken(1_000_000_000 + k * 1_000_000)
    for k in range(16):
        late = 6_000_000 if k % 4 == 3 else 200_000
        cadence.taken(start + k * interval + late)
    assert abs(cadence.next_ns - (start + 16 * interval)) < 1_000_000

"""Wire protocol v1: what producers send round-trips, and every malformed message is classified."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtdecode.stream import (
    MALFORMED_REASONS,
    MalformedMessage,
    encode_frame,
    encode_prediction,
    parse_frame,
    parse_prediction,
)


def _header(**changes: object) -> bytes:
    header: dict[str, object] = {"v": 1, "seq": 7, "t": 1.5, "shape": [1, 3], "dtype": "<f4"}
    header.update(changes)
    return json.dumps({k: v for k, v in header.items() if v is not ...}).encode()


PAYLOAD = np.arange(3, dtype="<f4").tobytes()

MALFORMED = {
    "part_count": [b"frame", _header()],
    "topic": [b"frames", _header(), PAYLOAD],
    "bad_json": [b"frame", b"{not json", PAYLOAD],
    "unknown_version": [b"frame", _header(v=2), PAYLOAD],
    "bad_header": [b"frame", _header(seq="7"), PAYLOAD],
    "bad_dtype": [b"frame", _header(dtype="<f8"), PAYLOAD],
    "bad_shape": [b"frame", _header(shape=[1, 10**9]), PAYLOAD],
    "size_mismatch": [b"frame", _header(shape=[1, 4]), PAYLOAD],
    "bad_labels": [b"frame", _header(labels=["AVAL"]), PAYLOAD],
}


def test_a_frame_round_trips_with_labels_and_times() -> None:
    data = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.inf]], np.float32)
    message = parse_frame(encode_frame(41, 12.25, data, ["AVAL", None, "RIML"], 99, dt=0.5))
    assert message.seq == 41 and message.t == 12.25 and message.dt == 0.5
    np.testing.assert_array_equal(message.data, data)
    assert message.labels == ("AVAL", None, "RIML") and message.sent_ns == 99


def test_one_frame_as_a_vector_is_a_one_row_message() -> None:
    message = parse_frame(encode_frame(0, 0.0, np.ones(5)))
    assert message.data.shape == (1, 5) and message.labels is None and message.dt == 0.0


@pytest.mark.parametrize("reason", sorted(MALFORMED))
def test_each_malformed_kind_is_named(reason: str) -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_frame(MALFORMED[reason])
    assert caught.value.reason == reason


def test_every_reason_has_a_case() -> None:
    assert set(MALFORMED) == set(MALFORMED_REASONS)


@pytest.mark.parametrize(
    ("reason", "header"),
    [
        ("unknown_version", _header(v=True)),
        ("unknown_version", _header(v=...)),
        ("bad_header", _header(t=float("nan"))),
        ("bad_header", _header(seq=...)),
        ("bad_header", _header(dt=-1.0)),
        ("bad_shape", _header(shape=[0, 3])),
        ("bad_shape", _header(shape=[1, 3, 1])),
        ("bad_shape", _header(shape="1x3")),
        ("bad_labels", _header(labels=[1, 2, 3])),
        ("bad_json", b"[1, 2]"),
        ("bad_json", b"\xff\xfe"),
    ],
)
def test_more_ways_to_be_wrong(reason: str, header: bytes) -> None:
    with pytest.raises(MalformedMessage) as caught:
        parse_frame([b"frame", header, PAYLOAD])
    assert caught.value.reason == reason


def test_the_part_size_alone_bounds_the_neuron_count() -> None:
    """The wire's only neuron limit is the 256 KiB part: 65,536 float32 values in one frame."""
    widest = np.zeros((1, 65536), np.float32)
    assert parse_frame(encode_frame(0, 0.0, widest)).data.shape == (1, 65536)
    with pytest.raises(MalformedMessage) as caught:
        parse_frame([b"frame", _header(shape=[1, 65537]), bytes(65537 * 4)])
    assert caught.value.reason == "bad_shape"


def test_prediction_round_trips() -> None:
    parts = encode_prediction(5, 2.0, ("forward", "reversal"), np.array([0.2, 0.8]), 123.45)
    body = parse_prediction(parts)
    assert body["state"] == "reversal" and body["seq"] == 5 and body["v"] == 1
    assert body["probs"] == pytest.approx({"forward": 0.2, "reversal": 0.8})
    assert body["latency_us"] == pytest.approx(123.4, abs=0.1)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=5))
def test_random_bytes_never_escape_the_parser(parts: list[bytes]) -> None:
    try:
        parse_frame(parts)
    except MalformedMessage as exc:
        assert exc.reason in MALFORMED_REASONS


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "v": st.sampled_from([1, 2, "1", 1.0, None]),
            "seq": _json_values,
            "t": _json_values,
            "shape": st.lists(st.integers(-2, 5), max_size=3) | _json_values,
            "dtype": st.sampled_from(["<f4", ">f4", "<f8", 4]),
            "labels": _json_values,
            "dt": _json_values,
            "sent_ns": _json_values,
        },
    ),
    st.binary(max_size=80),
)
def test_random_headers_parse_or_are_classified(header: dict, payload: bytes) -> None:
    try:
        message = parse_frame([b"frame", json.dumps(header).encode(), payload])
    except MalformedMessage as exc:
        assert exc.reason in MALFORMED_REASONS
        return
    k, n = header["shape"]
    assert message.data.shape == (k, n) and len(payload) == 4 * k * n


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**62),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(1, 4),
    st.integers(1, 20),
)
def test_valid_frames_always_parse(seq: int, t: float, k: int, n: int) -> None:
    data = np.random.default_rng(seq % 1000).normal(size=(k, n)).astype(np.float32)
    message = parse_frame(encode_frame(seq, t, data))
    assert message.seq == seq and message.t == t
    np.testing.assert_array_equal(message.data, data)

"""Wire protocol v1: encode and parse frame, behaviour, prediction and trigger messages (ZeroMQ
multipart), every message kind in this one file.

Frame: ``[b"frame", header, payload]``; header is UTF-8 JSON
``{"v": 1, "seq": int, "t": float, "shape": [k, n], "dtype": "<f4"}`` with optional
``"labels"`` (``n`` strings or nulls) and, as compatible extensions, ``"dt"`` (seconds between
the frames of a multi-frame message; frame ``i`` was taken at ``t + i * dt``, default 0) and
``"sent_ns"`` (the producer's ``time.perf_counter_ns()`` at send, for latency measurements on
one machine); the
payload is the raw C-order little-endian ``(k, n)`` float32 array. Prediction:
``[b"pred", json]`` with at least ``v, seq, t, state, probs, latency_us``. Behaviour (the
tracked animal, on the frame socket or another): ``[b"behavior", header, payload]``; header is
UTF-8 JSON ``{"v": 1, "seq": int, "t": float, "fields": [str, ...]}``, the payload one
little-endian float32 per field (``"velocity"`` in mm/s, forward positive; ``"reversal"`` 0 or
1; NaN while the tracker has lost the animal; other fields are allowed and ignored). Trigger
event (decoder -> stimulus side and recorders): ``[b"trigger", json]`` with ``v, seq, t, kind,
reason, pulse_ms, latency_us`` (:class:`~rtdecode.policy.TriggerEvent`).

Every way a frame message can be wrong has a reason name (:data:`MALFORMED_REASONS`); the
parser raises :class:`MalformedMessage` carrying it, so a live source can count and survive it.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

if TYPE_CHECKING:
    from rtdecode.policy import TriggerEvent

__all__ = [
    "BEHAVIOR_FIELDS",
    "BEHAVIOR_MALFORMED_REASONS",
    "BEHAVIOR_TOPIC",
    "DTYPE",
    "FRAME_TOPIC",
    "MALFORMED_REASONS",
    "MAX_FRAMES_PER_MESSAGE",
    "MAX_PART_BYTES",
    "MAX_SEQ",
    "PRED_TOPIC",
    "TRIGGER_TOPIC",
    "VERSION",
    "BehaviorMessage",
    "FrameMessage",
    "MalformedMessage",
    "check_behavior_values",
    "encode_behavior",
    "encode_frame",
    "encode_prediction",
    "encode_trigger",
    "parse_behavior",
    "parse_frame",
    "parse_prediction",
    "parse_trigger",
]

VERSION = 1
FRAME_TOPIC = b"frame"
PRED_TOPIC = b"pred"
BEHAVIOR_TOPIC = b"behavior"
TRIGGER_TOPIC = b"trigger"
BEHAVIOR_FIELDS = ("velocity", "reversal")
"""The behaviour fields rtdecode uses: velocity (mm/s, forward positive), reversal (0 or 1)."""
MAX_BEHAVIOR_FIELDS = 64
DTYPE = "<f4"
MAX_FRAMES_PER_MESSAGE = 4096
MAX_PART_BYTES = 256 * 2**10
"""Largest message part (header or payload) a decoder receives: ``k * n * 4`` must fit."""
MAX_SEQ = 2**63 - 1

MALFORMED_REASONS = (
    "part_count",  # not exactly three parts
    "topic",  # first part is not b"frame"
    "bad_json",  # header is not UTF-8 JSON holding an object
    "unknown_version",  # "v" missing or not a version this decoder speaks
    "bad_header",  # seq/t missing or of the wrong type, t not finite, seq or sent_ns not in
    # 0 .. MAX_SEQ (int64, as the session file stores them)
    "bad_dtype",  # dtype other than "<f4"
    "bad_shape",  # shape not [k, n] with 1 <= k <= MAX_FRAMES_PER_MESSAGE, 1 <= n,
    # k * n * 4 <= MAX_PART_BYTES (so n <= 65536)
    "size_mismatch",  # payload bytes != k * n * 4
    "bad_labels",  # labels present but not n strings or nulls
)

BEHAVIOR_MALFORMED_REASONS = (
    "part_count",  # not exactly three parts
    "topic",  # first part is not b"behavior"
    "bad_json",  # header is not UTF-8 JSON holding an object
    "unknown_version",  # "v" missing or not a version this decoder speaks
    "bad_header",  # seq/t missing or of the wrong type, t not finite
    "bad_fields",  # fields not unique strings, too many, or neither velocity nor reversal
    "size_mismatch",  # payload bytes != 4 * len(fields)
    "bad_value",  # reversal other than 0, 1 or NaN; velocity infinite
)


class MalformedMessage(ValueError):
    """A message that does not follow wire protocol v1.

    Parameters
    ----------
    reason
        One of :data:`MALFORMED_REASONS`.
    detail
        What exactly was wrong, for the (rate-limited) log.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FrameMessage:
    """A parsed frame message.

    Attributes
    ----------
    seq
        Sequence number of the first frame; frame ``i`` of the message has ``seq + i``.
    t
        Acquisition time of the first frame (seconds).
    data
        ``(k, n)`` float32 values (a read-only view of the payload).
    labels
        Neuron identities, or ``None`` when the header has none.
    dt
        Seconds between the frames of the message (0 when not given).
    sent_ns
        Producer's ``perf_counter_ns()`` at send, when given.
    """

    seq: int
    t: float
    dt: float
    data: np.ndarray
    labels: tuple[str | None, ...] | None
    sent_ns: int | None


def encode_frame(
    seq: int,
    t: float,
    data: np.ndarray,
    labels: Sequence[str | None] | None = None,
    sent_ns: int | None = None,
    dt: float | None = None,
) -> list[bytes]:
    """Build the multipart frame message for ``data`` (``(n,)`` or ``(k, n)`` values).

    Parameters
    ----------
    seq
        Sequence number of the (first) frame.
    t
        Acquisition time in seconds.
    data
        One frame ``(n,)`` or ``k`` frames ``(k, n)``; converted to little-endian float32.
    labels
        Optional neuron identities (``None`` where unknown).
    sent_ns
        Optional ``time.perf_counter_ns()`` at send.
    dt
        Seconds between the frames of a multi-frame message.
    """
    array = np.ascontiguousarray(data, dtype=DTYPE)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    header: dict[str, Any] = {
        "v": VERSION,
        "seq": int(seq),
        "t": float(t),
        "shape": [int(array.shape[0]), int(array.shape[1])],
        "dtype": DTYPE,
    }
    if labels is not None:
        header["labels"] = [None if lab is None else str(lab) for lab in labels]
    if sent_ns is not None:
        header["sent_ns"] = int(sent_ns)
    if dt is not None:
        header["dt"] = float(dt)
    return [FRAME_TOPIC, json.dumps(header).encode(), array.tobytes()]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_header(parts: Sequence[bytes], topic: bytes) -> tuple[dict[str, Any], bytes]:
    """Check part count, topic, JSON, version, ``seq`` and ``t``; return header and payload."""
    if len(parts) != 3:
        raise MalformedMessage("part_count", f"expected 3 parts, got {len(parts)}")
    if bytes(parts[0]) != topic:
        raise MalformedMessage("topic", f"expected topic {topic!r}, got {bytes(parts[0])[:32]!r}")
    try:
        header = json.loads(bytes(parts[1]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessage("bad_json", f"header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise MalformedMessage("bad_json", f"header is a JSON {type(header).__name__}, not object")
    version = header.get("v")
    if version != VERSION or not _is_int(version):
        raise MalformedMessage("unknown_version", f"protocol version {version!r}; this speaks 1")
    seq, t = header.get("seq"), header.get("t")
    if not _is_int(seq) or not _is_number(t) or not math.isfinite(t):
        raise MalformedMessage("bad_header", f"need integer seq and finite t, got {seq!r}, {t!r}")
    if not 0 <= seq <= MAX_SEQ:
        raise MalformedMessage("bad_header", f"seq must be in 0 .. 2**63 - 1, got {seq}")
    return header, parts[2]


def frame_count(parts: Sequence[bytes]) -> int | None:
    """How many frames a frame message holds, from its header's ``shape`` alone (no checks
    of the payload); ``None`` when the header does not say (a malformed message)."""
    if len(parts) != 3:
        return None
    try:
        shape = json.loads(bytes(parts[1])).get("shape")
        count = shape[0]
    except (ValueError, AttributeError, TypeError, IndexError, KeyError, RecursionError):
        return None
    return count if _is_int(count) and 1 <= count <= MAX_FRAMES_PER_MESSAGE else None


def parse_frame(parts: Sequence[bytes]) -> FrameMessage:
    """Parse a multipart frame message.

    Parameters
    ----------
    parts
        The message parts as received.

    Returns
    -------
    FrameMessage
        The frame(s), with ``data`` a zero-copy view of the payload.

    Raises
    ------
    MalformedMessage
        With the reason (one of :data:`MALFORMED_REASONS`) for anything that is not v1.
    """
    header, payload = _parse_header(parts, FRAME_TOPIC)
    seq, t = header["seq"], header["t"]
    sent_ns = header.get("sent_ns")
    if sent_ns is not None and not (_is_int(sent_ns) and 0 <= sent_ns <= MAX_SEQ):
        raise MalformedMessage("bad_header", f"sent_ns must be in 0 .. 2**63 - 1, got {sent_ns!r}")
    dt = header.get("dt", 0.0)
    if not _is_number(dt) or not math.isfinite(dt) or dt < 0:
        raise MalformedMessage("bad_header", f"dt must be a finite number >= 0, got {dt!r}")
    dtype = header.get("dtype")
    if dtype != DTYPE:
        raise MalformedMessage("bad_dtype", f"dtype {dtype!r}; v1 carries '<f4' only")
    shape = header.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 2
        or not all(_is_int(s) for s in shape)
        or not 1 <= shape[0] <= MAX_FRAMES_PER_MESSAGE
        or shape[1] < 1
        or shape[0] * shape[1] * 4 > MAX_PART_BYTES
        or seq + shape[0] - 1 > MAX_SEQ
    ):
        raise MalformedMessage(
            "bad_shape",
            f"shape {shape!r}; need [k, n] with 1 <= k <= {MAX_FRAMES_PER_MESSAGE}, "
            f"1 <= n, k * n * 4 <= {MAX_PART_BYTES} bytes and "
            "seq + k - 1 <= 2**63 - 1",
        )
    k, n = shape
    if len(payload) != k * n * 4:
        raise MalformedMessage(
            "size_mismatch", f"payload is {len(payload)} bytes; shape {shape} needs {k * n * 4}"
        )
    labels = header.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != n:
            raise MalformedMessage("bad_labels", f"labels must be a list of {n} entries")
        if not all(lab is None or isinstance(lab, str) for lab in labels):
            raise MalformedMessage("bad_labels", "labels must be strings or null")
        labels = tuple(lab if lab else None for lab in labels)
    data = np.frombuffer(payload, dtype=DTYPE).reshape(k, n)
    return FrameMessage(
        seq=seq, t=float(t), dt=float(dt), data=data, labels=labels, sent_ns=sent_ns
    )


@dataclass(frozen=True, slots=True)
class BehaviorMessage:
    """A parsed behaviour message: one sample of the tracked animal.

    Attributes
    ----------
    seq
        The sample's sequence number (a jump is a lost sample).
    t
        When the behaviour was observed, in seconds on the frames' clock.
    velocity
        Velocity along the body axis in mm/s (forward positive); NaN when not sent or not tracked.
    reversal
        1.0 while the animal reverses, 0.0 when not; NaN when not sent or not tracked.
    """

    seq: int
    t: float
    velocity: float
    reversal: float


def encode_behavior(seq: int, t: float, values: Mapping[str, float]) -> list[bytes]:
    """Build the multipart behaviour message for one sample.

    Parameters
    ----------
    seq
        Sequence number of the sample.
    t
        When it was observed, in seconds on the same clock as the frames' ``t``.
    values
        Field name -> value, for example ``{"velocity": -0.02, "reversal": 1}``; NaN where the
        tracker lost the animal.
    """
    fields = [str(name) for name in values]
    header = {"v": VERSION, "seq": int(seq), "t": float(t), "fields": fields}
    payload = struct.pack(f"<{len(fields)}f", *(float(v) for v in values.values()))
    return [BEHAVIOR_TOPIC, json.dumps(header).encode(), payload]


def parse_behavior(parts: Sequence[bytes]) -> BehaviorMessage:
    """Parse a multipart behaviour message.

    Raises
    ------
    MalformedMessage
        With the reason (one of :data:`BEHAVIOR_MALFORMED_REASONS`) for anything that is not v1.
    """
    header, payload = _parse_header(parts, BEHAVIOR_TOPIC)
    fields = header.get("fields")
    if (
        not isinstance(fields, list)
        or not 1 <= len(fields) <= MAX_BEHAVIOR_FIELDS
        or not all(isinstance(name, str) for name in fields)
        or len(set(fields)) != len(fields)
        or not any(name in BEHAVIOR_FIELDS for name in fields)
    ):
        raise MalformedMessage(
            "bad_fields",
            f"fields {fields!r}; need up to {MAX_BEHAVIOR_FIELDS} distinct names including "
            "'velocity' and/or 'reversal'",
        )
    if len(payload) != 4 * len(fields):
        raise MalformedMessage(
            "size_mismatch",
            f"payload is {len(payload)} bytes; {len(fields)} fields need {4 * len(fields)}",
        )
    values = dict(zip(fields, struct.unpack(f"<{len(fields)}f", payload), strict=True))
    velocity = values.get("velocity", math.nan)
    reversal = values.get("reversal", math.nan)
    check_behavior_values(velocity, reversal)
    return BehaviorMessage(header["seq"], float(header["t"]), velocity, reversal)


def check_behavior_values(velocity: float, reversal: float) -> None:
    """Raise :class:`MalformedMessage` (``bad_value``) unless velocity is finite or NaN and
    reversal is 0, 1 or NaN."""
    if math.isinf(velocity) or not (math.isnan(reversal) or reversal in (0.0, 1.0)):
        raise MalformedMessage(
            "bad_value",
            f"velocity {velocity!r}, reversal {reversal!r}; velocity must be finite (NaN when "
            "not tracked), reversal 0, 1 or NaN",
        )


def encode_prediction(
    seq: int,
    t: float,
    states: Sequence[str],
    probs: np.ndarray,
    latency_us: float,
    extra: Mapping[str, Any] | None = None,
) -> list[bytes]:
    """Build the multipart prediction message.

    Parameters
    ----------
    seq, t
        Sequence number and acquisition time of the frame the prediction is for.
    states
        State names, in the order of ``probs``.
    probs
        Probability per state.
    latency_us
        Frame received to prediction sent in this process, microseconds.
    extra
        More keys (the protocol allows them), for example ``{"skipped": 0}``.
    """
    best = int(np.argmax(probs))
    body: dict[str, Any] = {
        "v": VERSION,
        "seq": int(seq),
        "t": float(t),
        "state": states[best],
        "probs": {name: float(p) for name, p in zip(states, probs, strict=True)},
        "latency_us": round(float(latency_us), 1),
    }
    if extra:
        body.update(extra)
    return [PRED_TOPIC, json.dumps(body).encode()]


def parse_prediction(parts: Sequence[bytes]) -> dict[str, Any]:
    """Parse a prediction message into its JSON object.

    Raises
    ------
    MalformedMessage
        If it is not a v1 prediction.
    """
    return _parse_json_message(parts, PRED_TOPIC, "prediction")


def encode_trigger(event: TriggerEvent) -> list[bytes]:
    """Build the multipart trigger message of one closed-loop event (NaN travels as null)."""
    return [TRIGGER_TOPIC, event.to_json().encode()]


def parse_trigger(parts: Sequence[bytes]) -> dict[str, Any]:
    """Parse a trigger message into its JSON object.

    Raises
    ------
    MalformedMessage
        If it is not a v1 trigger event.
    """
    return _parse_json_message(parts, TRIGGER_TOPIC, "trigger event")


def _parse_json_message(parts: Sequence[bytes], topic: bytes, what: str) -> dict[str, Any]:
    """The JSON object of a two-part ``[topic, json]`` v1 message."""
    if len(parts) != 2 or bytes(parts[0]) != topic:
        raise MalformedMessage("part_count", f"a {what} is [{topic!r}, json]")
    try:
        body = json.loads(bytes(parts[1]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedMessage("bad_json", f"{what} is not UTF-8 JSON ({exc})") from None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        raise MalformedMessage("unknown_version", f"{what} is not a v1 JSON object")
    return body

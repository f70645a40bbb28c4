"""Where the view's data comes from: a decoder's view feed or its ZeroMQ outputs, or a session file.

:class:`Intake` subscribes to one or more ZeroMQ PUB endpoints and takes the messages it knows:
``view`` (a decoder's tap, see :mod:`rtdecode.view._feed`), ``pred`` (predictions, wire
protocol v1) and ``trigger`` (trigger events). Anything else, or anything malformed, is counted
and skipped. :func:`read_session_states` fills the same states from a finished session file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from rtdecode.errors import DataFormatError
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream import read_session
from rtdecode.stream._protocol import PRED_TOPIC, TRIGGER_TOPIC, parse_prediction, parse_trigger
from rtdecode.timeline import decision_codes
from rtdecode.view._feed import VIEW_TOPIC, parse_view
from rtdecode.view._state import StreamState
from rtdecode.view._tap import StreamContext

__all__ = ["Intake", "read_session_states"]

_log = get_logger(__name__)
_rate_limited = RateLimitedLog(_log)


class Intake:
    """Subscribes to decoder endpoints and keeps one :class:`StreamState` per stream.

    Parameters
    ----------
    endpoints
        ZeroMQ endpoints (``tcp://HOST:PORT``, ``ipc://PATH``) to connect to.
    edges
        Compute the inferred graph for view feeds.
    """

    def __init__(self, endpoints: Sequence[str], edges: bool = True) -> None:
        self._context: zmq.Context[Any] = zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.RCVHWM, 1000)
        self._socket.setsockopt(zmq.LINGER, 0)
        for topic in (VIEW_TOPIC, PRED_TOPIC, TRIGGER_TOPIC):
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
        for endpoint in endpoints:
            self._socket.connect(endpoint)
        self.edges = edges
        self.states: list[StreamState] = []
        self.malformed: Counter[str] = Counter()

    def state(self, index: int, edges: bool | None = None) -> StreamState:
        """The state of stream ``index`` (made on first use)."""
        while len(self.states) <= index:
            self.states.append(
                StreamState(len(self.states), edges=self.edges if edges is None else edges)
            )
        return self.states[index]

    def poll(self, budget: int = 500) -> int:
        """Take up to ``budget`` waiting messages without blocking; returns how many."""
        taken = 0
        while taken < budget:
            try:
                parts = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            taken += 1
            self._take(parts)
        return taken

    def _take(self, parts: list[bytes]) -> None:
        topic = bytes(parts[0]) if parts else b""
        try:
            if topic == VIEW_TOPIC:
                batch = parse_view(parts)
                self.state(batch.stream).ingest(batch)
            elif topic == PRED_TOPIC:
                self.state(0, edges=False).add_prediction(parse_prediction(parts))
            elif topic == TRIGGER_TOPIC:
                self.state(0, edges=False).add_event(parse_trigger(parts))
            else:
                raise ValueError(f"unknown topic {topic[:16]!r}")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            reason = topic.decode("ascii", "replace")[:16] or "empty"
            self.malformed[reason] += 1
            _rate_limited.warning(f"view:{reason}", f"view: skipped a malformed message ({exc})")

    def close(self) -> None:
        """Close the socket."""
        self._socket.close()


def read_session_states(path: Path) -> StreamState:
    """One :class:`StreamState` holding a whole session file (predictions, behaviour,
    triggers, summary, and the recorded activity shown at the newest frame: see
    :meth:`StreamState.seek`), for ``rtdecode view SESSION.h5``.

    Raises
    ------
    DataFormatError
        When the file is not an rtdecode session file or holds no predictions.
    """
    session = read_session(path, ("predictions", "behavior", "triggers"))
    preds, states = session.predictions, session.states
    n = len(preds.get("t", ()))
    if not n:
        raise DataFormatError(f"{path} holds no predictions: nothing to view")
    state = StreamState(0, history=n, edges=False)
    state.context = StreamContext(name=Path(path).name, states=states, trigger=session.policy)
    target = state.reversal_index
    uncertain = preds.get("uncertain", np.zeros(n, bool))
    decisions = decision_codes(preds["state"], uncertain, target)
    for i in range(n):
        state.add_point(
            float(preds["seq"][i]),
            float(preds["t"][i]),
            float(preds["probs"][i, target]),
            int(decisions[i]),
            float(preds["latency_us"][i]),
            -1.0,
        )
        state.latencies.append(float(preds["latency_us"][i]))
    behavior = session.behavior
    if len(behavior.get("t", ())):
        state.behavior = type(state.behavior)(state.behavior.columns, len(behavior["t"]))
        for t, v, r in zip(behavior["t"], behavior["velocity"], behavior["reversal"], strict=True):
            state.add_behavior(float(t), float(v), float(r))
    triggers = session.triggers
    for i in range(len(triggers.get("t", ()))):
        state.add_event({name: column[i].item() for name, column in triggers.items()})
    state.head = int(preds["head"][-1]) if "head" in preds else 0
    summary = session.summary or {}
    state.health = summary
    state.stopped = summary or {"frames": n}
    state.frames_seen = n
    _recorded_activity(state, path, preds["seq"], decisions)
    return state


def _recorded_activity(
    state: StreamState, path: Path, seq: np.ndarray, decisions: np.ndarray
) -> None:
    """Give ``state`` the session's activity, shown at its newest frame (or say why not)."""
    from rtdecode.stream import read_activity
    from rtdecode.view._recorded import RecordedActivity

    activity = read_activity(path)
    if activity is None or not len(activity):
        state.edge_error = (
            "this session file keeps no activity (written before sessions kept it, or with "
            "--no-session-activity): the graph is shown live only"
        )
        return
    assert state.context is not None and state.t0 is not None
    state.context.model = activity.model
    state.want_edges, state.edge_error = True, ""
    where = {int(s): i for i, s in enumerate(seq)}  # each recorded frame's prediction
    known = [where.get(int(s), -1) for s in activity.seq]
    decided = np.array([decisions[i] if i >= 0 else 2 for i in known], np.int64)
    state.recorded = RecordedActivity(activity, decided, state.t0)
    state.seek(float(activity.t[-1] - state.t0))

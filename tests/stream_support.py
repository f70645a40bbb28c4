"""Shared helpers of the live-path tests: loopback ports, local-only LSL, a small engine."""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.engines import Engine
from rtdecode.live import (
    BehaviorConfig,
    CalibrationSection,
    DecoderConfig,
    RunConfig,
    Session,
    SourceConfig,
    Tap,
    open_session,
)
from rtdecode.preprocess import N_FEATURES, PreprocessConfig
from rtdecode.stream import Sink, Source

LSL_CFG = Path(tempfile.gettempdir()) / f"rtdecode-tests-lsl-{os.getuid()}.cfg"


def use_local_lsl() -> None:
    """Make liblsl resolve on this machine only (call before pylsl is first used)."""
    LSL_CFG.write_text(
        "[ports]\nIPv6 = disable\n[multicast]\nResolveScope = machine\n"
        "[lab]\nKnownPeers = 127.0.0.1\n"
    )
    os.environ["LSLAPICFG"] = str(LSL_CFG)


use_local_lsl()  # before any test touches pylsl; subprocesses inherit LSLAPICFG


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_SECTIONS = {"source": SourceConfig, "decoder": DecoderConfig, "behavior": BehaviorConfig}
_OWNER = {f.name: name for name, cls in _SECTIONS.items() for f in dataclasses.fields(cls)}


def bare_config(**keys: Any) -> RunConfig:
    """A bare decoder's configuration: no abstain band and no self-calibration unless ``keys``
    (any key of ``[source]``, ``[decoder]`` or ``[behavior]``, by name) say otherwise; a
    ``policy`` and ``safety`` may be given too."""
    tables: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    tables["decoder"]["abstain"] = None
    extra = {name: keys.pop(name) for name in ("policy", "safety", "calibration") if name in keys}
    for key, value in keys.items():
        tables[_OWNER[key]][key] = value
    return RunConfig(
        **{name: cls(**tables[name]) for name, cls in _SECTIONS.items()},
        calibration=extra.pop("calibration", CalibrationSection(enabled=False)),
        **extra,
    )


def live_session(
    source: Source,
    engine: Engine,
    sinks: Sequence[Sink] = (),
    *,
    taps: Sequence[Tap] = (),
    **keys: Any,
) -> Session:
    """One stream from ``source`` through :func:`open_session` (see :func:`bare_config`)."""
    return open_session(
        bare_config(**keys), engine=engine, sources=[source], sinks=[list(sinks)], taps=taps
    )


def decode(source: Source, engine: Engine, sinks: Sequence[Sink] = (), **keys: Any) -> dict:
    """Run :func:`live_session` to its end; its summary."""
    return live_session(source, engine, sinks, **keys).run()


class WindowMeanEngine(Engine):
    """A small real decoder for tests of the live path: logistic readout of the window mean.

    p(reversal) = sigmoid(weight * mean of the valid z-scores in the window + bias). It follows
    the Engine contract (prepare, infer, preallocated state) but is no trained model.
    """

    name = "window-mean"
    states = ("forward", "reversal")
    n_features = N_FEATURES

    def __init__(self, window: int = 8, weight: float = 2.0, bias: float = -0.5) -> None:
        self.window = window
        self.preprocess = PreprocessConfig()
        self.weight = weight
        self.bias = bias
        self.prepared: list[tuple[int, tuple[str | None, ...] | None, float | None]] = []
        self._probs = np.zeros(2, np.float32)

    def prepare(
        self,
        n_neurons: int,
        labels: Sequence[str | None] | None = None,
        frame_interval_s: float | None = None,
    ) -> None:
        self.prepared.append(
            (n_neurons, None if labels is None else tuple(labels), frame_interval_s)
        )

    def infer(self, window: np.ndarray, valid: np.ndarray) -> np.ndarray:
        assert window.shape == (self.window, self.prepared[-1][0], self.n_features)
        count = int(valid.sum())
        mean = float((window[..., 0] * valid).sum() / count) if count else 0.0
        p = 1.0 / (1.0 + np.exp(-(self.weight * mean + self.bias)))
        self._probs[0], self._probs[1] = 1.0 - p, p
        return self._probs.copy()

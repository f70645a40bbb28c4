"""The pipeline's side of self-calibration: one :class:`~rtdecode.calibration.Calibrator` per
neuron layout, fed from the decoding loop, and its head swapped in before the sinks publish.

Per decoded frame, before publishing: once the calibrator holds a head (chosen by its fit, or
an earlier session's), the frame's head features are built from the window's last row and the
shipped probability, and the head's probabilities replace the shipped model's
(``Prediction.head = 1``). After publishing (off the critical path): while the calibrator
collects, the frame's features go to :meth:`Calibrator.add` with the aligned behaviour target.
Frames of a filling window are fed too, with no shipped probability (the head on the neurons
alone learns from them). The first ``config.skip_s`` seconds of a layout are not fed (the running
z-score settles), as in ``rtdecode eval --calibrate``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from rtdecode.calibration import (
    AnimalDecoder,
    CalibrationConfig,
    CalibrationResult,
    Calibrator,
    CrossModel,
    Head,
)
from rtdecode.errors import ConfigError
from rtdecode.live._windower import Windower
from rtdecode.log import RateLimitedLog, get_logger
from rtdecode.stream import Prediction

if TYPE_CHECKING:
    from rtdecode.policy import PolicyConfig, ThresholdChoice

__all__ = ["MAX_CALIBRATION_BYTES", "LiveCalibration"]

_log = get_logger(__name__)
_rate_limited = RateLimitedLog(_log)

_RECENT = 32
"""Frames kept to prime the fused decision's role pooler when it takes over (more than its
longest difference horizon, 1.8 s, at any rate up to 17 frames/s)."""

MAX_CALIBRATION_BYTES = 256 << 20
"""Largest calibration period kept in memory (about ``seconds x rate x (2 n + 1) x 8`` bytes);
beyond it calibration is off for the layout, with a log line (shorten ``--calibrate``)."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats as ``None`` (strict JSON)."""
    return {k: _finite(v) if isinstance(v, float) else v for k, v in values.items()}


class LiveCalibration:
    """Self-calibration across a session's neuron layouts.

    Parameters
    ----------
    config
        Calibration settings (``config.seconds`` on the frames' own clock).
    states
        The decoder's states: two, one of them ``reversal``.
    frame_interval_s
        The stream's frame interval if known (sizes the calibrator; else measured).
    start
        A head from an earlier session of this animal (``--calibration-from``): it decodes from
        the first frame while this session calibrates.
    start_from
        Where ``start`` came from (for the log and the summary).
    budget
        The trigger policy when it has ``false_per_min``: each layout's calibrator sets the
        armed rule's threshold when its fit is done (:meth:`new_threshold` hands it on).
    fused
        The fused decision's cross-animal part: each layout's calibrator also fits the animal's
        part, and from then on its ``fused_part`` decides (``Prediction.head = 2``).
    fused_part
        Which of :data:`~rtdecode.calibration.OUTPUTS` decides.
    velocity
        ``--fuse-behavior``: the tracked velocity at a frame's time (NaN when none), which the
        fused stack then takes too; ``None``: neural only.

    Attributes
    ----------
    calibrator
        The current layout's calibrator (``None`` until its first frame, or when off).
    head_predictions
        Predictions published from a calibrated head.
    layouts_discarded
        Calibrators discarded by a layout reset.
    """

    def __init__(
        self,
        config: CalibrationConfig,
        states: tuple[str, ...],
        frame_interval_s: float | None = None,
        start: Head | None = None,
        start_from: str | None = None,
        budget: PolicyConfig | None = None,
        fused: CrossModel | None = None,
        fused_part: str = "fused",
        velocity: Callable[[float], float] | None = None,
    ) -> None:
        if len(states) != 2 or "reversal" not in states:
            raise ConfigError(
                f"self-calibration needs a model with two states, one of them 'reversal'; this "
                f"one has {states}: pass --calibrate 0"
            )
        self.config = config
        self.frame_interval_s = frame_interval_s
        self.start = start
        self.start_from = start_from
        self.budget = budget
        self.fused = fused
        self.fused_part = fused_part
        self._velocity = velocity
        self.fused_predictions = 0
        self._recent: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=_RECENT)
        self._primed = False
        self._threshold_given: ThresholdChoice | None = None
        self._rev = states.index("reversal")
        self._probs = np.zeros(2, np.float32)
        self.calibrator: Calibrator | None = None
        self.head_predictions = 0
        self.layouts_discarded = 0
        self._n = 0
        self._off = ""  # why calibration is off for this layout
        self._layout_t: float | None = None
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._features: np.ndarray | None = None
        self._fused_p: float | None = None  # the fused decision's probability of this frame
        self._shipped = math.nan
        self._announced = False
        self._untargeted = 0  # frames without a target before the calibrator was made

    # ------------------------------------------------------------------ layout
    def new_layout(self, n_neurons: int) -> None:
        """Forget the last layout's calibrator: its head does not fit ``n_neurons`` inputs."""
        if self.calibrator is not None or self._layout_t is not None:
            self.layouts_discarded += 1
            _rate_limited.warning(  # a layout flipping every frame must not flood the log
                "layout",
                f"neuron layout reset ({self._n} -> {n_neurons} neurons): calibration restarts "
                "from the shipped model for the new layout"
                + (
                    ""
                    if self.calibrator is None
                    else " (the old layout's calibration is discarded)"
                ),
            )
        self.calibrator = None
        self._n = n_neurons
        self._off = ""
        self._layout_t = self._first_t = self._last_t = None
        self._features = None
        self._announced = False
        self._untargeted = 0
        self._recent.clear()
        self._primed = False

    def _ensure(self, windower: Windower, t: float, make: bool) -> Calibrator | None:
        """The layout's calibrator; with ``make``, made if missing and the interval is known
        (at the first frame with a behaviour target, or at once with an earlier head: a stream
        without behaviour never pays for one)."""
        if self.calibrator is not None or self._off:
            return self.calibrator
        if self._layout_t is None:
            self._layout_t = t
        if not make:
            return None
        interval = self.frame_interval_s or windower.interval_estimate()
        if interval is None or not interval > 0:
            return None
        dim = 2 * self._n + 1
        need = self.config.seconds / interval * 1.5 * dim * 8
        if need > MAX_CALIBRATION_BYTES:
            self._off = f"{need / 2**20:.0f} MiB needed"
            _log.error(
                "calibration off for this layout: %g s at %.3g frames/s of %d neurons would "
                "keep %.0f MiB (at most %.0f); pass a shorter --calibrate",
                self.config.seconds,
                1.0 / interval,
                self._n,
                need / 2**20,
                MAX_CALIBRATION_BYTES / 2**20,
            )
            return None
        start = self.start
        if start is not None and start.weights.shape != (dim,):
            _log.warning(
                "the earlier session's head (%s) has %d inputs, this layout %d neurons (%d): "
                "not used",
                self.start_from,
                start.weights.shape[0],
                self._n,
                dim,
            )
            start = None
        fused = None
        if self.fused is not None:
            fuse = self._velocity is not None
            fused = AnimalDecoder(self.fused, None, fuse, self.fused_part)
        self.calibrator = Calibrator(self._n, interval, self.config, start, self.budget, fused)
        _log.info(
            "calibrating %d neurons on the first %g s of tracked behaviour; %s decodes meanwhile",
            self._n,
            self.config.seconds,
            "the shipped model" if start is None else f"the head from {self.start_from}",
        )
        return self.calibrator

    # ------------------------------------------------------------------ per frame
    def warming(
        self, window: np.ndarray, valid: np.ndarray, t: float, windower: Windower, target: Any
    ) -> None:
        """Feed a frame whose window (``(W, n, F)``, ``(W, n)``) is still filling: no shipped
        probability."""
        self._features = None
        self._fused_p = None
        self._feed(window, valid, t, windower, math.nan, target)

    def decode(
        self, prediction: Prediction, window: np.ndarray, valid: np.ndarray, windower: Windower
    ) -> None:
        """Before publishing: the fused decision's or the calibrated head's probabilities, once
        there is one (the fused decision first)."""
        self._features = None
        self._fused_p = None
        self._shipped = float(prediction.probs[self._rev])
        calibrator = self._ensure(windower, prediction.t, self.start is not None)
        if self.fused is not None:
            if calibrator is not None and calibrator.fused_ready:
                self._fuse(calibrator, prediction, window[-1], valid[-1], prediction.t)
                return
            self._recent.append((window[-1].copy(), valid[-1].copy()))
        if calibrator is None or calibrator.head is None:
            return
        features = calibrator.features(window[-1], valid[-1], self._shipped)
        p, head = calibrator.predict(features, self._shipped)
        self._features = features
        if head:
            probs = self._probs
            probs[self._rev] = p
            probs[1 - self._rev] = 1.0 - p
            prediction.probs = probs  # the decision step decides the state from them
            prediction.head = 1
            self.head_predictions += 1

    def _fuse(
        self,
        calibrator: Calibrator,
        prediction: Prediction,
        frame: np.ndarray,
        valid: np.ndarray,
        t: float,
    ) -> None:
        """The fused decision decides this frame (the pooler primed on the frames before it)."""
        decoder = calibrator.fused
        assert decoder is not None
        if not self._primed:
            decoder.prime(list(self._recent))
            self._recent.clear()
            self._primed = True
        velocity = math.nan if self._velocity is None else self._velocity(t)
        p = float(decoder.step(frame, valid, velocity)[decoder.decides_at])
        self._fused_p = p
        probs = self._probs
        probs[self._rev] = p
        probs[1 - self._rev] = 1.0 - p
        prediction.probs = probs
        prediction.head = 2
        self.fused_predictions += 1

    def new_threshold(self) -> ThresholdChoice | None:
        """The budget threshold once, when the calibrator has just chosen it (else ``None``)."""
        calibrator = self.calibrator
        if calibrator is None or calibrator.result is None:
            return None
        choice = calibrator.threshold
        if choice is None or choice is self._threshold_given:
            return None
        self._threshold_given = choice
        return choice

    def learn(
        self, window: np.ndarray, valid: np.ndarray, t: float, windower: Windower, target: Any
    ) -> None:
        """After publishing: keep the decoded frame for calibration, with its target."""
        self._feed(window, valid, t, windower, self._shipped, target)

    def _feed(
        self,
        window: np.ndarray,
        valid: np.ndarray,
        t: float,
        windower: Windower,
        shipped: float,
        target: Any,
    ) -> None:
        calibrator = self._ensure(windower, t, target is not None or self.start is not None)
        assert self._layout_t is not None
        settling = t - self._layout_t < self.config.skip_s  # the running z-score settles
        if calibrator is None:
            self._untargeted += not settling
            return
        if not calibrator.collecting:
            if not self._announced and calibrator.result is not None:
                self._announce(calibrator)
            if target is not None and self._features is not None:  # the head decoded it
                calibrator.follow(self._features, shipped, bool(target))
            if target is not None and self._fused_p is not None:  # the fused decision did
                calibrator.follow_fused(self._fused_p, shipped, bool(target))
            return
        if settling:
            return
        features = self._features
        if features is None:
            features = calibrator.features(window[-1], valid[-1], shipped)
        if target is not None:
            if self._first_t is None:
                self._first_t = t
            self._last_t = t
        calibrator.add(features, shipped, None if target is None else bool(target), t)

    def _announce(self, calibrator: Calibrator) -> None:
        """Log, once per layout and at the default level, which head decodes from now on."""
        self._announced = True
        result = calibrator.result
        assert result is not None
        head = {
            "fused": f"the fused decision ({self._fused_name()})",
            "calibrated": "the calibrated head",
            "shipped": "the shipped model",
        }[self.decides()]
        _log.warning(
            "calibration done after %d frames: %s decodes from now on (%s; held-back AUROC "
            "head %.3f, shipped %.3f)",
            result.frames,
            head,
            result.reason
            if calibrator.head is None or result.head is not None
            else f"kept the head from {self.start_from}",
            result.head_score,
            result.shipped_score,
        )

    # ------------------------------------------------------------------ report
    def _collected_s(self) -> float:
        if self._first_t is None or self._last_t is None:
            return 0.0
        return self._last_t - self._first_t

    def status(self) -> str:
        """For the status line: progress, then which head decodes and why."""
        calibrator = self.calibrator
        if self._off:
            return f"calib off ({self._off}), head shipped"
        if calibrator is None or calibrator.collecting:
            if self._first_t is None:
                return "calib waiting for behaviour (none aligned yet; shipped model decodes)"
            return f"calib {self._collected_s():.0f}/{self.config.seconds:g} s"
        result = calibrator.result
        if result is None:
            return "calib fitting"
        head = self.decides()
        if calibrator.switched_back:
            head = "shipped (switched back: it decoded better)"
        return (
            f"head {head} (held-back AUROC {result.head_score:.2f} vs {result.shipped_score:.2f})"
        )

    def finish(self, timeout: float = 60.0) -> None:
        """At the end of a session: let a fit in flight finish (its outcome is kept)."""
        calibrator = self.calibrator
        if calibrator is not None and not calibrator.collecting and calibrator.result is None:
            _log.info("waiting for the calibration fit to finish (at most %g s)", timeout)
            calibrator.wait(timeout)

    def _reason(self) -> str:
        calibrator = self.calibrator
        if self._off:
            return f"calibration off for this layout ({self._off}); shorten --calibrate"
        if self._first_t is None:
            return "no behaviour target aligned to any frame: the calibrator never fit"
        if calibrator is not None and calibrator.collecting:
            return (
                f"session ended after {self._collected_s():.0f} of {self.config.seconds:g} s of "
                "calibration"
            )
        return "the fit did not finish before the session ended"

    def outcome(self) -> dict[str, Any]:
        """The calibration's outcome, as the session file keeps it (with the head's weights and,
        with ``--false-per-min``, the trigger threshold chosen and why under ``threshold``)."""
        outcome = self._outcome()
        outcome["decides"] = self.decides()
        choice = None if self.calibrator is None else self.calibrator.threshold
        if self.budget is not None:
            outcome["threshold"] = None if choice is None else _json_ready(choice.as_dict())
        return outcome

    def decides(self) -> str:
        """Who decides now: ``fused``, ``calibrated`` (the animal's head) or ``shipped``."""
        calibrator = self.calibrator
        if calibrator is None:
            return "calibrated" if self.start is not None else "shipped"
        if calibrator.fused_ready:
            return "fused"
        return "shipped" if calibrator.head is None else "calibrated"

    def _fused_name(self) -> str:
        """What of the fused decision decides: its part, or the stack with velocity."""
        if self._velocity is not None:
            return "fused stack with tracked velocity"
        return "fused stack" if self.fused_part == "fused" else f"its {self.fused_part} part"

    def _outcome(self) -> dict[str, Any]:
        calibrator = self.calibrator
        result = None if calibrator is None else calibrator.result
        head = None if calibrator is None else calibrator.head
        if result is not None and calibrator is not None and calibrator.switched_back:
            return {  # no weights: --calibration-from must not start from a head that lost
                **result.as_dict(),
                "chosen": "shipped",
                "reason": f"switched back to the shipped model: {calibrator.switched_back} "
                f"(the head had been chosen: {result.reason})",
                "switched_back": calibrator.switched_back,
            }
        if result is not None and (result.head is not None or head is None):
            return result.as_dict(weights=True)
        if head is not None:  # the earlier session's head, kept
            why = "this session could not decide" if result is not None else self._reason()
            kept = CalibrationResult(
                head,
                "calibrated",
                math.nan if result is None else result.head_score,
                math.nan if result is None else result.shipped_score,
                0 if result is None else result.frames,
                0 if result is None else result.holdout_frames,
                f"kept the head from {self.start_from} ({why})",
            )
            return kept.as_dict(weights=True)
        return {
            "chosen": "shipped",
            "head_score": math.nan,
            "shipped_score": math.nan,
            "frames": 0,
            "holdout_frames": 0,
            "reason": self._reason(),
        }

    def summary(self) -> dict[str, Any]:
        """The summary's ``calibration`` block."""
        outcome = self.outcome()
        outcome.pop("weights", None)
        outcome.pop("bias", None)
        calibrator = self.calibrator
        return {
            **{k: _finite(v) if isinstance(v, float) else v for k, v in outcome.items()},
            "seconds": self.config.seconds,
            "collected_s": round(self._collected_s(), 3),
            "frames_without_behaviour": self._untargeted
            + (0 if calibrator is None else calibrator.without_behaviour),
            "head_predictions": self.head_predictions,
            "fit_s": None if calibrator is None else calibrator.fit_s,
            "fit_cpu_s": None if calibrator is None else calibrator.fit_cpu_s,
            "fused_predictions": self.fused_predictions,
            "fused_part": None if self.fused is None else self._fused_name(),
            "fused_reason": None if calibrator is None else calibrator.fused_reason or None,
            "layouts_discarded": self.layouts_discarded,
            "from": self.start_from,
        }

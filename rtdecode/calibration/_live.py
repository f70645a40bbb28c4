"""The live side: a :class:`Calibrator` fed per decoded frame, fitting off the decoding thread."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

from rtdecode.calibration._evidence import HeadWatch, switch_evidence
from rtdecode.calibration._head import (
    CalibrationConfig,
    CalibrationResult,
    Head,
    crossfit_scores,
    fit_calibration,
    head_features,
)
from rtdecode.log import get_logger

if TYPE_CHECKING:
    from rtdecode.calibration._decision import AnimalDecoder
    from rtdecode.policy import PolicyConfig, ThresholdChoice

__all__ = ["Calibrator"]

_log = get_logger(__name__)
_SLOW_FIT_S = 1.0  # a fit slower than this is reported (the machine is loaded)


class Calibrator:
    """Collects one animal's calibration period and switches to its head when that is better.

    Per decoded frame the pipeline calls :meth:`features` (the head's inputs, written into a
    buffer the calibrator owns), then :meth:`add` with the tracked reversal state (or ``None``
    when no behaviour sample was aligned to the frame) and :meth:`predict`. Both copy into
    preallocated arrays and allocate nothing; once ``config.seconds`` of frames with behaviour
    are in, :func:`~rtdecode.calibration.fit_calibration` runs once in a background thread and
    its head takes over from the next frame if it was chosen.

    Parameters
    ----------
    n_neurons
        Neurons per frame (a layout change needs a new calibrator).
    frame_interval_s
        Expected seconds per frame (sizes the arrays; more frames than that are not kept).
    config
        Calibration settings.
    start
        A head from an earlier session of this animal (``--calibration-from``); it decodes
        from the first frame and calibration still runs (the new choice replaces it unless
        the new period could not decide).
    budget
        A trigger policy with ``false_per_min``: when the fit is done, its armed rule's
        threshold is set from the calibration period's out-of-sample scores of the head that
        decodes from then on (:func:`~rtdecode.policy.calibration_threshold`; :attr:`threshold`).
    fused
        The fused decision's animal part, fit with the head on the same frames (roles, state and
        onset heads); :attr:`fused_ready` once it is.

    Attributes
    ----------
    result
        The :class:`~rtdecode.calibration.CalibrationResult` once the fit is done, else None.
    without_behaviour
        Frames added with no behaviour sample (counted, not used).
    fit_s, fit_cpu_s
        The fit's wall-clock and CPU seconds (``None`` before it ran): on an idle core the two
        are close; a wall time well above the CPU time means the machine was loaded.
    switched_back
        Why the decoder went back to the shipped model after switching to this session's
        head (see :meth:`follow`); ``None`` while it has not.
    threshold
        The budget threshold chosen with the fit (``None`` without ``budget``, or until then);
        the shipped model's once the decoder switched back to it.
    fused_ready
        ``fused`` is calibrated and decides from now on: its deciding score, cross-fitted over
        the period, surely beat the shipped model's (the calibrated head's evidence rule).
    fused_reason
        Why it decides or not (empty before the fit).
    """

    def __init__(
        self,
        n_neurons: int,
        frame_interval_s: float,
        config: CalibrationConfig | None = None,
        start: Head | None = None,
        budget: PolicyConfig | None = None,
        fused: AnimalDecoder | None = None,
    ) -> None:
        self.config = config or CalibrationConfig()
        self.fused = fused
        self.fused_ready = False
        self.fused_reason = ""
        self._fused_period = np.zeros(0)
        self._fused_watch: HeadWatch | None = None
        self.frame_interval_s = frame_interval_s
        self.budget = budget if budget is not None and budget.false_per_min else None
        self.n_neurons = n_neurons
        dim = 2 * n_neurons + 1
        if start is not None and start.weights.shape != (dim,):
            raise ValueError(
                f"the earlier session's head has {start.weights.shape[0]} inputs but this "
                f"stream has {n_neurons} neurons ({dim} inputs); calibrate afresh"
            )
        capacity = int(np.ceil(self.config.seconds / frame_interval_s * 1.5)) + 8
        # np.full writes every page now, so the per-frame copies never fault one in.
        self._x = np.full((capacity, dim), 0.0)
        self._y = np.full(capacity, False)
        self._shipped = np.full(capacity, 0.0)
        self._t = np.full(capacity, 0.0)
        self._count = 0
        self._first_t: float | None = None
        self._buffer = np.zeros(dim)
        self._thread: threading.Thread | None = None
        self.head: Head | None = start
        self.result: CalibrationResult | None = None
        self.without_behaviour = 0
        self.switched_back: str | None = None
        self.fit_s: float | None = None
        self.fit_cpu_s: float | None = None
        self._watch: HeadWatch | None = None
        self.threshold: ThresholdChoice | None = None
        self._fallback: ThresholdChoice | None = None  # the shipped model's, for a switch back

    @property
    def collecting(self) -> bool:
        """Still gathering the calibration period."""
        return self._thread is None

    @property
    def done(self) -> bool:
        """The fit has finished (see :attr:`result`)."""
        return self.result is not None

    def features(self, frame: np.ndarray, valid: np.ndarray, shipped_prob: float) -> np.ndarray:
        """This frame's head features (see :func:`~rtdecode.calibration.head_features`)."""
        return head_features(frame, valid, shipped_prob, self._buffer)

    def add(
        self, features: np.ndarray, shipped_prob: float, reversal: bool | None, t: float
    ) -> None:
        """Keep one frame for calibration; start the fit once the period is complete.

        Parameters
        ----------
        features
            The frame's head features (from :meth:`features`).
        shipped_prob
            The shipped model's reversal probability for the frame.
        reversal
            The tracked reversal state aligned to the frame, or ``None`` without a sample.
        t
            Frame time, seconds.
        """
        if self._thread is not None:
            return
        if reversal is None:
            self.without_behaviour += 1
            return
        if self._first_t is None:
            self._first_t = t
        i = self._count
        if i < len(self._y):
            self._x[i] = features
            self._y[i] = reversal
            self._shipped[i] = shipped_prob
            self._t[i] = t
            self._count = i + 1
        if t - self._first_t >= self.config.seconds or self._count == len(self._y):
            self._thread = threading.Thread(target=self._fit, name="calibration", daemon=True)
            self._thread.start()

    def predict(self, features: np.ndarray, shipped_prob: float) -> tuple[float, int]:
        """The reversal probability to publish and which head gave it (0 shipped, 1 calibrated)."""
        head = self.head
        if head is None:
            return shipped_prob, 0
        return head.predict(features), 1

    def follow(self, features: np.ndarray, shipped_prob: float, reversal: bool) -> None:
        """After a switch to this session's head: score both heads on one more frame with
        behaviour, and go back to the shipped model when it decodes better (logged).

        Parameters
        ----------
        features
            The frame's head features (from :meth:`features`).
        shipped_prob
            The shipped model's reversal probability for the frame.
        reversal
            The tracked reversal state aligned to the frame.
        """
        watch, head = self._watch, self.head
        if watch is None or head is None or not np.isfinite(shipped_prob):
            return
        if watch.add(head.predict(features), shipped_prob, reversal):
            self.head = None
            self.switched_back = watch.reason
            _log.warning("switched back to the shipped model: %s", watch.reason)
            if self._fallback is not None:  # the armed rule's threshold follows the model
                self.threshold = self._fallback
                _log.warning(
                    "--false-per-min: the trigger threshold goes back to the shipped model's, "
                    "logit %.3f (%s)",
                    self._fallback.threshold,
                    self._fallback.reason,
                )

    def follow_fused(self, fused_prob: float, shipped_prob: float, reversal: bool) -> None:
        """While the fused decision decides: score it and the shipped model on one more frame
        with behaviour, and hand back (to the calibrated head or the shipped model) when the
        shipped model decodes better, as :meth:`follow` does for the head (logged)."""
        watch = self._fused_watch
        if not self.fused_ready or watch is None or not np.isfinite(shipped_prob):
            return
        if watch.add(fused_prob, shipped_prob, reversal):
            self.fused_ready = False
            self.fused_reason = f"switched back: {watch.reason}"
            _log.warning("the fused decision no longer decides: %s", watch.reason)

    def wait(self, timeout: float | None = None) -> CalibrationResult | None:
        """Block until the background fit is done (for tests and the end of a session)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _fit(self) -> None:
        n = self._count
        began, began_cpu = time.perf_counter(), time.thread_time()
        result = fit_calibration(self._x[:n], self._y[:n], self._shipped[:n], self.config)
        self.fit_cpu_s = time.thread_time() - began_cpu
        self.fit_s = time.perf_counter() - began
        # An earlier session's head is kept only when this period could not decide.
        head = self.head
        if result.head is not None or np.isfinite(result.shipped_score):
            head = result.head
        if result.head is not None:  # keep comparing it with the shipped model
            self._watch = HeadWatch(len(self._y), self.config.min_state_frames)
        if self.fused is not None:
            self._fit_fused(n)
        if self.budget is not None:
            self.threshold = self._budget_threshold(n, head, head is result.head)
            if head is not None and head is result.head and not self.fused_ready:
                # ready should the head be switched back (the fused decision never is)
                self._fallback = self._budget_threshold(n, None, False, announce=False)
        self.head = head
        self.result = result
        _log.info(
            "calibration after %d frames: %s (held-back AUROC head %.3f, shipped %.3f; %s); "
            "the fit took %.2f s (%.2f s of CPU)",
            n,
            result.chosen,
            result.head_score,
            result.shipped_score,
            result.reason,
            self.fit_s,
            self.fit_cpu_s,
        )
        if self.fit_s > _SLOW_FIT_S:
            _log.warning(
                "the calibration fit took %.1f s (%.2f s of CPU; about 0.2 s on an idle core): "
                "the machine is loaded; the shipped model decoded meanwhile",
                self.fit_s,
                self.fit_cpu_s,
            )

    def _budget_threshold(
        self, n: int, head: Head | None, fit_here: bool, announce: bool = True
    ) -> ThresholdChoice:
        """The armed rule's threshold for ``self.budget`` from the period's out-of-sample scores
        of the head that decodes next: the fused decision's or the calibrated head's cross-fitted
        (fit on these frames), an earlier session's head's own probabilities, else the shipped
        model's (logged when ``announce``)."""
        from rtdecode.policy import calibration_threshold

        budget = self.budget
        assert budget is not None and budget.false_per_min is not None
        x, y = self._x[:n], self._y[:n]
        if self.fused_ready:
            p = self._fused_period
            source = f"fused decision, cross-fitted over {self.config.blocks} blocks"
        elif head is None:
            p = np.where(np.isfinite(self._shipped[:n]), self._shipped[:n], np.nan)
            source = "shipped model"
        elif fit_here:
            p = crossfit_scores(x, y, head, self.config)
            source = f"calibrated head, cross-fitted over {self.config.blocks} blocks"
        else:
            p = head.predict_many(x)
            source = "the earlier session's head"
        q = np.clip(p, 1e-4, 1 - 1e-4)
        choice = calibration_threshold(
            self._t[:n],
            np.log(q / (1.0 - q)),
            y,
            budget.false_per_min,
            budget.cross_threshold,
            budget.prior_evidence,
            budget.arm_s,
            budget.refractory_s,
        )
        if not announce:
            return choice
        _log.warning(
            "--false-per-min %g: trigger threshold logit %.3f (p %.3f) from %s scores of %.1f "
            "calibration minutes: %d false / %d fires there (allowed %d); %s",
            budget.false_per_min,
            choice.threshold,
            1.0 / (1.0 + np.exp(-choice.threshold)) if np.isfinite(choice.threshold) else 1.0,
            source,
            choice.minutes,
            choice.false_at_threshold,
            choice.fires_at_threshold,
            choice.allowed_false,
            choice.reason,
        )
        return choice

    def _period(self, n: int) -> np.ndarray:
        """``(n, N, 2)`` the calibration frames' z-scores and derivatives (invalid ones as 0)."""
        m, x = self.n_neurons, self._x[:n]
        return np.stack([x[:, :m], x[:, m : 2 * m]], axis=2)

    def _crossfit_fused(self, n: int) -> np.ndarray:
        """The fused decision's deciding score on the calibration period, each block scored by
        the animal's part fit on the other blocks (NaN where those hold one behaviour state;
        without velocity, which the period does not keep)."""
        fused = self.fused
        assert fused is not None
        features = self._period(n)
        valid = np.ones(features.shape[:2], bool)
        scores = fused.crossfit(
            features, valid, self._y[:n], np.arange(n), self.frame_interval_s, self.config.blocks
        )
        return scores[:, fused.decides_at]

    def _fit_fused(self, n: int) -> None:
        """Calibrate the fused decision's animal part on the period (logged when it cannot)."""
        from rtdecode.errors import ConfigError

        assert self.fused is not None
        features = self._period(n)
        m = self.n_neurons
        try:
            self.fused.calibrate(
                features, np.ones((n, m), bool), self._y[:n], self.frame_interval_s
            )
        except ConfigError as exc:
            self.fused_reason = f"it could not calibrate ({exc})"
            _log.error("the fused decision does not decide: %s", self.fused_reason)
            return
        self._fused_period = self._crossfit_fused(n)
        config = self.config
        sure, why, _ = switch_evidence(
            self._y[:n],
            self._fused_period,
            self._shipped[:n],
            config.min_state_frames,
            config.level,
            config.margin,
        )
        self.fused_reason = why
        if not sure:  # as for the calibrated head: no switch on thin evidence
            _log.warning("the fused decision does not decide: %s", why)
            return
        self._fused_watch = HeadWatch(n, config.min_state_frames)
        self.fused_ready = True

"""Online, causal preprocessing of one stream: frames in, per-neuron features out."""

from __future__ import annotations

import numpy as np

from rtdecode.errors import ConfigError
from rtdecode.kernels.normalize import N_FEATURES, skew_step, zscore_step
from rtdecode.preprocess._config import PreprocessConfig

__all__ = ["N_FEATURES", "Preprocessor", "preprocess_traces"]


class Preprocessor:
    """Running z-score and derivative per neuron, one frame at a time, with no allocation.

    Parameters
    ----------
    n_neurons
        Neurons per frame; a stream whose neuron count changes needs a new Preprocessor.
    config
        Time constant and floors.

    Notes
    -----
    Output channels per neuron: ``[z, dz/dt, running skewness of z]`` (see
    :mod:`rtdecode.kernels.normalize`).
    Non-finite inputs carry the neuron's last z forward and are reported in ``valid``.
    """

    n_features = N_FEATURES

    def __init__(self, n_neurons: int, config: PreprocessConfig | None = None) -> None:
        if n_neurons < 1:
            raise ConfigError(f"n_neurons must be >= 1, got {n_neurons}")
        self.config = config or PreprocessConfig()
        self.n_neurons = n_neurons
        self._mean = np.zeros(n_neurons, dtype=np.float64)
        self._var = np.zeros(n_neurons, dtype=np.float64)
        self._count = np.zeros(n_neurons, dtype=np.int64)
        self._last_z = np.zeros(n_neurons, dtype=np.float32)
        self._skew = np.zeros(n_neurons, dtype=np.float64)
        self._skew_tau = self.config.skew_tau_s
        self._last_t: float | None = None
        self._min_var = self.config.min_std**2

    def reset(self) -> None:
        """Forget all history (a new animal, or a change of neuron set)."""
        self._mean.fill(0.0)
        self._var.fill(0.0)
        self._count.fill(0)
        self._last_z.fill(0.0)
        self._skew.fill(0.0)
        self._last_t = None

    def update(self, frame: np.ndarray, t: float, out: np.ndarray, valid: np.ndarray) -> int:
        """Consume one frame taken at time ``t`` (seconds); write ``(n, F)`` features into ``out``.

        Parameters
        ----------
        frame
            ``(n,)`` float32 values.
        t
            Acquisition time in seconds (only differences matter).
        out
            ``(n, n_features)`` float32 destination, for example a ring-buffer row.
        valid
            ``(n,)`` bool destination, False where the value was not finite.

        Returns
        -------
        int
            Number of non-finite values in the frame.
        """
        dt = 0.0 if self._last_t is None else min(t - self._last_t, self.config.max_dt_s)
        self._last_t = t
        bad = int(
            zscore_step(
                frame,
                dt,
                self.config.tau_s,
                self._min_var,
                self._mean,
                self._var,
                self._count,
                self._last_z,
                out,
                valid,
            )
        )
        skew_step(dt, self._skew_tau, self._count, self._skew, out, valid)
        return bad


def preprocess_traces(
    traces: np.ndarray, timestamps: np.ndarray, config: PreprocessConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run a :class:`Preprocessor` over a whole recording, frame by frame (causal).

    Gives exactly what the live path computes for the same frames, for training and evaluation.

    Parameters
    ----------
    traces
        ``(T, N)`` activity.
    timestamps
        ``(T,)`` seconds.
    config
        Preprocessing settings.

    Returns
    -------
    features, valid
        ``(T, N, F)`` float32 features and ``(T, N)`` bool validity.
    """
    traces = np.ascontiguousarray(traces, dtype=np.float32)
    n_frames, n_neurons = traces.shape
    pre = Preprocessor(n_neurons, config)
    features = np.empty((n_frames, n_neurons, N_FEATURES), dtype=np.float32)
    valid = np.empty((n_frames, n_neurons), dtype=np.bool_)
    for i in range(n_frames):
        pre.update(traces[i], float(timestamps[i]), features[i], valid[i])
    return features, valid

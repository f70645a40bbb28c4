"""A finished session's recorded activity, shown at the time slider's position.

``rtdecode view SESSION.h5`` reads the file's ``/activity`` (each published frame's
preprocessed row, :func:`~rtdecode.stream.read_activity`) and, for the slider's time ``t``,
puts into the stream's :class:`~rtdecode.view._state.StreamState` what the live view would have
held at that moment:

- **raster**: the normalised activity of the frames in the shown span ending at ``t`` (at most
  the state's raster columns, evenly picked);
- **manifold**: the principal components fitted on every frame of the layout up to ``t``, in
  order (causal: nothing after ``t``; a move forward only adds the new frames), with the recent
  frames projected and coloured by their decision;
- **graph**: the window of the engine's size ending at ``t``, for the model's edge module (run
  by the server's worker, :meth:`~rtdecode.view._state.StreamState.edge_job`).

Only published frames are recorded (as the live view receives them): frames skipped under
backpressure are missing from the window, as they are from the live view's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rtdecode.view._manifold import IncrementalPCA

if TYPE_CHECKING:
    from rtdecode.stream import SessionActivity
    from rtdecode.view._state import StreamState

__all__ = ["RecordedActivity"]

_BATCH = 4096  # frames per batch of the manifold's replay (bounded memory), and per checkpoint


class RecordedActivity:
    """A session's activity and each frame's decision, replayed into a state.

    Parameters
    ----------
    activity
        What the file holds.
    decisions
        Each recorded frame's decision code (0 forward, 1 reversal, 2 uncertain).
    t0
        The frame time the page shows as 0.
    """

    def __init__(self, activity: SessionActivity, decisions: np.ndarray, t0: float) -> None:
        self.activity = activity
        self.decisions = decisions
        self.t = activity.t - t0  # page time
        self.shown = -2  # the frame shown last (-1: none yet)
        self._pca_layout = -1
        self._pca_frames = 0  # frames of the layout in the running fit
        self._checkpoints: dict[int, IncrementalPCA] = {}  # the fit after every _BATCH frames

    def frame_at(self, t: float) -> int:
        """The newest frame at or before page time ``t`` (-1: none)."""
        return int(np.searchsorted(self.t, t, side="right")) - 1

    def show(self, state: StreamState, t: float, span_s: float) -> bool:
        """Put the activity at page time ``t`` into ``state``; False when nothing changed."""
        k = self.frame_at(t)
        if k == self.shown:
            return False
        self.shown = k
        if k < 0:
            state.raster = state.pca = None
            state.raster_total = 0
            state.manifold_rows.clear()
            state.set_window(None, None, None)
            return True
        index = int(self.activity.layout[k])
        layout = self.activity.layouts[index]
        start = layout.row
        if state.layout_id != index:  # another layout: its identities, a fresh module
            state.layout_id = index
            assert state.context is not None
            state.context.labels = layout.labels
            state.context.frame_interval_s = layout.frame_interval_s
            state.context.window = layout.window
            state.edge_module = None
            state.edges = state.role = None
        self._raster(state, start, k, t - span_s)
        self._manifold(state, index, start, k)
        window = layout.window
        if window and k + 1 - start >= window:
            features, valid = self.activity.rows(k + 1 - window, k + 1)
            state.set_window(features, valid, self.activity.t[k + 1 - window : k + 1])
        else:
            state.set_window(None, None, None)
        return True

    def _raster(self, state: StreamState, start: int, k: int, since: float) -> None:
        lo = max(start, int(np.searchsorted(self.t, since, side="right")))
        lo = min(lo, k)
        picked = np.unique(np.linspace(lo, k, min(k + 1 - lo, state.raster_columns)).round())
        picked = picked.astype(np.int64)
        rows = self.activity.activity(lo, k + 1)[picked - lo]
        raster = np.full((rows.shape[1], state.raster_columns), np.nan, np.float32)
        raster[:, : len(picked)] = rows.T
        state.raster = raster
        state.raster_t[:] = np.nan
        state.raster_t[: len(picked)] = self.t[picked]
        state.raster_total = len(picked)

    def _manifold(self, state: StreamState, index: int, start: int, k: int) -> None:
        """The running fit over the layout's frames up to ``k``, replayed in order from the
        latest fit not past ``k``: the one shown, or a checkpoint."""
        pca, frames = state.pca, k + 1 - start
        if self._pca_layout != index:
            self._checkpoints.clear()
        done = max((c for c in self._checkpoints if c <= frames), default=0)
        again = pca is None or self._pca_layout != index or self._pca_frames > frames
        if again or done > self._pca_frames:  # from the nearest fit that is not later
            old = pca
            saved = self._checkpoints.get(done)
            pca = IncrementalPCA(self.activity.layouts[index].n) if saved is None else saved.copy()
            if old is not None and old.n == pca.n:
                pca.components = old.components  # keeps the signs of the picture
            self._pca_layout, self._pca_frames = index, done
        assert pca is not None
        while self._pca_frames < frames:
            a = start + self._pca_frames
            b = min(start + (self._pca_frames // _BATCH + 1) * _BATCH, k + 1)
            pca.update_many(self.activity.activity(a, b))
            self._pca_frames = b - start
            if self._pca_frames % _BATCH == 0:
                self._checkpoints.setdefault(self._pca_frames, pca.copy())
        state.pca = pca
        recent = max(start, k + 1 - (state.manifold_rows.maxlen or 400))
        rows = self.activity.activity(recent, k + 1)
        state.manifold_rows.clear()
        for i, row in enumerate(rows):
            j = recent + i
            state.manifold_rows.append((row, int(self.decisions[j]), float(self.activity.t[j])))

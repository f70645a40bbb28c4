"""The relational GNN's inference graph as one fused Numba kernel (one window, one thread).

Computes exactly what :class:`rtdecode.models.RelationalGNN` computes in eval mode (the torch
module is the reference; tests/test_engine_numba.py checks both agree on real recordings):
window statistics and masked recent frames per neuron, the Pearson correlation between neurons,
the node encoder (plus the label embedding), the factorised edge rounds, attention / mean / max
pooling, the projection of the recent frames on the role axis, the read-out, the per-name
read-out, and the softmax.

Every array is preallocated by the caller (:class:`GNNWeights` holds the weights,
:class:`GNNWorkspace` the scratch buffers for one neuron count): a call allocates nothing.
Matrices are stored input-major (``(in, out)``) so the inner loops run along contiguous output
rows and vectorise; floating point reassociation is allowed (the sums differ from torch's in
the last bits only, far below the engines' 1e-5 tolerance on probabilities), NaN and infinity
semantics are kept.

A numeric kernel, so it is exempt from rtdecode's size limits (tests/test_architecture.py lists
it): the module is longer than 600 lines and :func:`forward_views` and ``_node_inputs`` longer
than 80, because each is one compiled loop nest that reads best beside the torch module it
mirrors, stage by stage; cut into smaller functions, numba would have to inline them back.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "GNNWeights",
    "GNNWorkspace",
    "Packed",
    "forward_views",
    "gnn_forward",
    "gnn_weights",
    "gnn_workspace",
    "pack",
]

_EPS = 1e-4  # as rtdecode.models._features
_FASTMATH = {"reassoc", "contract", "nsz"}


class Packed(NamedTuple):
    """Arrays of one :class:`GNNWeights` or :class:`GNNWorkspace` in one float32 buffer.

    ``table`` has one row per field: offset into ``flat``, then its shape padded with 1s.
    """

    flat: np.ndarray  # (total,) float32
    table: np.ndarray  # (fields, 4) int64


def pack(arrays: tuple[np.ndarray, ...]) -> Packed:
    """Copy ``arrays`` (float32, at most 3-D) into one buffer; see :func:`gnn_forward`."""
    table = np.zeros((len(arrays), 4), np.int64)
    offset = 0
    for k, array in enumerate(arrays):
        table[k, 0] = offset
        table[k, 1 : 1 + array.ndim] = array.shape
        table[k, 1 + array.ndim :] = 1
        offset += array.size
    flat = np.zeros(offset, np.float32)
    for k, array in enumerate(arrays):
        flat[table[k, 0] : table[k, 0] + array.size] = array.ravel()
    return Packed(flat, table)


class GNNWeights(NamedTuple):
    """The network's weights, float32, matrices transposed to ``(in, out)``.

    ``label_embedding`` and ``label_readout`` have one all-zero row when the model has none, so
    every id (always 0 then) reads zeros.
    """

    enc1: np.ndarray  # (D, H)
    enc1_b: np.ndarray  # (H,)
    enc2: np.ndarray  # (H, H)
    enc2_b: np.ndarray  # (H,)
    label_embedding: np.ndarray  # (L + 1, H)
    label_readout: np.ndarray  # (L + 1, S, D)
    edge_proj: np.ndarray  # (R, H, 2E) source then destination projection, side by side
    edge_proj_b: np.ndarray  # (R, 2E) source bias, then zeros (no destination bias)
    edge_corr: np.ndarray  # (R, E)
    update: np.ndarray  # (R, H + E, H)
    update_b: np.ndarray  # (R, H)
    attention: np.ndarray  # (H,)
    role: np.ndarray  # (H,)
    heads_b: np.ndarray  # (2,) attention bias, role bias
    readout1: np.ndarray  # (3H + recent*F, H)
    readout1_b: np.ndarray  # (H,)
    readout2: np.ndarray  # (H, S)
    readout2_b: np.ndarray  # (S,)


class GNNWorkspace(NamedTuple):
    """Scratch buffers for one neuron count ``n`` (float32)."""

    inputs: np.ndarray  # (n, D)
    hidden: np.ndarray  # (n, H)
    h: np.ndarray  # (n, H)
    unit: np.ndarray  # (n, K) centred, normalised z-scores for the correlation
    centred: np.ndarray  # (K, n) masked z-scores, then centred, frame-major
    population: np.ndarray  # (K,)
    corr: np.ndarray  # (n, n)
    proj: np.ndarray  # (n, 2E) source and destination projections of the node states
    dst: np.ndarray  # (E, n) destination projection, channels first
    message: np.ndarray  # (n, E)
    joined: np.ndarray  # (n, H + E) node state and message, the update's input
    scores: np.ndarray  # (n,) attention logits, then weights
    tanh_role: np.ndarray  # (n,)
    pooled: np.ndarray  # (3H + recent*F,)
    top: np.ndarray  # (H,)
    logits: np.ndarray  # (S,)
    moments: np.ndarray  # (8, n) per-neuron sums over the window (see _node_inputs)


def gnn_weights(state_dict: dict[str, np.ndarray], rounds: int) -> GNNWeights:
    """Arrange a RelationalGNN state dict (as float32 NumPy arrays) for :func:`gnn_forward`.

    Subnormal weights (below float32's smallest normal, 1.2e-38) become 0: no sum at the
    activations' scale can tell, and each product with one would cost a microcode assist.

    Parameters
    ----------
    state_dict
        Parameter name -> array, as in the model file.
    rounds
        Message-passing rounds of the network.
    """

    def get(name: str) -> np.ndarray:
        # Subnormal weights (|w| < 1.2e-38; the model file has some in encode.2 and readout.0)
        # become 0: at the activations' scale no float32 sum can tell, yet every product with
        # one costs the CPU a microcode assist of ~100 cycles.
        array = np.array(state_dict[name], dtype=np.float32)
        array[np.abs(array) < np.finfo(np.float32).tiny] = 0.0
        return array

    def t(name: str) -> np.ndarray:
        return np.ascontiguousarray(get(name).T)

    enc1 = t("encode.0.weight")
    d, hidden = enc1.shape
    n_states = get("readout.2.weight").shape[0]
    if "label_embedding.weight" in state_dict:
        embedding = get("label_embedding.weight")
    else:
        embedding = np.zeros((1, hidden), np.float32)
    if "label_readout.weight" in state_dict:
        readout = get("label_readout.weight").reshape(-1, n_states, d).copy()
    else:
        readout = np.zeros((1, n_states, d), np.float32)
    r = range(rounds)
    return GNNWeights(
        enc1=enc1,
        enc1_b=get("encode.0.bias"),
        enc2=t("encode.2.weight"),
        enc2_b=get("encode.2.bias"),
        label_embedding=embedding,
        label_readout=readout,
        edge_proj=np.stack(
            [np.hstack((t(f"edge_src.{i}.weight"), t(f"edge_dst.{i}.weight"))) for i in r]
        ),
        edge_proj_b=np.stack(
            [
                np.hstack((get(f"edge_src.{i}.bias"), np.zeros_like(get(f"edge_src.{i}.bias"))))
                for i in r
            ]
        ),
        edge_corr=np.stack([get(f"edge_corr.{i}") for i in r]),
        update=np.stack([t(f"update.{i}.0.weight") for i in r]),
        update_b=np.stack([get(f"update.{i}.0.bias") for i in r]),
        attention=get("attention.weight")[0].copy(),
        role=get("role.weight")[0].copy(),
        heads_b=np.array([get("attention.bias")[0], get("role.bias")[0]], np.float32),
        readout1=t("readout.0.weight"),
        readout1_b=get("readout.0.bias"),
        readout2=t("readout.2.weight"),
        readout2_b=get("readout.2.bias"),
    )


def gnn_workspace(weights: GNNWeights, n_neurons: int, model_window: int) -> GNNWorkspace:
    """Scratch buffers for windows of ``model_window`` frames of ``n_neurons`` neurons."""
    d, hidden = weights.enc1.shape
    edge = weights.edge_proj.shape[2] // 2
    n, k = n_neurons, model_window

    def z(*shape: int) -> np.ndarray:
        return np.zeros(shape, np.float32)

    return GNNWorkspace(
        inputs=z(n, d),
        hidden=z(n, hidden),
        h=z(n, hidden),
        unit=z(n, k),
        centred=z(k, n),
        population=z(k),
        corr=z(n, n),
        proj=z(n, 2 * edge),
        dst=z(edge, n),
        message=z(n, edge),
        joined=z(n, hidden + edge),
        scores=z(n),
        tanh_role=z(n),
        pooled=z(weights.readout1.shape[0]),
        top=z(hidden),
        logits=z(weights.readout2.shape[1]),
        moments=z(8, n),
    )


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray, relu: bool) -> None:
    """``out = x @ w + b`` (``x`` (n, in), ``w`` (in, out)), optionally ReLU'd.

    Four rows and four inputs at a time: each output row is loaded and stored once per four
    inputs (not once per input) and each weight row once per four neurons.
    """
    n_in, n_out = w.shape
    n = x.shape[0]
    for i in range(n):
        for o in range(n_out):
            out[i, o] = b[o]
    blocked = n - n % 4
    blocked_in = n_in - n_in % 4
    for i in range(0, blocked, 4):
        o0, o1, o2, o3 = out[i], out[i + 1], out[i + 2], out[i + 3]
        x0, x1, x2, x3 = x[i], x[i + 1], x[i + 2], x[i + 3]
        for k in range(0, blocked_in, 4):
            w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
            a00, a01, a02, a03 = x0[k], x0[k + 1], x0[k + 2], x0[k + 3]
            a10, a11, a12, a13 = x1[k], x1[k + 1], x1[k + 2], x1[k + 3]
            a20, a21, a22, a23 = x2[k], x2[k + 1], x2[k + 2], x2[k + 3]
            a30, a31, a32, a33 = x3[k], x3[k + 1], x3[k + 2], x3[k + 3]
            for o in range(n_out):
                v0, v1, v2, v3 = w0[o], w1[o], w2[o], w3[o]
                o0[o] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3
                o1[o] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3
                o2[o] += a20 * v0 + a21 * v1 + a22 * v2 + a23 * v3
                o3[o] += a30 * v0 + a31 * v1 + a32 * v2 + a33 * v3
        for k in range(blocked_in, n_in):
            a0, a1, a2, a3 = x0[k], x1[k], x2[k], x3[k]
            wk = w[k]
            for o in range(n_out):
                wo = wk[o]
                o0[o] += a0 * wo
                o1[o] += a1 * wo
                o2[o] += a2 * wo
                o3[o] += a3 * wo
    for i in range(blocked, n):
        oi = out[i]
        for k in range(n_in):
            a = x[i, k]
            wk = w[k]
            for o in range(n_out):
                oi[o] += a * wk[o]
    if relu:
        for i in range(n):
            for o in range(n_out):
                v = out[i, o]
                out[i, o] = v if v > np.float32(0.0) else np.float32(0.0)


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _node_inputs(x: np.ndarray, valid: np.ndarray, recent: int, ws: GNNWorkspace) -> None:
    """Masked recent frames, window statistics and the unit vectors of the correlation.

    Channel 0 is copied out of ``x`` once (masked, frame-major); then each pass runs over the
    frames with an inner loop over contiguous neurons that keeps one running sum per neuron in a
    row of ``moments``, so it vectorises across neurons and needs no horizontal sum; the unit
    vectors are written neuron-major at the end.
    """
    k_frames, n, n_feat = x.shape
    inputs, centred, unit, population = ws.inputs, ws.centred, ws.unit, ws.population
    count, total, high, low = ws.moments[0], ws.moments[1], ws.moments[2], ws.moments[3]
    sq, m3, m4, cp = ws.moments[4], ws.moments[5], ws.moments[6], ws.moments[7]
    zero = np.float32(0.0)
    eps = np.float32(_EPS)
    first = k_frames - recent
    for r in range(recent):
        for i in range(n):
            v = valid[first + r, i]
            base = r * (n_feat + 1)
            for f in range(n_feat):
                inputs[i, base + f] = x[first + r, i, f] * v
            inputs[i, base + n_feat] = v
    # Masked z-scores, their count, sum and range; the population mean per frame.
    for i in range(n):
        count[i] = zero
        total[i] = zero
        high[i] = -np.inf
        low[i] = np.inf
    for t in range(k_frames):
        zt, vt, xt = centred[t], valid[t], x[t]
        for i in range(n):  # the one strided read of x: alone, this loop vectorises
            zt[i] = xt[i, 0] * vt[i]
    pop_mean = zero
    for t in range(k_frames):
        zt, vt = centred[t], valid[t]
        acc = zero
        for i in range(n):
            v = vt[i]
            z = zt[i]
            count[i] += v
            total[i] += z
            high[i] = max(high[i], z)
            low[i] = min(low[i], z)
            acc += z
        population[t] = acc / np.float32(n)
        pop_mean += population[t]
    pop_mean /= np.float32(k_frames)
    pop_sq = zero
    for t in range(k_frames):
        population[t] -= pop_mean
        pop_sq += population[t] * population[t]
    pop_std = math.sqrt(pop_sq / np.float32(k_frames) + eps)
    stats = recent * (n_feat + 1)
    for i in range(n):
        inputs[i, stats + 6] = count[i] / np.float32(k_frames)
        count[i] = max(count[i], np.float32(1.0))
        total[i] /= count[i]  # the mean from here on
        sq[i] = zero
        m3[i] = zero
        m4[i] = zero
        cp[i] = zero
    mean = total
    for t in range(k_frames):
        zt, vt = centred[t], valid[t]
        for i in range(n):
            c = (zt[i] - mean[i]) * vt[i]
            zt[i] = c
            sq[i] += c * c
    # high and low become 1 / std and 1 / norm: their values are in inputs already.
    for i in range(n):
        std = math.sqrt(sq[i] / count[i] + eps)
        inputs[i, stats + 0] = mean[i]
        inputs[i, stats + 1] = std
        inputs[i, stats + 4] = high[i]
        inputs[i, stats + 5] = low[i]
        high[i] = np.float32(1.0) / std
        low[i] = np.float32(1.0) / math.sqrt(sq[i] + eps)
    inv_std, inv_norm = high, low
    for t in range(k_frames):
        zt = centred[t]
        pt = population[t]
        for i in range(n):
            c = zt[i]
            s = c * inv_std[i]
            s2 = s * s
            m3[i] += s2 * s
            m4[i] += s2 * s2
            cp[i] += s * pt
    for i in range(n):  # neuron-major, as the correlation reads it
        ui, a = unit[i], inv_norm[i]
        for t in range(k_frames):
            ui[t] = centred[t, i] * a
    for i in range(n):
        c = count[i]
        inputs[i, stats + 2] = min(max(m3[i] / c, np.float32(-10.0)), np.float32(10.0))
        inputs[i, stats + 3] = min(max(m4[i] / c, zero), np.float32(30.0)) / np.float32(3.0)
        inputs[i, stats + 7] = cp[i] / c / pop_std


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _correlation(unit: np.ndarray, corr: np.ndarray) -> None:
    """``corr = unit @ unit.T`` (``unit`` is ``(n, K)``), the upper triangle computed and mirrored.

    Tiles of four rows ``i`` by two rows ``j >= i``: eight dot products share each load of
    the six rows and vectorise along the contiguous ``t``.
    """
    n, k_frames = unit.shape
    zero = np.float32(0.0)
    blocked = n - n % 4
    for i in range(0, blocked, 4):
        u0, u1, u2, u3 = unit[i], unit[i + 1], unit[i + 2], unit[i + 3]
        paired = i + (n - i) // 2 * 2
        for j in range(i, paired, 2):
            ua, ub = unit[j], unit[j + 1]
            a0, a1, a2, a3 = zero, zero, zero, zero
            b0, b1, b2, b3 = zero, zero, zero, zero
            for t in range(k_frames):
                p, q = ua[t], ub[t]
                x0, x1, x2, x3 = u0[t], u1[t], u2[t], u3[t]
                a0 += x0 * p
                a1 += x1 * p
                a2 += x2 * p
                a3 += x3 * p
                b0 += x0 * q
                b1 += x1 * q
                b2 += x2 * q
                b3 += x3 * q
            corr[i, j], corr[i + 1, j], corr[i + 2, j], corr[i + 3, j] = a0, a1, a2, a3
            corr[j, i], corr[j, i + 1], corr[j, i + 2], corr[j, i + 3] = a0, a1, a2, a3
            corr[i, j + 1], corr[i + 1, j + 1], corr[i + 2, j + 1], corr[i + 3, j + 1] = (
                b0,
                b1,
                b2,
                b3,
            )
            corr[j + 1, i], corr[j + 1, i + 1], corr[j + 1, i + 2], corr[j + 1, i + 3] = (
                b0,
                b1,
                b2,
                b3,
            )
        if paired < n:
            j = paired
            uj = unit[j]
            a0, a1, a2, a3 = zero, zero, zero, zero
            for t in range(k_frames):
                p = uj[t]
                a0 += u0[t] * p
                a1 += u1[t] * p
                a2 += u2[t] * p
                a3 += u3[t] * p
            corr[i, j], corr[i + 1, j], corr[i + 2, j], corr[i + 3, j] = a0, a1, a2, a3
            corr[j, i], corr[j, i + 1], corr[j, i + 2], corr[j, i + 3] = a0, a1, a2, a3
    for i in range(blocked, n):
        for j in range(i, n):
            acc = zero
            for t in range(k_frames):
                acc += unit[i, t] * unit[j, t]
            corr[i, j] = acc
            corr[j, i] = acc


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _edge_round(w: GNNWeights, r: int, ws: GNNWorkspace) -> None:
    """One factorised message-passing round: ``h += relu(update([h, mean_j edge_ij]))``."""
    h, proj, dst, message, corr = ws.h, ws.proj, ws.dst, ws.message, ws.corr
    n, hidden = h.shape
    n_edge = dst.shape[0]
    _dense(h, w.edge_proj[r], w.edge_proj_b[r], proj, False)
    for j in range(n):
        for e in range(n_edge):
            dst[e, j] = proj[j, n_edge + e]
    # mean_j relu(c_ij * s + d_j + b_i) = mean_j max(c_ij * s + d_j, -b_i) + b_i: one add fewer
    # per pair and channel; four rows i at a time share each load of d.
    wc = w.edge_corr[r]
    blocked = n - n % 4
    for i in range(0, blocked, 4):
        r0, r1, r2, r3 = corr[i], corr[i + 1], corr[i + 2], corr[i + 3]
        for e in range(n_edge):
            l0, l1, l2, l3 = -proj[i, e], -proj[i + 1, e], -proj[i + 2, e], -proj[i + 3, e]
            scale = wc[e]
            d = dst[e]
            a0 = np.float32(0.0)
            a1 = np.float32(0.0)
            a2 = np.float32(0.0)
            a3 = np.float32(0.0)
            for j in range(n):
                dj = d[j]
                v0 = r0[j] * scale + dj
                v1 = r1[j] * scale + dj
                v2 = r2[j] * scale + dj
                v3 = r3[j] * scale + dj
                a0 += v0 if v0 > l0 else l0
                a1 += v1 if v1 > l1 else l1
                a2 += v2 if v2 > l2 else l2
                a3 += v3 if v3 > l3 else l3
            message[i, e] = a0 / n - l0
            message[i + 1, e] = a1 / n - l1
            message[i + 2, e] = a2 / n - l2
            message[i + 3, e] = a3 / n - l3
    for i in range(blocked, n):
        row = corr[i]
        for e in range(n_edge):
            low = -proj[i, e]
            scale = wc[e]
            d = dst[e]
            acc = np.float32(0.0)
            for j in range(n):
                v = row[j] * scale + d[j]
                acc += v if v > low else low
            message[i, e] = acc / n - low
    joined = ws.joined
    for i in range(n):
        for k in range(hidden):
            joined[i, k] = h[i, k]
        for e in range(n_edge):
            joined[i, hidden + e] = message[i, e]
    _dense(joined, w.update[r], w.update_b[r], ws.hidden, True)
    for i in range(n):
        for o in range(hidden):
            h[i, o] += ws.hidden[i, o]


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def forward_views(
    x: np.ndarray,
    valid: np.ndarray,
    label_ids: np.ndarray,
    recent: int,
    w: GNNWeights,
    ws: GNNWorkspace,
    probs: np.ndarray,
) -> None:
    """State probabilities of one window, written into ``probs`` (weights and workspace as tuples).

    :func:`gnn_forward` is the same on packed buffers: fewer arguments for the dispatcher.

    Parameters
    ----------
    x
        ``(K, n, F)`` float32 model window, oldest frame first (channel 0: z-score).
    valid
        ``(K, n)`` float32, 1 where the value is real.
    label_ids
        ``(n,)`` int64 name ids (0 = unknown).
    recent
        Frames given to the node encoder verbatim.
    w, ws
        Weights and the workspace for this ``n`` (see :func:`gnn_weights`, :func:`gnn_workspace`).
    probs
        ``(S,)`` float32 output.
    """
    k_frames, n, n_feat = x.shape
    h, hidden_buf, inputs = ws.h, ws.hidden, ws.inputs
    hidden = h.shape[1]
    _node_inputs(x, valid, recent, ws)
    _correlation(ws.unit, ws.corr)
    _dense(inputs, w.enc1, w.enc1_b, hidden_buf, True)
    _dense(hidden_buf, w.enc2, w.enc2_b, h, True)
    for i in range(n):
        emb = w.label_embedding[label_ids[i]]
        for o in range(hidden):
            h[i, o] += emb[o]
    for r in range(w.edge_proj.shape[0]):
        _edge_round(w, r, ws)
    # Attention weights (softmax over neurons) and the role score's tanh, all in float32.
    scores, tanh_role = ws.scores, ws.tanh_role
    att_b, role_b = w.heads_b[0], w.heads_b[1]
    attention, role = w.attention, w.role
    peak = np.float32(-np.inf)
    for i in range(n):
        hi = h[i]
        a = att_b
        q = role_b
        for k in range(hidden):
            a += hi[k] * attention[k]
            q += hi[k] * role[k]
        scores[i] = a
        tanh_role[i] = q
        peak = max(peak, a)
    weight_sum = np.float32(0.0)
    for i in range(n):
        e = math.exp(scores[i] - peak)
        scores[i] = e
        weight_sum += e
        tanh_role[i] = math.tanh(tanh_role[i])
    pooled = ws.pooled
    att_pool, mean_pool, max_pool = (
        pooled[:hidden],
        pooled[hidden : 2 * hidden],
        pooled[2 * hidden : 3 * hidden],
    )
    for o in range(hidden):
        att_pool[o] = 0.0
        mean_pool[o] = 0.0
        max_pool[o] = -np.inf
    inv_total = np.float32(1.0) / weight_sum
    for i in range(n):
        a = scores[i] * inv_total
        hi = h[i]
        for o in range(hidden):
            v = hi[o]
            att_pool[o] += a * v
            mean_pool[o] += v
            m = max_pool[o]
            max_pool[o] = v if v > m else m
    for o in range(hidden):
        mean_pool[o] /= np.float32(n)
    # Recent activity projected on the role axis, scaled by 1/sqrt(n).
    root = math.sqrt(n)
    first = k_frames - recent
    for r in range(recent):
        for f in range(n_feat):
            acc = 0.0
            for i in range(n):
                acc += x[first + r, i, f] * valid[first + r, i] * tanh_role[i]
            pooled[3 * hidden + r * n_feat + f] = acc / root
    top, logits = ws.top, ws.logits
    w1, w2 = w.readout1, w.readout2
    for o in range(hidden):
        top[o] = w.readout1_b[o]
    for k in range(w1.shape[0]):
        pk = pooled[k]
        for o in range(hidden):
            top[o] += pk * w1[k, o]
    n_states = logits.shape[0]
    for s in range(n_states):
        acc = w.readout2_b[s]
        for k in range(hidden):
            acc += max(top[k], np.float32(0.0)) * w2[k, s]
        logits[s] = acc
    # Per-name linear read-out of each labelled neuron's own inputs.
    d = inputs.shape[1]
    for i in range(n):
        table = w.label_readout[label_ids[i]]
        for s in range(n_states):
            acc = 0.0
            for k in range(d):
                acc += table[s, k] * inputs[i, k]
            logits[s] += acc
    high = -np.inf
    for s in range(n_states):
        high = max(high, logits[s])
    total = 0.0
    for s in range(n_states):
        probs[s] = math.exp(logits[s] - high)
        total += probs[s]
    for s in range(n_states):
        probs[s] /= total


@njit(cache=True, nogil=True)
def _v1(flat: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Field ``k`` of a packed buffer as a 1-D view (no copy)."""
    return flat[table[k, 0] : table[k, 0] + table[k, 1]]


@njit(cache=True, nogil=True)
def _v2(flat: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Field ``k`` of a packed buffer as a 2-D view (no copy)."""
    a, b = table[k, 1], table[k, 2]
    return flat[table[k, 0] : table[k, 0] + a * b].reshape((a, b))


@njit(cache=True, nogil=True)
def _v3(flat: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Field ``k`` of a packed buffer as a 3-D view (no copy)."""
    a, b, c = table[k, 1], table[k, 2], table[k, 3]
    return flat[table[k, 0] : table[k, 0] + a * b * c].reshape((a, b, c))


@njit(cache=True, nogil=True)
def _weight_views(f: np.ndarray, t: np.ndarray) -> GNNWeights:
    """:class:`GNNWeights` as views of ``pack(weights)`` (dimensions in field order)."""
    return GNNWeights(
        _v2(f, t, 0), _v1(f, t, 1), _v2(f, t, 2), _v1(f, t, 3), _v2(f, t, 4), _v3(f, t, 5),
        _v3(f, t, 6), _v2(f, t, 7), _v2(f, t, 8), _v3(f, t, 9), _v2(f, t, 10), _v1(f, t, 11),
        _v1(f, t, 12), _v1(f, t, 13), _v2(f, t, 14), _v1(f, t, 15), _v2(f, t, 16), _v1(f, t, 17),
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _workspace_views(f: np.ndarray, t: np.ndarray) -> GNNWorkspace:
    """:class:`GNNWorkspace` as views of ``pack(workspace)`` (dimensions in field order)."""
    return GNNWorkspace(
        _v2(f, t, 0), _v2(f, t, 1), _v2(f, t, 2), _v2(f, t, 3), _v2(f, t, 4), _v1(f, t, 5),
        _v2(f, t, 6), _v2(f, t, 7), _v2(f, t, 8), _v2(f, t, 9), _v2(f, t, 10), _v1(f, t, 11),
        _v1(f, t, 12), _v1(f, t, 13), _v1(f, t, 14), _v1(f, t, 15), _v2(f, t, 16),
    )  # fmt: skip


@njit(cache=True, nogil=True)
def gnn_forward(
    x: np.ndarray,
    valid: np.ndarray,
    label_ids: np.ndarray,
    recent: int,
    weights: np.ndarray,
    weight_table: np.ndarray,
    workspace: np.ndarray,
    workspace_table: np.ndarray,
    probs: np.ndarray,
) -> None:
    """:func:`forward_views` on packed weights and workspace (``pack(gnn_weights(...))``,
    ``pack(gnn_workspace(...))``): nine arrays to unbox per call instead of forty.
    """
    forward_views(
        x,
        valid,
        label_ids,
        recent,
        _weight_views(weights, weight_table),
        _workspace_views(workspace, workspace_table),
        probs,
    )

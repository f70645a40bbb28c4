"""Latency benchmarking of the live decoding path (``rtdecode bench``).

A producer process streams real frames over ZMQ in wire protocol v1, the real ``rtdecode run``
decodes them, and a consumer process records when each prediction arrives; the same two processes
also measure a bare ZMQ hop so the decoder's cost reads as a ratio to it.
"""

from rtdecode.bench._analysis import STAGES, Phase
from rtdecode.bench._env import ENV_KEYS, capture_environment
from rtdecode.bench._flood import FLOOD_SCHEMA, FloodSettings, format_flood, run_flood
from rtdecode.bench._peers import BenchError
from rtdecode.bench._plot import plot_results
from rtdecode.bench._report import format_table
from rtdecode.bench._runner import SCHEMA, run_bench
from rtdecode.bench._settings import DEFAULT_ENGINES, STREAM_PHASES, BenchSettings
from rtdecode.bench._stats import PERCENTILES, LatencyStats, summarize

__all__ = [
    "DEFAULT_ENGINES",
    "ENV_KEYS",
    "FLOOD_SCHEMA",
    "PERCENTILES",
    "SCHEMA",
    "STAGES",
    "STREAM_PHASES",
    "BenchError",
    "BenchSettings",
    "FloodSettings",
    "LatencyStats",
    "Phase",
    "capture_environment",
    "format_flood",
    "format_table",
    "plot_results",
    "run_bench",
    "run_flood",
    "summarize",
]

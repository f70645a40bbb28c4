"""The names of the inference runtimes, importable without any of them."""

__all__ = ["ENGINES"]

ENGINES = ("torch", "onnx", "cuda", "numba")
"""``torch``, ``onnx`` (ONNX Runtime), ``cuda`` (a CUDA graph) and ``numba`` (one fused kernel)."""

"""Numba kernels for the hot path, part of the package as ``rtdecode.kernels``.

Kernels are pure functions on preallocated arrays: no Python objects, no validation, no
allocation. The Python wrappers that call them validate their inputs. Every kernel has a plain
NumPy reference in the same module and a test that both agree.
"""

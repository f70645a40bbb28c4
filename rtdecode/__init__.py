"""rtdecode: real-time decoding of C. elegans behaviour from whole-brain calcium imaging."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rtdecode")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

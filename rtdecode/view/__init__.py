"""The live browser view: a bounded tap from the decode loop, a feed, and a Bokeh page.

Layers: :mod:`~rtdecode.view._tap` and :mod:`~rtdecode.view._feed` need only NumPy and
ZeroMQ (the decoder side); the page (:mod:`~rtdecode.view._server`) needs the ``view`` extra
(Bokeh) and is imported only by the process that serves it.
"""

from rtdecode.view._address import ViewAddress, check_free, parse_view_address
from rtdecode.view._feed import FeedPublisher, ViewBatch, parse_view
from rtdecode.view._launch import AttachedView
from rtdecode.view._tap import BehaviorSample, FrameSnapshot, StreamContext, ViewTap

__all__ = [
    "AttachedView",
    "BehaviorSample",
    "FeedPublisher",
    "FrameSnapshot",
    "StreamContext",
    "ViewAddress",
    "ViewBatch",
    "ViewTap",
    "check_free",
    "parse_view",
    "parse_view_address",
]

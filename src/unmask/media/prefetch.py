"""Decode ahead on a thread of its own, so FFmpeg and the face models use both cores.

FFmpeg (PyAV) and mediapipe both release the GIL while they work, so a decoder thread that
stays a few frames ahead of the face stage overlaps the two instead of running them in turn.
The queue is bounded: memory stays at ``depth`` frames whatever the video's length.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.05


class _Raised:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """``items`` in order, produced on a daemon thread at most ``depth`` ahead of the consumer.

    An exception raised while producing is re-raised here, at the item where it happened. When the
    consumer stops early (an exception of its own, ``close()``), the producer stops too and the
    source iterator is closed on its own thread.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    source = iter(items)

    def put(x: object) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for x in source:
                if not put(x):
                    return
            put(_END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, who decides
            put(_Raised(e))
        finally:
            close = getattr(source, "close", None)
            if close is not None and stop.is_set():
                close()

    worker = threading.Thread(target=produce, name="unmask-decode", daemon=True)
    worker.start()
    try:
        while True:
            x = q.get()
            if x is _END:
                return
            if isinstance(x, _Raised):
                raise x.error
            yield x  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()  # unblock a producer waiting to put
            except queue.Empty:
                pass
            worker.join(_POLL_S)

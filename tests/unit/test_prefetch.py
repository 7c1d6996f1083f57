"""Decoding ahead on a thread (media/prefetch.py): same items, same errors, bounded, and it stops."""

from __future__ import annotations

import threading
import time

import pytest

from unmask.errors import UnsupportedMedia
from unmask.media.prefetch import prefetch


def test_items_arrive_in_order_and_complete():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetch([], depth=1)) == []


def test_an_error_arrives_where_it_happened_with_its_type():
    def source():
        yield 1
        yield 2
        raise UnsupportedMedia("x.mp4", "no picture could be decoded")

    got = []
    with pytest.raises(UnsupportedMedia, match="no picture"):
        for x in prefetch(source(), depth=4):
            got.append(x)
    assert got == [1, 2]


def test_the_producer_stays_at_most_depth_ahead():
    made = []

    def source():
        for i in range(50):
            made.append(i)
            yield i

    it = prefetch(source(), depth=3)
    assert next(it) == 0
    time.sleep(0.3)
    assert len(made) <= 1 + 3 + 1  # the one consumed, the queue, and one waiting to be put
    it.close()


def test_stopping_early_stops_the_producer_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    it = prefetch(source(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed.wait(2.0)
    assert not any(t.name == "unmask-decode" and t.is_alive() for t in threading.enumerate())


def test_a_consumer_error_stops_the_producer():
    closed = threading.Event()

    def source():
        try:
            while True:
                yield 0
        finally:
            closed.set()

    def consume():
        for _ in prefetch(source(), depth=2):
            raise RuntimeError("face stage failed")

    with pytest.raises(RuntimeError):
        consume()
    assert closed.wait(2.0)


def test_depth_must_be_positive():
    with pytest.raises(ValueError):
        list(prefetch([1], depth=0))

"""A background loader: prepare the next samples (read, resize, divide) while the model works on this one.

``prefetch(items, prepare, depth)`` yields ``(item, result, error)`` in order; ``prepare`` runs on one
background thread at most ``depth`` items ahead. Image decoding (PIL), resizing and OpenCV superpixels
release the GIL, so they overlap with the model's forwards (torch releases it too). ``depth = 0`` runs
``prepare`` inline (no thread), the reference behaviour.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], prepare: Callable[[T], Any], depth: int = 2) -> Iterator[tuple[T, Any, BaseException | None]]:
    """Yield ``(item, prepare(item), None)``, or ``(item, None, exception)`` when ``prepare`` raised.

    ``prepare`` may return :data:`SKIP`-like sentinels of the caller's choosing; they are passed through.
    Stopping the iteration early (break, exception) stops the thread after its current item.
    """
    if depth <= 0:
        for item in items:
            try:
                yield item, prepare(item), None
            except Exception as exc:  # noqa: BLE001 - handed to the consumer, which logs it per sample
                yield item, None, exc
        return
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                try:
                    entry = (item, prepare(item), None)
                except Exception as exc:  # noqa: BLE001
                    entry = (item, None, exc)
                if not put(entry):
                    return
        finally:
            put(_END)

    thread = threading.Thread(target=work, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            entry = slots.get()
            if entry is _END:
                break
            yield entry
    finally:
        stop.set()
        thread.join()

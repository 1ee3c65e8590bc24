"""The garbage collector of a serving process, tuned for many open sockets.

A process that holds thousands of sockets has a large heap, and a full collection of it stops the event loop
for a long time: with 5,000 wallboards open, about 0.7 s, in every other update (bench/load.py). Python runs
young collections every 700 allocations; objects that outlive two of them (a fan-out's 5,000 send tasks,
still waiting on their sockets) move to the old generation, and once those make a quarter of the heap, a full
collection follows. Collecting the young generation every 50,000 allocations instead lets such short-lived
objects die young, so full collections become rare; memory still held in cycles is freed, only later.
"""

from __future__ import annotations

import gc

SERVING_THRESHOLDS = (50_000, 20, 20)  # young collections every 50,000 allocations (Python's default: 700)


def tune_for_serving() -> None:
    """Set the collector's thresholds for a long-running server process (call once, at start)."""
    gc.set_threshold(*SERVING_THRESHOLDS)

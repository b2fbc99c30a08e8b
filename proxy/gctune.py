"""The cyclic garbage collector, tuned for a server whose requests make little cyclic garbage.

A request allocates hundreds of container objects and frees nearly all of them by
reference counting; at CPython's default gen-0 threshold (700) the collector still ran
every ~15 requests and traversed everything alive, start-up objects included, for almost
nothing (a few cycles per thousand requests). After start-up the objects that live for the
process (modules, settings, compiled schemas, pools) are frozen out of collection, and
gen 0 waits for more allocations; cycles are still collected, just in larger batches.
"""

from __future__ import annotations

import gc


def tune_after_startup(threshold: int) -> None:
    """Freeze what start-up made and space the young-generation passes (0: leave both)."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(threshold, gen1, gen2)

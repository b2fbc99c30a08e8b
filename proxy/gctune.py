"""The cyclic garbage collector, tuned for a server that holds many open streams.

Each open stream keeps ~130 tracked objects alive (connections, parsers, tasks,
generators): at 10,000 streams a full collection walks ~2M objects and stops the loop for
0.5-1.5 s, and with CPython's default thresholds (700, 10, 10) one was considered every
~70,000 allocations (15 in a 10,000-stream soak, 8.4 s in all). What start-up built
(modules, the app, compiled schemas, pools) is frozen out of every later collection, and
full collections are considered 10x less often (and still only when the old generation
grew by 25% since the last).

The young generation holds 5,000 (``server.gc_threshold``). Its counter follows the net
growth of tracked objects, and 64 requests in flight make it swing by about a thousand:
with 1,000 a young pass ran every ~18 requests and the collector took 5.7% of the
gateway's time on chat and 4.5% on streams; with 5,000 it runs a few times a minute
(0.3% / 0.1%), +8% chat and +9% streams req/s. Larger buys no more throughput and makes
each pass walk more live objects when streams pile up: in the 10,000-stream soak the lag
p99 while streams open was 10 ms at 1,000, 43 at 5,000, 67 at 10,000 and 103 at 20,000
(whole-run p99 4.7 / 13 / 8 / 5 ms; docs/performance.md). Short requests free their
objects by reference counting either way.
"""

from __future__ import annotations

import gc

GEN1, GEN2 = 10, 100


def tune_after_startup(gen0: int) -> None:
    """Freeze what start-up made and set the thresholds (``gen0`` 0: leave both alone)."""
    if gen0 <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0, GEN1, GEN2)

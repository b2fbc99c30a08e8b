"""``python -m bench.semantic_index``: the semantic cache's memory index at scale.

Fills one bucket with N random unit vectors (default 100,000 x 1536, the size of OpenAI's
text-embedding-3-small answers), then times lookups of perturbed copies (a near-duplicate
question) and reports p50/p99 lookup and add latency, recall of the exact nearest entry,
and the index's memory as counted against ``max_vector_bytes``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time

import numpy as np

from middleware.cache.vector_memory import MemoryIndex


async def run(n: int, dim: int, lookups: int) -> dict[str, float]:
    rng = np.random.default_rng(42)
    index = MemoryIndex(max_vectors=n, per_bucket=n, max_bytes=1 << 40)
    adds: list[float] = []
    batch = 10_000
    for start in range(0, n, batch):  # generated in batches: 100k x 1536 float32 is 614 MB
        block = rng.standard_normal((min(batch, n - start), dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        for i, vec in enumerate(block):
            t0 = time.perf_counter()
            await index.add("bucket", f"k{start + i}", vec, 3600)
            adds.append(time.perf_counter() - t0)
    probe_rng = np.random.default_rng(42)  # regenerate the first vectors to probe them
    first = probe_rng.standard_normal((min(batch, n), dim)).astype(np.float32)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    times: list[float] = []
    hits = 0
    for j in range(lookups):
        target = j % len(first)
        # a near-duplicate question: cosine similarity about 0.96 to the stored one
        q = first[target] + 0.007 * rng.standard_normal(dim).astype(np.float32)
        q /= np.linalg.norm(q)
        t0 = time.perf_counter()
        found = await index.nearest("bucket", q)
        times.append(time.perf_counter() - t0)
        hits += found is not None and found[0] == f"k{target}"
    ms = sorted(t * 1e3 for t in times)
    add_ms = sorted(t * 1e3 for t in adds)
    return {
        "vectors": n,
        "dim": dim,
        "lookup_p50_ms": statistics.median(ms),
        "lookup_p99_ms": ms[int(len(ms) * 0.99) - 1],
        "add_p50_ms": statistics.median(add_ms),
        "add_p99_ms": add_ms[int(len(add_ms) * 0.99) - 1],
        "recall": hits / lookups,
        "counted_mb": index.bytes / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.semantic_index", description=__doc__)
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--lookups", type=int, default=2000)
    args = ap.parse_args()
    for k, v in asyncio.run(run(args.n, args.dim, args.lookups)).items():
        print(f"{k:>16}: {v:.3f}" if isinstance(v, float) else f"{k:>16}: {v}")


if __name__ == "__main__":
    main()

"""The collector tuning a served process gets after start-up (proxy/gctune.py)."""

from __future__ import annotations

import gc

from proxy.gctune import GEN1, GEN2, tune_after_startup
from proxy.settings import load_settings


def test_start_up_objects_are_frozen_and_full_passes_spaced() -> None:
    before = gc.get_threshold()
    gen0 = load_settings(None, env={}).server.gc_threshold
    assert gen0 == 5_000 and before[2] < GEN2
    try:
        tune_after_startup(gen0)
        assert gc.get_threshold() == (gen0, GEN1, GEN2)
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    tune_after_startup(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

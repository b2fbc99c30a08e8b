"""The collector tuning a served process gets after start-up (proxy/gctune.py)."""

from __future__ import annotations

import gc

from proxy.gctune import tune_after_startup
from proxy.settings import load_settings


def test_start_up_objects_are_frozen_and_young_passes_spaced() -> None:
    before = gc.get_threshold()
    assert load_settings(None, env={}).server.gc_threshold == 20_000
    try:
        tune_after_startup(20_000)
        assert gc.get_threshold() == (20_000, *before[1:])
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_zero_leaves_the_collector_alone() -> None:
    before = gc.get_threshold()
    tune_after_startup(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

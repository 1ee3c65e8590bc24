"""`contact-center serve` runs with the garbage collector tuned for a process holding many sockets."""

from __future__ import annotations

import gc

from aiohttp import web

from contact_center.cli.server import _serve
from contact_center.settings import load_settings
from contact_center.web.gc_tuning import SERVING_THRESHOLDS


def test_serve_runs_the_app_with_young_collections_every_50000_allocations(monkeypatch, tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", secret_key="test-secret-key")  # embedded SQLite
    seen: dict[str, tuple[int, int, int]] = {}
    monkeypatch.setattr(web, "run_app", lambda app, **_: seen.update(thresholds=gc.get_threshold()))
    before = gc.get_threshold()
    try:
        _serve(settings, "127.0.0.1", 0)
    finally:
        gc.set_threshold(*before)
    assert seen["thresholds"] == SERVING_THRESHOLDS != before

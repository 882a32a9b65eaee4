"""The scorecard's corpus runs in CI too: 0 escapes, 0 crashes, 0 bytes lost."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "security_scorecard.py"


def _load():
    spec = importlib.util.spec_from_file_location("security_scorecard", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scorecard_corpus_has_no_escapes_crashes_or_losses(tmp_path):
    sc = _load()
    card = sc.Card()
    before, after = sc.run_attacks(card, tmp_path)
    assert sum(card.tried.values()) >= 100
    assert card.escapes == [] and card.crashes == []
    assert before == after > 0
    acked, lost, corrupted = sc.kill_loop(3, tmp_path)
    assert acked > 0 and lost == 0 and corrupted == 0

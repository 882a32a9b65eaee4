"""Every generated hostile package is refused with a typed error naming its rule and entry (PKG-01..11),
leaves nothing on disk and leaves the trusted state unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from mbx_hostile import HOST, HOST_KEY, MUTANTS, TRUSTED, Forge, Mutant
from mbx_samples import NOW

from minibox.package import PackageError, TrustStore, verify_and_unpack


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_generator_size_and_original_passes(tmp_path):
    assert len(MUTANTS) >= 200
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    trust = TrustStore.for_keys(tmp_path / "trust", [TRUSTED])
    good = Forge().build(encrypt=True)
    result = verify_and_unpack(good, trust=trust, host_id=HOST, host_private_key=HOST_KEY, dest=tmp_path / "ok",
                               now=NOW)
    assert (result.path / "logic.js").is_file()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name.encode("unicode_escape").decode() for m in MUTANTS])
def test_hostile_package_refused(mutant: Mutant, tmp_path: Path):
    trust = TrustStore.for_keys(tmp_path / "trust", [TRUSTED])
    for i, pkg in enumerate(mutant.preload):
        verify_and_unpack(pkg, trust=trust, host_id=HOST, host_private_key=HOST_KEY, dest=tmp_path / f"pre{i}",
                          now=NOW)
    before = _snapshot(trust.directory)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PackageError) as err:
        verify_and_unpack(mutant.data, trust=trust, host_id=mutant.host_id, host_private_key=mutant.host_key,
                          dest=work / "out", now=NOW, limits=mutant.limits, app_id=mutant.app_id)
    assert err.value.rule in mutant.rules, f"{mutant.name}: refused by {err.value.rule!r}, expected {mutant.rules}"
    assert err.value.entry, f"{mutant.name}: refusal does not name the entry"
    assert list(work.iterdir()) == [], "nothing may be left on disk"
    assert _snapshot(trust.directory) == before, "trusted state must be unchanged"
    assert TrustStore(trust.directory).keyset_version == 1


def test_corpus_covers_every_family():
    families = Counter(m.name.split(":")[0] for m in MUTANTS)
    for family in ("path", "type", "duplicate", "bomb", "size", "count", "sig", "manifest", "payload", "swap",
                   "inject", "parts", "frame", "rollback", "host", "cipher", "expiry", "app", "bytecode",
                   "metadata", "schema"):
        assert families[family] >= 1, family

"""Fixtures for the package tests: keys, a trust store, sample bundles."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mbx_samples import sample_files, write_bundle

from minibox.package import HostKeyPair, SigningKey, TrustStore


@pytest.fixture(scope="session")
def signer() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def host_keys() -> HostKeyPair:
    return HostKeyPair.generate()


@pytest.fixture
def trust(tmp_path: Path, signer: SigningKey) -> TrustStore:
    return TrustStore.for_keys(tmp_path / "trust", [signer])


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bundle", sample_files())

"""minibox.package: signed, optionally encrypted `.mbx` packages and their verification.

Modules: `container` (the byte layout and why it is not zip), `manifest` (the signed metadata),
`keys` (Ed25519 platform keys, X25519 host keys), `crypto` (content encryption), `rules`
(entry policy and limits), `pack`, `trust` (key sets, rotation, trusted builds), `verify` (the
verification sequence).
"""

from minibox.package.container import join as join_parts
from minibox.package.container import split as split_parts
from minibox.package.errors import (
    DecryptionError,
    ExpiredError,
    FormatError,
    IntegrityError,
    LimitError,
    MismatchError,
    PackageError,
    RollbackError,
    SignatureError,
    TrustStoreError,
    UnsafeEntryError,
)
from minibox.package.keys import HostKeyPair, SigningKey, load_ed25519_public, load_host_public
from minibox.package.manifest import Entry, Manifest, Part
from minibox.package.pack import pack
from minibox.package.rules import Limits
from minibox.package.trust import KeySet, TrustedRelease, TrustStore, make_keyset, parse_keyset
from minibox.package.verify import VerifiedPackage, verify_and_unpack, verify_package, write_tree

__all__ = [
    "DecryptionError",
    "Entry",
    "ExpiredError",
    "FormatError",
    "HostKeyPair",
    "IntegrityError",
    "KeySet",
    "LimitError",
    "Limits",
    "Manifest",
    "MismatchError",
    "PackageError",
    "Part",
    "RollbackError",
    "SignatureError",
    "SigningKey",
    "TrustStore",
    "TrustStoreError",
    "TrustedRelease",
    "UnsafeEntryError",
    "VerifiedPackage",
    "join_parts",
    "load_ed25519_public",
    "load_host_public",
    "make_keyset",
    "pack",
    "parse_keyset",
    "split_parts",
    "verify_and_unpack",
    "verify_package",
    "write_tree",
]

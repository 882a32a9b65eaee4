"""Typed refusals of the package path: each names the rule it enforces and the entry it hit.

Every check in :mod:`minibox.package.verify` raises one of these; none of them is ever caught and
"repaired". `rule` is a short stable identifier (used in tests, logs and the CLI), `entry` names the
file, part, key or field the rule was applied to.
"""

from __future__ import annotations


class PackageError(Exception):
    """A package (or key set, or trusted state) was refused."""

    def __init__(self, rule: str, entry: str | None = None, detail: str = "") -> None:
        self.rule = rule
        self.entry = entry
        self.detail = detail
        where = f" [{entry}]" if entry is not None else ""
        super().__init__(f"{rule}{where}: {detail}" if detail else f"{rule}{where}")


class FormatError(PackageError):
    """The container or its metadata is malformed (framing, strict JSON, schema)."""


class SignatureError(PackageError):
    """Missing, forged or untrusted signature, or a bad key set rotation."""


class ExpiredError(PackageError):
    """Package metadata or the trusted key set is past its expiry."""


class RollbackError(PackageError):
    """The package's build is older than the one this device already trusted for the app."""


class MismatchError(PackageError):
    """The package is valid but not the one asked for (other app, other host, other part)."""


class IntegrityError(PackageError):
    """A hash or size does not match the signed manifest."""


class DecryptionError(PackageError):
    """The package cannot be opened by this host (not a recipient, wrong key, tampered ciphertext)."""


class UnsafeEntryError(PackageError):
    """An archive entry breaks the unpack policy (traversal, link, duplicate, layout, bytecode)."""


class LimitError(PackageError):
    """An entry count, size or compression-ratio limit was exceeded."""


class TrustStoreError(PackageError):
    """The trusted state directory is missing, corrupt or in a forbidden place."""

"""Releases: full and grayscale, rollback, takedown, the update check and per-host packages."""

"""Runs `minibox.compiler.protect.protect_bundle` in a child process with OS limits (code protection).

Usage: python -m minibox.platform.apps.protect_worker BUNDLE MAPS; protects the bundle directory in
place, writes the private map document to MAPS (outside the bundle) and prints one JSON line: the
protection's summary (`Protection.summary()`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    bundle, maps = Path(sys.argv[1]), Path(sys.argv[2])
    from minibox.compiler.protect import protect_bundle

    protection, doc = protect_bundle(bundle)
    maps.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), "utf-8")
    print(json.dumps(protection.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

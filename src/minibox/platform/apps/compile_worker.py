"""Runs `minibox.compiler.compile_project` in a child process with OS limits (PKG-13, VIEW-09).

Usage: python -m minibox.platform.apps.compile_worker SRC OUT; prints one JSON line:
{"ok": true} or {"errors": [{"file","line","column","message"}]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    from minibox.compiler import CompileErrors, compile_project

    try:
        compile_project(src, out)
    except CompileErrors as errs:
        items = [{"file": str(getattr(e, "file", "")), "line": getattr(e, "line", None),
                  "column": getattr(e, "column", None), "message": str(getattr(e, "message", e))} for e in errs]
        print(json.dumps({"errors": items}))
        return 0
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dependencies point one way: `workers` imports `verification`, never the reverse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Imports every module of `verification` in a fresh interpreter, then lists what of
# `workers` got imported along the way.
PROBE = """
import importlib, json, pkgutil, sys
import django
django.setup()
import verification
for module in pkgutil.walk_packages(verification.__path__, "verification."):
    importlib.import_module(module.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "workers")))
"""


def test_verification_never_imports_workers():
    # when
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )

    # then
    assert json.loads(probe.stdout.splitlines()[-1]) == []

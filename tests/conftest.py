"""Make the test helper modules (tests/planner/villages.py, tests/maps/browser.py, tests/service/server.py)
importable."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for sub in ("planner", "maps", "api", "service"):
    path = str(HERE / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

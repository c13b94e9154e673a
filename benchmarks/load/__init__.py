"""The load test's parts: statistics (plain), the server's meter, the visitors, a worker, the report.

The browser helpers live with the browser tests (tests/e2e/stdriver.py, procmem.py): the package
puts that folder on the path once, here, for its modules.
"""

import sys
from pathlib import Path

E2E = Path(__file__).resolve().parents[2] / "tests" / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

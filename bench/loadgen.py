"""A keep-alive HTTP load generator for one URL: `python -m bench.loadgen PORT HOST PATH SECONDS`.

Sends GET requests back to back on one connection (reconnecting when the server closes it) for
SECONDS and prints the number of successful responses and errors as JSON.
"""

from __future__ import annotations

import http.client
import json
import sys
import time


def main() -> None:
    port, host, path, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ok = errors = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                errors += 1
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
    print(json.dumps({"ok": ok, "errors": errors, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()

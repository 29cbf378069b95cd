#!/usr/bin/env python3
"""The measuring side of scripts/bench-console (standard library only, loopback only).

    first_paint.py DRIVER_URL CONSOLE_URL USER:PASSWORD LOADS

Drives a headless Chromium through chromedriver's WebDriver HTTP API (the flags of the
end-to-end tests' browser, tests/e2e/browser.rs). It loads CONSOLE_URL (`.../console/`)
LOADS times logged out (the page paints its login form) and LOADS times logged in (the
page paints, asks `api/session`, shows the live calls and opens the feed), each load a fresh
navigation (the console sends `Cache-Control: no-store`, so nothing comes from a cache),
and reads from the page's Performance API: first-contentful-paint (`paint` entries), the
navigation's DOMContentLoaded, logged in the end of the `api/session` answer (after which
the page shows its views), and the bytes of the document and every resource it loaded. Prints one JSON object with each load's figures.
"""

import json
import sys
import tempfile
import urllib.parse
import urllib.request

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
]

# What one load measured, read once the page has painted (and, logged in, shown the
# live view). Sizes are transfer sizes (headers and body) and decoded body sizes.
MEASURE = """
const done = arguments[arguments.length - 1];
const loggedIn = arguments[0];
const started = performance.now();
function report() {
  const paint = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
  if (!paint || (loggedIn && document.querySelector('#feed-state').textContent !== 'live')) {
    if (performance.now() - started > 10000) { done({ error: 'no paint or no live feed within 10 s' }); return; }
    setTimeout(report, 10);
    return;
  }
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource').filter((r) => !r.name.includes('api/'));
  done({
    fcp: paint.startTime,
    dcl: nav.domContentLoadedEventEnd,
    session: loggedIn ? (performance.getEntriesByType('resource').find((r) => r.name.includes('api/session')) || {}).responseEnd || null : null,
    transfer: nav.transferSize + resources.reduce((s, r) => s + r.transferSize, 0),
    body: nav.decodedBodySize + resources.reduce((s, r) => s + r.decodedBodySize, 0),
    files: 1 + resources.length,
  });
}
report();
"""

def loopback(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"loopback URLs only, not {url}")
    return url


def call(driver: str, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(driver + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")["value"]


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    driver, console, credentials, loads = (
        loopback(sys.argv[1]),
        loopback(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
    )
    user, password = credentials.split(":", 1)
    profile = tempfile.mkdtemp(prefix="wari-bench-console-")
    capabilities = {
        "capabilities": {
            "alwaysMatch": {
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": FLAGS + [f"--user-data-dir={profile}"],
                }
            }
        }
    }
    session = call(driver, "POST", "/session", capabilities)["sessionId"]
    base = f"/session/{session}"
    results = {"logged_out": [], "logged_in": []}
    try:
        call(driver, "POST", base + "/timeouts", {"script": 15000, "pageLoad": 15000})
        for kind in ("logged_out", "logged_in"):
            if kind == "logged_in":
                form = urllib.parse.urlencode({"user": user, "password": password})
                call(driver, "POST", base + "/execute/async", {
                    "script": "fetch('login', {method: 'POST', body: new URLSearchParams(arguments[0]),"
                              " credentials: 'same-origin'}).then((r) => arguments[1](r.status));",
                    "args": [form],
                })
            for i in range(loads):
                # A fresh navigation each time (the query makes it a new URL).
                call(driver, "POST", base + "/url", {"url": f"{console}?load={kind}-{i}"})
                figures = call(driver, "POST", base + "/execute/async", {
                    "script": MEASURE,
                    "args": [kind == "logged_in"],
                })
                if "error" in figures:
                    sys.exit(f"{kind} load {i}: {figures['error']}")
                results[kind].append(figures)
    finally:
        try:
            call(driver, "DELETE", base)
        except OSError:
            pass
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

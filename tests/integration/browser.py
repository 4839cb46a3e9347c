"""Headless Chromium driven over the DevTools protocol on a pipe, with the standard library only.

Used by the report-page tests and to take the guide's screenshots. Chromium reads
protocol messages on fd 3 and answers on fd 4, each message NUL-terminated.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _high(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Browser:
    """One page in a fresh headless browser. Collects console errors, dialogs and requests."""

    def __init__(self, exe: str, width: int = 1280, height: int = 900) -> None:
        self.profile = tempfile.mkdtemp(prefix="diag-chromium-")
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # Above 4, so putting them on fds 3 and 4 cannot clobber one with the other.
        cmd_r, res_w = _high(cmd_r), _high(res_w)
        # A tiny Python launcher puts the pipes on fds 3 and 4 (dash cannot name fds above 9).
        launch = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); os.execv(sys.argv[3], sys.argv[3:])"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                launch,
                str(cmd_r),
                str(res_w),
                exe,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            pass_fds=(cmd_r, res_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(res_w)
        self._out = os.fdopen(cmd_w, "wb", buffering=0)
        self._in = os.fdopen(res_r, "rb", buffering=0)
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self.session = ""
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = self._in.read(1 << 16)
            if not chunk:
                break
            buf += chunk
            *msgs, buf = buf.split(b"\0")
            for raw in msgs:
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                        if msg.get("method") == "Page.javascriptDialogOpening":
                            threading.Thread(target=self._dismiss, daemon=True).start()
                    self._cond.notify_all()

    def _dismiss(self) -> None:
        self.call("Page.handleJavaScriptDialog", accept=True)

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        self._out.write(json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._replies, timeout):
                raise TimeoutError(f"{method}: no answer in {timeout} s")
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(
        self, path: Path, ready: str = "document.documentElement?.dataset.renderedMs"
    ) -> float:
        """Load a file and wait until ``ready`` evaluates truthy; returns its value as a float."""
        self.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            value = self.eval(ready)
            if value:
                return float(value)
            time.sleep(0.05)
        raise TimeoutError(f"{path}: the page never became ready ({ready})")

    def eval(self, expr: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expr}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, dialogs and network requests."""
        out = []
        for ev in list(self.events):
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(f"log {p['entry']['level']}: {p['entry']['text']}")
            elif m == "Page.javascriptDialogOpening":
                out.append(f"dialog: {p.get('type')} {p.get('message')!r}")
            elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(
                ("file:", "about:", "data:")
            ):
                out.append(f"request: {p['request']['url']}")
        return out

    def screenshot(self, clip: dict[str, float] | None = None, scale: float = 1.0) -> bytes:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {**clip, "scale": scale}
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def rect(self, selector: str) -> dict[str, float]:
        """The element's box in page coordinates (for screenshot clips)."""
        return self.eval(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
        )

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    h = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unsupported PNG: depth {depth} color {color}"
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            if f == 1:
                cur[i] = (cur[i] + a) & 255
            elif f == 2:
                cur[i] = (cur[i] + b) & 255
            elif f == 3:
                cur[i] = (cur[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(cur))
        prev = cur
    return w, h, rows


def colour_stats(png: bytes) -> tuple[int, int]:
    """(pixels that are not near-white, distinct colours) of a screenshot."""
    w, _, rows = png_pixels(png)
    bpp = len(rows[0]) // w if rows else 3
    inked, colours = 0, set()
    for row in rows:
        for i in range(0, len(row), bpp):
            r, g, b = row[i], row[i + 1], row[i + 2]
            if r < 235 or g < 235 or b < 235:
                inked += 1
            colours.add((r >> 3, g >> 3, b >> 3))
    return inked, len(colours)


def pixels_near(png: bytes, rgb: tuple[int, int, int], tol: int = 24) -> int:
    """How many pixels of a screenshot are within ``tol`` of the colour ``rgb``."""
    w, _, rows = png_pixels(png)
    bpp = len(rows[0]) // w if rows else 3
    return sum(
        1
        for row in rows
        for i in range(0, len(row), bpp)
        if abs(row[i] - rgb[0]) <= tol
        and abs(row[i + 1] - rgb[1]) <= tol
        and abs(row[i + 2] - rgb[2]) <= tol
    )

"""Open a report in a real headless Chromium through the Chrome DevTools protocol (CDP).

No driver and no extra package: Chromium is started with ``--remote-debugging-port=0``, the
port it picked is read from ``DevToolsActivePort`` in its profile folder, and the protocol is
spoken over a small standard-library WebSocket client (RFC 6455: masked client frames, text
and continuation frames, ping/pong). Every wait is bounded and the browser process is always
killed (:class:`Browser` is a context manager).

    with Browser() as b:
        page = b.open("report.html")           # load time, console errors
        b.evaluate("document.title")
        png = b.screenshot()

Used by the tests and by ``trackkit report --check`` / ``--screenshot``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trackkit.errors import TrackkitError

__all__ = ["Browser", "PageLoad", "find_chromium"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable (env ``TRACKKIT_CHROMIUM`` first), or None."""
    env = os.environ.get("TRACKKIT_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _WebSocket:
    """The client side of a WebSocket (text messages only), enough for CDP."""

    def __init__(self, url: str, timeout: float) -> None:
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise TrackkitError("chromium closed the DevTools connection")
            head += chunk
        status, _, self.buffer = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise TrackkitError(f"DevTools WebSocket refused: {status[:80]!r}")

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise TrackkitError("chromium closed the DevTools connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = (
            bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if n < 4096
            else (
                (
                    int.from_bytes(payload, "big")
                    ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
                ).to_bytes(n, "big")
            )
        )
        self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else b""
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise TrackkitError("chromium closed the DevTools connection")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class PageLoad:
    """What opening a page showed.

    Attributes:
        seconds: from the navigation request to the page's load event and its script having
            run (``body[data-ready]``), wall clock.
        errors: console errors, uncaught exceptions and failed requests, one line each.
        requests: the URLs the page asked for (the page itself included).
    """

    seconds: float
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Browser:
    """A headless Chromium driven over CDP (one tab); always killed on exit."""

    def __init__(
        self,
        executable: str | None = None,
        width: int = 1400,
        height: int = 1000,
        timeout: float = 30.0,
    ) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise TrackkitError(
                "no chromium found (install the distribution's chromium package, or set "
                "TRACKKIT_CHROMIUM)"
            )
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="trackkit-chromium-")
        args = [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.ws: _WebSocket | None = None
        self._id = 0
        self._events: list[dict[str, Any]] = []
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.proc.poll() is not None:
                raise TrackkitError(f"chromium exited at start (code {self.proc.returncode})")
            if time.monotonic() > deadline:
                raise TrackkitError(f"chromium did not start within {self.timeout:.0f} s")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        url = f"http://127.0.0.1:{port}/json/list"
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310 (local)
            targets = json.loads(resp.read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = _WebSocket(page["webSocketDebuggerUrl"], self.timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and wait (bounded) for its result; events are kept."""
        if self.ws is None:
            raise TrackkitError("the browser is closed")
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise TrackkitError(f"CDP {method}: {msg['error'].get('message')}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self._events.append(msg)
        raise TrackkitError(f"CDP {method}: no answer within {self.timeout:.0f} s")

    def _errors(self) -> list[str]:
        out = []
        for ev in self._events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                out.append(f"console.{p['type']}: {args}")
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                desc = d.get("exception", {}).get("description") or d.get("text", "")
                out.append(f"exception: {desc} (line {d.get('lineNumber')})")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                out.append(f"log: {e.get('text')} {e.get('url', '')}".strip())
        return out

    def open(
        self, path: str | Path, ready: str = "document.body.dataset.ready === '1'"
    ) -> PageLoad:
        """Navigate to a local file and wait (bounded) until ``ready`` (a JS expression) holds
        after the load event; returns the time taken and the errors seen."""
        url = Path(path).resolve().as_uri()
        self._events.clear()
        start = time.perf_counter()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        loaded = False
        while time.monotonic() < deadline:
            if not loaded:
                loaded = any(e["method"] == "Page.loadEventFired" for e in self._events)
            if loaded and self.evaluate(f"!!({ready})"):
                break
            if not loaded:
                self.call("Runtime.evaluate", expression="1")  # pumps events
            time.sleep(0.01)
        else:
            raise TrackkitError(f"{path}: the page did not finish loading in {self.timeout:.0f} s")
        seconds = time.perf_counter() - start
        requests = [
            e["params"]["request"]["url"]
            for e in self._events
            if e["method"] == "Network.requestWillBeSent"
        ]
        return PageLoad(seconds, self._errors(), requests)

    def errors(self) -> list[str]:
        """Console errors and exceptions since the last :meth:`open`."""
        self.call("Runtime.evaluate", expression="1")
        return self._errors()

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serialisable results; promises awaited)."""
        res = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            desc = d.get("exception", {}).get("description") or d.get("text")
            raise TrackkitError(f"JavaScript error: {desc}")
        return res.get("result", {}).get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        """A PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        """Kill the browser (its whole process group) and remove its profile."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

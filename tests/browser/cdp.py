"""Headless Chromium driven with the DevTools protocol over a pipe, for the page's tests.

Chromium (Debian's ``chromium`` package) runs with ``--remote-debugging-pipe``: it reads
JSON commands, each ended by a NUL byte, on its file descriptor 3 and writes answers and
events on 4. No WebSocket, no browser download, no npm package: :class:`Chromium` starts it,
:class:`Page` is one tab, with what a test does in it (evaluate JavaScript, type into a
field, click a button, wait for a condition, take a screenshot) and the console messages
it printed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

#: Flags for a root user in a container on a closed network: no sandbox (root), no GPU, no
#: background requests to Google's services (they are refused here, many at a time).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
)


class BrowserError(Exception):
    """A DevTools command failed, or the page threw."""


def find_chromium() -> str | None:
    """The Chromium executable, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """A headless Chromium with its own empty profile; use as a context manager."""

    def __init__(self, executable: str, extra_flags: Sequence[str] = ()) -> None:
        self.executable = executable
        self.profile = tempfile.mkdtemp(prefix="pgwire-chromium-")
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # Above 10, so that placing them on 3 and 4 in the child cannot overwrite each other.
        child_in = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_read)
        os.close(from_browser_write)

        def place_pipes() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                *extra_flags,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=place_pipes,
            close_fds=False,
        )
        os.close(child_in)
        os.close(child_out)
        self._next_id = 0
        self._lock = threading.Lock()
        self._answers: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.call("Browser.getVersion")["product"]

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._changed:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self._events.append(message)
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Send a DevTools command and wait for its answer."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._changed:
            while ident not in self._answers:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise BrowserError(f"no answer to {method} (Chromium closed or too slow)")
                self._changed.wait(left)
            answer = self._answers.pop(ident)
        if "error" in answer:
            raise BrowserError(f"{method} failed: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def events(self, session: str, method: str) -> list[dict[str, Any]]:
        """The parameters of the events ``method`` of ``session`` received so far."""
        with self._lock:
            return [
                event["params"]
                for event in self._events
                if event.get("sessionId") == session and event["method"] == method
            ]

    def new_page(self, width: int = 1200, height: int = 860) -> Page:
        """A new tab, at ``about:blank``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, session["sessionId"], target)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        with contextlib.suppress(OSError):
            os.close(self._to_browser)
        self._reader.join(5)
        with contextlib.suppress(OSError):
            os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Page:
    """One tab of :class:`Chromium`."""

    def __init__(self, browser: Chromium, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target

    def close(self) -> None:
        """Close the tab."""
        self.browser.call("Target.closeTarget", {"targetId": self.target})

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        return self.browser.call(method, params, self.session, timeout)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression[:80]!r} threw: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120, what: str = "") -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"waited {timeout} s for {what or expression}; the page says: "
                    f"{self.evaluate('document.body ? document.body.innerText : null')!r}"
                )
            time.sleep(0.1)

    def _center(self, selector: str) -> tuple[float, float]:
        found = f"document.querySelector({json.dumps(selector)})"
        box = self.evaluate(
            f"(() => {{ const e = {found}; if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        if box is None:
            raise BrowserError(f"no element {selector} on the page")
        return box[0], box[1]

    def click(self, selector: str) -> None:
        """Click the middle of the element, with the mouse."""
        x, y = self._center(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def type_into(self, selector: str, text: str) -> None:
        """Empty a text field and type ``text`` into it, as keyboard input."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.call(
            "Input.dispatchKeyEvent",
            {"type": "keyDown", "key": "Delete", "code": "Delete", "windowsVirtualKeyCode": 46},
        )
        self.call(
            "Input.dispatchKeyEvent",
            {"type": "keyUp", "key": "Delete", "code": "Delete", "windowsVirtualKeyCode": 46},
        )
        self.call("Input.insertText", {"text": text})

    def text(self, selector: str) -> str:
        value = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " return e ? e.innerText : null; })()"
        )
        if value is None:
            raise BrowserError(f"no element {selector} on the page")
        return str(value)

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the page, down to the end of its content."""
        height = self.evaluate("Math.ceil(document.body.getBoundingClientRect().bottom)")
        width = self.evaluate("document.documentElement.clientWidth")
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = self.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def console(self) -> list[str]:
        """What the page printed on its console so far (and the exceptions it threw)."""
        lines = []
        for event in self.browser.events(self.session, "Runtime.consoleAPICalled"):
            values = (arg.get("value", arg.get("description", "")) for arg in event["args"])
            lines.append(" ".join(str(value) for value in values))
        for event in self.browser.events(self.session, "Runtime.exceptionThrown"):
            lines.append(str(event["exceptionDetails"]))
        return lines

"""A headless Chromium driven over the DevTools protocol through a pipe: no port, no network.

Used by ``tests/test_brief_browser.py`` (does a brief render cleanly?) and by
``docs/briefs/screenshots.py`` (what a brief looks like).  ``--remote-debugging-pipe`` makes
Chromium read protocol messages from its fd 3 and write them to fd 4, NUL-terminated JSON,
so nothing listens on any address (a websocket client would need a debugging port) and no
Python package beyond the standard library is needed.  The flags keep a browser on a closed
network from waiting on connections it will never get (sync, updates, QUIC, field trials).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--no-default-browser-check", "--remote-debugging-pipe")


class BrowserError(RuntimeError):
    """Chromium did not start, answered with an error, or did not answer in time."""


def chromium_path() -> str | None:
    """The Chromium binary (Debian's ``chromium``), or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageReport:
    """What a loaded page showed: errors on its console, broken images, and its widths."""

    console_errors: list[str]
    images: list[dict[str, Any]]  # {"src": the URL (40 characters of a data: URL), "naturalWidth": int}
    scroll_width: int
    inner_width: int

    @property
    def broken_images(self) -> list[str]:
        return [i["src"] for i in self.images if i["naturalWidth"] <= 0]


@dataclass
class Chromium:
    """One headless browser process with one page.  Use as a context manager."""

    width: int = 1280
    height: int = 900
    timeout_s: float = 60.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _to_browser: int = field(default=-1, init=False, repr=False)
    _from_browser: int = field(default=-1, init=False, repr=False)
    _buffer: bytes = field(default=b"", init=False, repr=False)
    _next_id: int = field(default=0, init=False, repr=False)
    _events: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _session: str = field(default="", init=False, repr=False)
    _profile: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False, repr=False)
    _log: BinaryIO | None = field(default=None, init=False, repr=False)

    def __enter__(self) -> Chromium:
        binary = chromium_path()
        if binary is None:
            raise BrowserError("chromium is not installed (Debian: apt-get install chromium; `make test` does it)")
        self._profile = tempfile.TemporaryDirectory(prefix="routesim-chromium-")
        self._log = open(Path(self._profile.name) / "chromium.log", "wb")  # closed in __exit__
        # The browser reads commands on its fd 3 and writes answers on its fd 4.  Its ends of
        # the two pipes are first moved to fds >= 10 (so neither is 3 or 4 already), then bash
        # puts them at 3 and 4 as it execs Chromium (dash takes single-digit fds only): no
        # preexec_fn, so it is safe in a process with threads.
        cmd_r, cmd_w = os.pipe()
        ans_r, ans_w = os.pipe()
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (cmd_r, ans_w))
        os.close(cmd_r)
        os.close(ans_w)
        args = [binary, *FLAGS, f"--user-data-dir={self._profile.name}",
                f"--window-size={self.width},{self.height}", "about:blank"]
        shell = f'exec "$0" "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-'
        try:
            self._proc = subprocess.Popen(["/bin/bash", "-c", shell, *args], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=self._log,
                                          pass_fds=(child_in, child_out), start_new_session=True)
        finally:
            os.close(child_in)
            os.close(child_out)
        self._to_browser, self._from_browser = cmd_w, ans_r
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.page(f"{domain}.enable")
        self.page("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            with contextlib.suppress(BrowserError, OSError):  # it may be gone already
                self.send("Browser.close")
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        if self._log is not None:
            self._log.close()
        if self._profile is not None:
            self._profile.cleanup()

    def _log_tail(self) -> str:
        """The last lines Chromium wrote on stderr, for an error message."""
        if self._profile is None:
            return ""
        lines = (Path(self._profile.name) / "chromium.log").read_text(errors="replace").splitlines()
        return " | ".join(line for line in lines[-5:] if "dbus" not in line)

    # ------------------------------------------------------------------ the protocol

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"chromium did not answer within {self.timeout_s:.0f} s")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"chromium closed the protocol pipe (it exited): {self._log_tail()}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Call one protocol method and return its result; events seen meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            if "method" in answer:
                self._events.append(answer)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        """A method of the page's session (Page.*, Runtime.*, ...)."""
        return self.send(method, session=self._session, **params)

    def wait_for(self, event: str) -> dict[str, Any]:
        """The first unseen ``event`` (e.g. ``Page.loadEventFired``), waiting for it."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            for i, e in enumerate(self._events):
                if e["method"] == event:
                    return self._events.pop(i)
            message = self._read_message(deadline)
            if "method" in message:
                self._events.append(message)

    # ------------------------------------------------------------------ what the tests ask

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event (images included: they are inline)."""
        self._events = [e for e in self._events if e["method"] != "Page.loadEventFired"]
        answer = self.page("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"cannot open {url}: {answer['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        answer = self.page("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression!r} raised {answer['exceptionDetails'].get('text')}")
        return answer["result"].get("value")

    def console_errors(self) -> list[str]:
        """Errors the page logged, threw or its resources raised, since the browser started."""
        out = []
        for e in self._events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(str(d.get("exception", {}).get("description") or d.get("text")))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"{p['entry'].get('text')} ({p['entry'].get('url', '')})")
        return out

    def inspect(self, path: Path) -> PageReport:
        """Open a local HTML file and report what a reader would notice broken."""
        self.open(path.resolve().as_uri())
        images = self.evaluate(
            "Array.from(document.images).map(i => ({src: i.src.startsWith('data:') ? i.src.slice(0, 40) : i.src,"
            " naturalWidth: i.naturalWidth}))")
        widths = self.evaluate(
            "[(document.scrollingElement || document.documentElement).scrollWidth, window.innerWidth]")
        return PageReport(self.console_errors(), images, int(widths[0]), int(widths[1]))

    def screenshot(self, path: Path, max_height: int | None = None) -> Path:
        """A PNG of the page at the window's width: all of it, or its top ``max_height`` px."""
        height = int(self.evaluate("(document.scrollingElement || document.documentElement).scrollHeight"))
        if max_height is not None:
            height = min(height, max_height)
        clip = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
        data = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

"""Open a local HTML file in headless Debian Chromium, offline, and screenshot it.

:func:`screenshot` drives Chromium over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: Chromium reads commands on fd 3 and writes replies and events on fd 4,
each a JSON message ended by a NUL byte).  No websocket, no TCP port, no extra Python package.
That gives structured, complete diagnostics instead of scraping ``--enable-logging`` stderr (whose
"CONSOLE" lines miss failed resource loads and change format between versions):

* ``Runtime.exceptionThrown``: uncaught exceptions (``L is not defined``...);
* ``Runtime.consoleAPICalled`` of type ``error`` / ``assert``: ``console.error`` calls;
* ``Log.entryAdded`` of level ``error``: the browser's own errors, e.g. "Failed to load resource";
* ``Network.requestWillBeSent`` / ``Network.loadingFailed``: every URL the page asked for.

The network is unreachable: every host name resolves to nothing (``--host-resolver-rules``) and
every connection goes to a dead proxy (``--proxy-server=127.0.0.1:9``), so a page that needs a CDN
fails here the way it would on a laptop without internet.  Each run gets a fresh profile.

The page is loaded; after its ``load`` event two animation frames and ``settle_s`` seconds pass
(late errors are still collected) before the screenshot is taken at ``width`` x ``height`` CSS
pixels, scale 1.

If Chromium is missing the calling test is skipped, unless the ``CI`` environment variable is set:
then it fails (CI installs ``chromium`` and ``fonts-noto-cjk``).  ``$CHROMIUM`` overrides the binary.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@dataclass
class ConsoleResult:
    """What happened while the page was open."""

    png_path: Path
    errors: list[str] = field(default_factory=list)
    """Uncaught exceptions, ``console.error``/``assert`` and browser errors, as readable lines."""
    messages: list[str] = field(default_factory=list)
    """Every console message and log entry, as ``"<level>: <text>"``."""
    requests: list[str] = field(default_factory=list)
    """Every URL the page requested (the page itself included), except ``data:`` URLs."""
    value: object = None
    """The result of the ``evaluate`` expression, if one was given (JSON-serialisable values)."""

    @property
    def external_requests(self) -> list[str]:
        """The requested URLs that would need the network (anything but file/data/about/blob)."""
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:", "blob:"))]


def chromium_binary() -> str:
    """Return the Chromium to run; skip the test (fail it under ``CI``) if there is none."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    message = "Debian chromium is not installed (apt-get install chromium fonts-noto-cjk)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must install it (see the Makefile).")
    pytest.skip(message)


def require_cjk_font() -> None:
    """Skip the test (fail it under ``CI``) unless fontconfig has a Chinese font for Chromium."""
    try:
        families = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                                  timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        families = ""
    if families:
        return
    message = "no Chinese font for Chromium: Chinese labels would show as boxes (apt-get install fonts-noto-cjk)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must install it (see the Makefile).")
    pytest.skip(message)


class _DevTools:
    """A minimal DevTools-protocol client over the pipe of one Chromium process."""

    def __init__(self, binary: str, profile: Path, log_path: Path, width: int, height: int) -> None:
        to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, from_chrome_w = os.pipe()
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()

        def place_fds() -> None:
            # In the child, before exec: the pipe ends become fd 3 and fd 4 (inheritable; all other
            # Python fds are close-on-exec).  subprocess would close 3 and 4 again after this hook
            # if close_fds were on, hence close_fds=False below.
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)  # out of the way of 3, 4
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [
            binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "--remote-debugging-pipe", "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            close_fds=False, preexec_fn=place_fds, start_new_session=True,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._closed = False
        self._next_id = 0
        self._inbox: queue.Queue[dict | None] = queue.Queue()
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := os.read(self._from_chrome_r, 1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._inbox.put(json.loads(raw))
        except OSError:
            pass
        finally:
            self._inbox.put(None)  # Chromium closed the pipe (exited)

    def call(self, method: str, params: dict | None = None, *, session: str | None = None,
             deadline: float) -> dict:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._get(deadline, f"waiting for the reply to {method}")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, *, deadline: float) -> dict:
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            event = self._get(deadline, f"waiting for {method}")
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return event

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                event = self._inbox.get(timeout=left)
            except queue.Empty:
                return
            if event is None:
                return
            if "method" in event:
                self.events.append(event)

    def _get(self, deadline: float, doing: str) -> dict:
        left = deadline - time.monotonic()
        try:
            item = self._inbox.get(timeout=max(left, 0.01))
        except queue.Empty:
            raise TimeoutError(f"Chromium timed out {doing}") from None
        if item is None:
            raise RuntimeError(f"Chromium exited (code {self.proc.poll()}) while {doing}")
        return item

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.proc.poll() is None:
                try:
                    os.write(self._to_chrome_w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                except OSError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the session this helper started
                    self.proc.wait(timeout=10)
        finally:
            os.close(self._to_chrome_w)
            self._reader.join(timeout=5)  # ends when Chromium's end of the pipe closes
            for fd in (self._from_chrome_r,):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()


def _remote_text(arg: dict) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type"))


def _collect(events: list[dict], result: ConsoleResult) -> None:
    urls_by_request: dict[str, str] = {}
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text", "")
            where = f"{details.get('url', '')}:{details.get('lineNumber', 0) + 1}"
            result.errors.append(f"uncaught: {text} ({where})")
            result.messages.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_text(a) for a in params.get("args", []))
            result.messages.append(f"{params['type']}: {text}")
            if params["type"] in ("error", "assert"):
                result.errors.append(f"console.{params['type']}: {text}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            text = f"{entry.get('text', '')} {entry.get('url', '')}".strip()
            result.messages.append(f"{entry['level']}: {text}")
            if entry["level"] == "error":
                result.errors.append(f"{entry.get('source', 'browser')}: {text}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls_by_request[params["requestId"]] = url
            if not url.startswith("data:") and url not in result.requests:
                result.requests.append(url)
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = urls_by_request.get(params["requestId"], "?")
            if not url.startswith("data:"):
                line = f"network: {params.get('errorText', 'failed')} {url}"
                if line not in result.errors:
                    result.errors.append(line)


def screenshot(html_path: str | os.PathLike[str], png_path: str | os.PathLike[str], *,
               width: int = 1200, height: int = 800, timeout_s: float = 60,
               settle_s: float = 0.5, evaluate: str | None = None) -> ConsoleResult:
    """Open ``html_path`` offline in headless Chromium, save a PNG at ``png_path``, report the console.

    ``evaluate``, a JavaScript expression, is run in the page just before the screenshot; its value
    is returned in :attr:`ConsoleResult.value` (e.g. ``"document.querySelector('.x').innerText"``).

    Raises ``TimeoutError`` if the page does not load within ``timeout_s`` and ``RuntimeError`` if
    Chromium fails (its output is in the message).  Skips/fails the test if Chromium is missing.
    """
    binary = chromium_binary()
    html_path = Path(html_path).resolve()
    png_path = Path(png_path)
    if not html_path.is_file():
        raise FileNotFoundError(f"No page to open at {html_path}.")
    deadline = time.monotonic() + timeout_s
    result = ConsoleResult(png_path=png_path)
    with tempfile.TemporaryDirectory(prefix="zhudian-chromium-") as tmp:
        log_path = Path(tmp) / "chromium.log"
        tools = _DevTools(binary, Path(tmp) / "profile", log_path, width, height)
        try:
            target = tools.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)
            attached = tools.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                  deadline=deadline)
            session = attached["sessionId"]
            for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
                tools.call(method, session=session, deadline=deadline)
            tools.call("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                       session=session, deadline=deadline)
            navigated = tools.call("Page.navigate", {"url": html_path.as_uri()}, session=session,
                                   deadline=deadline)
            if navigated.get("errorText"):
                raise RuntimeError(f"Chromium could not open {html_path}: {navigated['errorText']}")
            tools.wait_event("Page.loadEventFired", deadline=deadline)
            tools.call("Runtime.evaluate", {
                "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                "awaitPromise": True,
            }, session=session, deadline=deadline)
            tools.drain(min(settle_s, max(deadline - time.monotonic(), 0)))
            if evaluate is not None:
                evaluated = tools.call("Runtime.evaluate", {"expression": evaluate, "returnByValue": True},
                                       session=session, deadline=deadline)
                if "exceptionDetails" in evaluated:
                    details = evaluated["exceptionDetails"]
                    raise RuntimeError(f"evaluate failed: {details.get('exception', {}).get('description', details)}")
                result.value = evaluated["result"].get("value")
            shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session, deadline=deadline)
            png_path.write_bytes(base64.b64decode(shot["data"]))
            tools.drain(0.05)
        except (TimeoutError, RuntimeError) as exc:
            tools.close()
            log = log_path.read_text(errors="replace")[-3000:]
            raise type(exc)(f"{exc}\n--- chromium output (last lines) ---\n{log}") from exc
        finally:
            tools.close()
        _collect(tools.events, result)
    return result

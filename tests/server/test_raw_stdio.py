"""The server under bad input, over raw stdio: bytes no typed client would send.

Each test starts the real `stomper-lsp` process, writes frames by hand, and reads the
framed replies. After every abuse the server must still answer, and it must exit within a
second of `exit`, with 0 after `shutdown` and 1 without.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.processes import children, wait_dead
from tests.server.helpers import SERVER_COMMAND, write_project

FAKE_AGENT = Path(__file__).resolve().parents[1] / "fake_agents" / "fake_agent.py"


def frame(payload: dict[str, Any] | bytes) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request(msg_id: int | str, method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Any = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


class RawServer:
    def __init__(self, tmp_path: Path) -> None:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"),
               "STOMPER_SANDBOX_DIR": str(tmp_path / "sandboxes"),
               "STOMPER_LOG_DIR": str(tmp_path / "logs")}
        self.proc = subprocess.Popen(
            SERVER_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env,
        )
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        """Everything the server sent, in order (notifications included)."""
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            assert length is not None
            message = json.loads(out.read(length))
            self.received.append(message)
            self.replies.put(message)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, data: bytes | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data if isinstance(data, bytes) else frame(data))
        self.proc.stdin.flush()

    def reply(self, msg_id: Any, timeout: float = 15.0) -> dict[str, Any]:
        """The response to `msg_id` (server-to-client requests and notifications skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.replies.get(timeout=max(deadline - time.monotonic(), 0.01))
            if "method" in message:
                if "id" in message:  # a request of the server's: answer it emptily
                    self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            if message.get("id") == msg_id:
                return message

    def initialize(self, root: Path | None = None) -> None:
        params: dict[str, Any] = {"processId": None, "capabilities": {},
                                  "rootUri": root.as_uri() if root else None,
                                  "initializationOptions": {"tools": ["ruff"]}}
        self.send(request("init", "initialize", params))
        assert "capabilities" in self.reply("init")["result"]
        self.send(notification("initialized", {}))

    def exits_within(self, seconds: float) -> int:
        try:
            return self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"the server did not exit within {seconds} s of `exit`")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def raw(tmp_path: Path) -> Any:
    server = RawServer(tmp_path)
    yield server
    server.close()


def shutdown_and_exit(raw: RawServer) -> int:
    raw.send(request("bye", "shutdown"))
    assert raw.reply("bye").get("result", "missing") is None
    raw.send(notification("exit"))
    return raw.exits_within(1.5)


def test_invalid_json_gets_a_parse_error_and_the_session_goes_on(raw: RawServer) -> None:
    raw.send(frame(b"{not json"))
    error = raw.reply(None)
    assert error["error"]["code"] == -32700
    raw.initialize()
    assert shutdown_and_exit(raw) == 0


@pytest.mark.parametrize(
    "bad",
    [
        b"Content-Length: abc\r\n\r\n{}",  # not a number
        b"Content-Type: application/json\r\n\r\n{}",  # no Content-Length at all
        b"Content-Length: 5\r\n\r\n" + json.dumps(request(7, "shutdown")).encode(),  # too short
    ],
    ids=["non-numeric", "missing", "too-short"],
)
def test_a_bad_content_length_does_not_desync_the_stream(raw: RawServer, bad: bytes) -> None:
    raw.initialize()
    raw.send(bad)
    raw.send(request(2, "workspace/executeCommand", {"command": "stomper.nope"}))
    assert raw.reply(2)["error"]["code"] == -32602
    assert shutdown_and_exit(raw) == 0


def test_a_too_long_content_length_gives_the_next_message_back(raw: RawServer) -> None:
    raw.initialize()
    body = json.dumps(request(3, "workspace/executeCommand", {"command": "stomper.nope"}))
    raw.send(b"Content-Length: 5000\r\n\r\n" + body.encode())  # claims far more than it has
    raw.send(request(4, "workspace/executeCommand", {"command": "stomper.nope"}))
    assert raw.reply(4)["error"]["code"] == -32602
    assert shutdown_and_exit(raw) == 0


def test_requests_before_initialize_get_server_not_initialized(raw: RawServer) -> None:
    raw.send(request(1, "textDocument/diagnostic",
                     {"textDocument": {"uri": "file:///tmp/x.py"}}))
    answer = raw.reply(1)
    assert answer["error"]["code"] == -32002
    raw.send(request(2, "workspace/executeCommand", {"command": "stomper.fixAll"}))
    assert raw.reply(2)["error"]["code"] == -32002
    raw.initialize()
    assert shutdown_and_exit(raw) == 0
    assert b"Traceback" not in raw.stderr


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_huge_argument_is_not_echoed_back_nor_kept(raw: RawServer) -> None:
    raw.initialize()
    raw.send(request(4, "workspace/executeCommand",
                     {"command": "stomper.fixFile", "arguments": ["small"]}))
    raw.reply(4, timeout=60)
    before = _rss_mb(raw.proc.pid)
    huge = "x" * (50 * 1024 * 1024)
    raw.send(request(5, "workspace/executeCommand",
                     {"command": "stomper.fixFile", "arguments": [huge]}))
    answer = raw.reply(5, timeout=60)
    assert "error" in answer
    assert len(json.dumps(answer)) < 2000
    del huge
    # The failed request's traceback held its arguments for the rest of the session.
    raw.send(request(6, "workspace/executeCommand",
                     {"command": "stomper.fixFile", "arguments": ["small"]}))
    raw.reply(6, timeout=60)
    assert _rss_mb(raw.proc.pid) - before < 25, (before, _rss_mb(raw.proc.pid))
    assert shutdown_and_exit(raw) == 0


def test_exit_without_shutdown_exits_1(raw: RawServer) -> None:
    raw.initialize()
    raw.send(notification("exit"))
    assert raw.exits_within(1.5) == 1


@pytest.mark.slow
def test_exit_after_a_fix_all_with_work_in_flight_is_prompt(
    tmp_path: Path, agent_out: Path, real_pids: None
) -> None:
    """An agent still running and checkers in flight: the server exits within a second of
    `exit` and no process it started is left."""
    raw = RawServer(tmp_path)  # after real_pids: the server inherits its confinement
    try:
        _exit_with_work_in_flight(raw, tmp_path, agent_out / "pids")
    finally:
        raw.close()


def _exit_with_work_in_flight(raw: RawServer, tmp_path: Path, pid_dir: Path) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
    params: dict[str, Any] = {
        "processId": None, "capabilities": {}, "rootUri": root.as_uri(),
        "initializationOptions": {
            "tools": ["ruff"], "agent": "command",
            "agentCommand": [sys.executable, str(FAKE_AGENT), "{file}", "--hang",
                             "--pid-dir", str(pid_dir)],
        },
    }
    raw.send(request("init", "initialize", params))
    raw.reply("init")
    raw.send(notification("initialized", {}))
    raw.send(notification("textDocument/didOpen", {"textDocument": {
        "uri": (root / "app.py").as_uri(), "languageId": "python", "version": 1,
        "text": "import os\n"}}))
    raw.send(request(9, "workspace/executeCommand", {"command": "stomper.fixAll"}))
    raw.reply(9)
    deadline = time.monotonic() + 30
    while not (pid_dir / "child.pid").exists():
        assert time.monotonic() < deadline, "the agent never started"
        time.sleep(0.05)
    agent = int((pid_dir / "agent.pid").read_text())
    child = int((pid_dir / "child.pid").read_text())
    raw.send(notification("exit"))
    started = time.monotonic()
    code = raw.exits_within(1.5)
    assert time.monotonic() - started < 1.5
    assert code == 1
    assert wait_dead(agent) and wait_dead(child)


def _waiting_ruff(raw: RawServer, *, other_than: int = 0) -> int:
    """The ruff started ahead of the next keystroke (checkers/warm_ruff.py)."""
    deadline = time.monotonic() + 15
    while True:
        found = [pid for pid in children(raw.proc.pid, "ruff") if pid != other_than]
        if len(found) == 1:
            return found[0]
        assert len(found) < 2, f"more than one ruff waits: {found}"
        assert time.monotonic() < deadline, "no ruff was started ahead of the next keystroke"
        time.sleep(0.02)


def test_a_ruff_started_ahead_dies_with_its_settings_its_document_and_the_server(
    raw: RawServer, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "proj", {"app.py": "import os\n"}, commit=False)
    raw.initialize(root)
    doc = {"uri": (root / "app.py").as_uri(), "languageId": "python", "version": 1,
           "text": "import os\n"}
    raw.send(notification("textDocument/didOpen", {"textDocument": doc}))
    first = _waiting_ruff(raw)
    raw.send(notification("workspace/didChangeConfiguration",
                          {"settings": {"stomper": {"tools": ["ruff"], "select": ["F"]}}}))
    assert wait_dead(first, 5), "a ruff started with the old settings outlived them"
    second = _waiting_ruff(raw, other_than=first)  # the re-check starts the next one
    raw.send(notification("textDocument/didClose", {"textDocument": {"uri": doc["uri"]}}))
    assert wait_dead(second, 5), "a ruff started for a closed document outlived it"
    raw.send(notification("textDocument/didOpen", {"textDocument": doc}))
    third = _waiting_ruff(raw, other_than=second)
    started = time.monotonic()
    assert shutdown_and_exit(raw) == 0
    assert time.monotonic() - started < 1.5
    assert wait_dead(third, 1), "a ruff started ahead outlived the server"


def _logged(raw: RawServer) -> list[str]:
    return [m["params"]["message"] for m in raw.received
            if m.get("method") in ("window/logMessage", "window/showMessage")]


@pytest.mark.slow
def test_a_cancelled_fix_all_leaves_a_clean_log(
    tmp_path: Path, agent_out: Path, real_pids: None
) -> None:
    """No pygls noise about cancelling finished requests, no line twice (client log and
    stderr both end up in VS Code's output channel), no never-awaited coroutine."""
    raw = RawServer(tmp_path)
    try:
        root = write_project(tmp_path / "proj", {"app.py": "import os\n", "b.py": "import re\n"})
        params: dict[str, Any] = {
            "processId": None, "capabilities": {"window": {"workDoneProgress": True}},
            "rootUri": root.as_uri(),
            "initializationOptions": {
                "tools": ["ruff"], "agent": "command",
                "agentCommand": [sys.executable, str(FAKE_AGENT), "{file}", "--sleep", "30"],
                "testCommand": "false",
            },
        }
        raw.send(request("init", "initialize", params))
        raw.reply("init")
        raw.send(notification("initialized", {}))
        raw.send(notification("$/cancelRequest", {"id": "init"}))  # long finished
        raw.send(notification("$/cancelRequest", {"id": 12345}))  # never existed
        raw.send(request(9, "workspace/executeCommand", {"command": "stomper.fixAll"}))
        raw.reply(9)
        time.sleep(2.0)
        raw.send(request(10, "workspace/executeCommand", {"command": "stomper.cancel"}))
        raw.reply(10)
        time.sleep(1.5)
        assert shutdown_and_exit(raw) == 0
        time.sleep(0.2)
    finally:
        raw.close()
    stderr = raw.stderr.decode("utf-8", "replace")
    logged = _logged(raw)
    everything = "\n".join(logged) + "\n" + stderr
    assert "Cancel notification for unknown message id" not in everything
    assert "was never awaited" not in everything
    stderr_lines = [line.split(": ", 2)[-1] for line in stderr.splitlines() if line.strip()]
    twice = [line for line in logged if line.strip() and line.strip() in stderr_lines]
    assert not twice, f"shown twice (client log and stderr): {twice}"


@pytest.mark.slow
def test_an_answer_arriving_after_a_cancel_is_dropped_quietly(tmp_path: Path) -> None:
    """Cancel a fix-all while the server waits for the client to accept its progress
    token, then answer: pygls set the result on the cancelled future and Stomper logged
    "Unable to handle message ... InvalidStateError" to the editor as an error (Neovim's
    lsp.log after :StomperFixAll + :StomperCancel)."""
    raw = RawServer(tmp_path)
    try:
        root = write_project(tmp_path / "proj", {"app.py": "import os\n"})
        raw.send(request("init", "initialize", {
            "processId": None, "capabilities": {"window": {"workDoneProgress": True}},
            "rootUri": root.as_uri(), "initializationOptions": {"tools": ["ruff"]},
        }))
        raw.reply("init")
        raw.send(notification("initialized", {}))
        raw.send(request(9, "workspace/executeCommand", {"command": "stomper.fixAll"}))
        deadline = time.monotonic() + 15
        create = None
        while create is None and time.monotonic() < deadline:
            message = raw.replies.get(timeout=15)
            if message.get("method") == "window/workDoneProgress/create":
                create = message  # left unanswered for now
        assert create is not None, "the server asked for no progress token"
        raw.send(request(10, "workspace/executeCommand", {"command": "stomper.cancel"}))
        assert raw.reply(10)["result"] == {"cancelled": 1}
        raw.send({"jsonrpc": "2.0", "id": create["id"], "result": None})
        time.sleep(0.5)
        assert shutdown_and_exit(raw) == 0
        time.sleep(0.2)
    finally:
        raw.close()
    everything = "\n".join(_logged(raw)) + "\n" + raw.stderr.decode("utf-8", "replace")
    assert "Stomper: fix run cancelled; nothing was changed." in everything
    assert "InvalidStateError" not in everything
    assert "Unable to handle message" not in everything

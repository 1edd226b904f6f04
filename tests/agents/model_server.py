"""A scripted AI model on 127.0.0.1 that speaks the providers' APIs, for the real agent CLIs.

The only fake in the agent end-to-end tests. It answers Anthropic Messages (Claude Code),
OpenAI Responses (Codex), OpenAI Chat Completions (Aider) and Gemini generateContent
(Gemini CLI), streaming or not, and plays one short tool-using session per conversation:

1. no issue text in the conversation yet: ask to read the prompt file the instruction names
   (with the CLI's own read tool, or its shell);
2. the issue text arrived (the prompt was really read): read the target, then edit it;
3. the edit's result came back: finish with a short text.

It edits only once the conversation carries `ISSUE_MARK` (a code that appears in the prompt
file alone), so a preset whose agent cannot see its task fixes nothing and fails the test.
Modes for failure tests: "ok", "401", "500", "hang" (never answers).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

AIDER = os.environ.get("STOMPER_AIDER", "/opt/stomper-aider/bin/aider")
ISSUE_MARK = "F401"
PROMPT_PATH = re.compile(r"(/[^\s;'\"]+?\.md)\b")


@dataclass
class Script:
    """What the model does: remove `old` from the target file."""

    target: str = "mod.py"
    old: str = "import os\n"
    new: str = ""
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _text_of(value: Any) -> str:
    """Every string anywhere in a request body, joined: what the model has 'seen'."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_text_of(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_text_of(v) for v in value)
    return ""


@dataclass
class Turn:
    """The model's decision for one request."""

    kind: str  # "read_prompt", "read_target", "edit", "done", "talk"
    path: str = ""


_TARGET = re.compile(r"# Fix \d+ issues? in `([^`]+)`")


def target_of(script: Script, conversation: str) -> str:
    """The file the prompt names (each parallel attempt has its own), else the script's."""
    found = _TARGET.search(conversation)
    return found.group(1) if found else script.target


def decide(script: Script, conversation: str, tool_results: int, workdir: str | None) -> Turn:
    """The scripted session, from what the conversation holds so far."""
    if "Fix the issues listed in" not in conversation and ISSUE_MARK not in conversation:
        return Turn("talk")  # a side request (titles, summaries): no tools
    if ISSUE_MARK not in conversation:
        found = PROMPT_PATH.search(conversation.split("Fix the issues listed in", 1)[-1])
        return Turn("read_prompt", found.group(1) if found else "")
    if "stomper-edited" in conversation or "has been updated" in conversation.lower() \
            or ("successfully" in conversation.lower() and tool_results >= 3):
        return Turn("done")
    if tool_results <= 1:
        return Turn("read_target", target_of(script, conversation))
    if tool_results == 2:
        return Turn("edit", target_of(script, conversation))
    return Turn("done")


def _sse(events: Iterator[tuple[str | None, dict[str, Any]]]) -> Iterator[bytes]:
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {json.dumps(data)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    server_version = "stomper-model/1"
    script: Script

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # model listings and health checks
        self._json(200, {"data": [], "models": []})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        script = self.script
        with script.lock:
            script.requests.append({"path": self.path, "body": body})
        if script.mode == "hang":
            time.sleep(3600)
            return
        if script.mode == "401":
            self._json(401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid x-api-key",
                "code": "invalid_api_key"}})
            return
        if script.mode == "500":
            self._json(500, {"type": "error", "error": {
                "type": "api_error", "message": "Internal server error"}})
            return
        path = self.path.split("?", 1)[0]
        if path.endswith("/messages/count_tokens"):
            self._json(200, {"input_tokens": 100})
        elif path.endswith("/messages"):
            self._anthropic(body)
        elif path.endswith("/responses"):
            self._responses(body)
        elif path.endswith("/chat/completions"):
            self._chat(body)
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            self._gemini(body, stream="stream" in path)
        elif ":countTokens" in path:
            self._json(200, {"totalTokens": 100})
        else:
            self._json(404, {"error": {"message": f"no such endpoint {path}"}})

    # ----- plumbing --------------------------------------------------------------------
    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, chunks: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)
            self.wfile.flush()

    def _edited(self, turn: Turn) -> None:
        if turn.kind == "edit":
            with self.script.lock:
                self.script.edits += 1

    # ----- Anthropic Messages (Claude Code) ---------------------------------------------
    def _anthropic(self, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        conversation = _text_of(messages) + "\n" + _text_of(body.get("system"))
        results = sum(
            1 for m in messages if isinstance(m.get("content"), list)
            for c in m["content"] if isinstance(c, dict) and c.get("type") == "tool_result"
        )
        tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        turn = decide(self.script, _text_of(messages), results, None) if tools else Turn("talk")
        cwd = _claude_cwd(conversation)
        block: dict[str, Any]
        if turn.kind == "read_prompt":
            block = _tool("Read", {"file_path": turn.path})
        elif turn.kind == "read_target":
            block = _tool("Read", {"file_path": f"{cwd}/{turn.path}"})
        elif turn.kind == "edit":
            block = _tool("Edit", {"file_path": f"{cwd}/{turn.path}",
                                   "old_string": self.script.old,
                                   "new_string": self.script.new})
        else:
            block = {"type": "text", "text": "Done: stomper-edited." if turn.kind == "done"
                     else "OK"}
        self._edited(turn)
        stop = "tool_use" if block["type"] == "tool_use" else "end_turn"
        message = {
            "id": "msg_stomper", "type": "message", "role": "assistant",
            "model": body.get("model", "claude"), "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 20},
        }
        if not body.get("stream"):
            message.update(content=[block], stop_reason=stop)
            self._json(200, message)
            return

        def events() -> Iterator[tuple[str | None, dict[str, Any]]]:
            yield "message_start", {"type": "message_start", "message": message}
            if block["type"] == "tool_use":
                start = {**block, "input": {}}
                yield "content_block_start", {
                    "type": "content_block_start", "index": 0, "content_block": start}
                yield "content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta",
                              "partial_json": json.dumps(block["input"])}}
            else:
                yield "content_block_start", {
                    "type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}
                yield "content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": block["text"]}}
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            yield "message_delta", {
                "type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 20}}
            yield "message_stop", {"type": "message_stop"}

        self._stream(_sse(events()))

    # ----- OpenAI Responses (Codex) ------------------------------------------------------
    def _responses(self, body: dict[str, Any]) -> None:
        items = body.get("input") or []
        conversation = _text_of(items) + "\n" + _text_of(body.get("instructions"))
        results = sum(1 for i in items if isinstance(i, dict)
                      and i.get("type") in ("function_call_output", "custom_tool_call_output"))
        turn = decide(self.script, _text_of(items), results, None)
        cwd = _codex_cwd(conversation)
        tools = {t.get("name"): t for t in body.get("tools") or [] if isinstance(t, dict)}
        output: dict[str, Any]
        command: list[str] = []
        if turn.kind in ("read_prompt", "read_target"):
            command = ["cat", turn.path if turn.kind == "read_prompt" else f"{cwd}/{turn.path}"]
        elif turn.kind == "edit":
            old = self.script.old.rstrip("\n")
            command = ["sed", "-i", f"/^{re.escape(old)}$/d", f"{cwd}/{turn.path}"]
        if command and "exec_command" in tools:  # codex 0.171: one shell string, a PTY
            output = _function_call("exec_command", {"cmd": shlex.join(command)})
        elif command:
            output = _function_call("shell", {"command": command, "workdir": cwd})
        else:
            output = {"type": "message", "id": "msg_1", "role": "assistant", "status":
                      "completed", "content": [{"type": "output_text", "text":
                                                "Done: stomper-edited.", "annotations": []}]}
        self._edited(turn)
        response = {"id": "resp_stomper", "object": "response", "status": "completed",
                    "model": body.get("model", "gpt"), "output": [output],
                    "usage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}}

        def events() -> Iterator[tuple[str | None, dict[str, Any]]]:
            yield "response.created", {"type": "response.created",
                                       "response": {**response, "status": "in_progress",
                                                    "output": []}}
            yield "response.output_item.added", {"type": "response.output_item.added",
                                                 "output_index": 0, "item": output}
            yield "response.output_item.done", {"type": "response.output_item.done",
                                                "output_index": 0, "item": output}
            yield "response.completed", {"type": "response.completed", "response": response}

        if body.get("stream", True):
            self._stream(_sse(events()))
        else:
            self._json(200, response)

    # ----- OpenAI Chat Completions (Aider) ----------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        conversation = _text_of(messages)
        system = _text_of([m for m in messages if m.get("role") == "system"])
        target = target_of(self.script, conversation)
        if ISSUE_MARK in conversation and target in conversation:
            current = _file_in_chat(conversation, target)
            fixed = current.replace(self.script.old, self.script.new, 1) if current else ""
            if "SEARCH" in system and "REPLACE" in system:
                text = (f"{target}\n```python\n<<<<<<< SEARCH\n{self.script.old}"
                        f"=======\n{self.script.new}>>>>>>> REPLACE\n```\n")
            else:
                text = f"{target}\n```python\n{fixed}```\n"
            self._edited(Turn("edit"))
        else:
            text = "I cannot see any issue to fix."
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        if not body.get("stream"):
            self._json(200, {"id": "chat_stomper", "object": "chat.completion",
                             "created": int(time.time()), "model": body.get("model", "m"),
                             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                 "role": "assistant", "content": text}}], "usage": usage})
            return

        def events() -> Iterator[tuple[str | None, dict[str, Any]]]:
            base = {"id": "chat_stomper", "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": body.get("model", "m")}
            yield None, {**base, "choices": [{"index": 0, "delta": {
                "role": "assistant", "content": text}, "finish_reason": None}]}
            yield None, {**base, "choices": [{"index": 0, "delta": {},
                                              "finish_reason": "stop"}], "usage": usage}

        self._stream(iter([*_sse(events()), b"data: [DONE]\n\n"]))

    # ----- Gemini generateContent (Gemini CLI) -------------------------------------------
    def _gemini(self, body: dict[str, Any], *, stream: bool) -> None:
        contents = body.get("contents") or []
        conversation = _text_of(contents)
        results = sum(1 for c in contents for p in c.get("parts") or []
                      if isinstance(p, dict) and "functionResponse" in p)
        declared = {
            f.get("name"): f for t in body.get("tools") or [] if isinstance(t, dict)
            for f in t.get("functionDeclarations") or []
        }
        turn = decide(self.script, conversation, results, None) if declared else Turn("talk")
        cwd = _gemini_cwd(conversation + _text_of(body.get("systemInstruction")))
        schema = (body.get("generationConfig") or {}).get("responseJsonSchema") or (
            body.get("generationConfig") or {}).get("responseSchema")
        part: dict[str, Any]
        if schema:  # a side request that wants JSON (its task router, its summaries)
            part = {"text": json.dumps(_from_schema(schema))}
            turn = Turn("talk")
        elif turn.kind in ("read_prompt", "read_target"):
            target = turn.path if turn.kind == "read_prompt" else f"{cwd}/{turn.path}"
            key = _param(declared.get("read_file"), ("absolute_path", "file_path", "path"))
            part = {"functionCall": {"name": "read_file", "args": {key: target}}}
        elif turn.kind == "edit":
            key = _param(declared.get("replace"), ("file_path", "absolute_path", "path"))
            part = {"functionCall": {"name": "replace", "args": {
                key: f"{cwd}/{turn.path}", "old_string": self.script.old,
                "new_string": self.script.new, "instruction": "remove the unused import"}}}
        else:
            part = {"text": "Done: stomper-edited." if turn.kind == "done" else "OK"}
        self._edited(turn)
        payload = {"candidates": [{"content": {"role": "model", "parts": [part]},
                                   "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20,
                                     "totalTokenCount": 120}}
        if stream:
            self._stream(iter([f"data: {json.dumps(payload)}\n\n".encode()]))
        else:
            self._json(200, payload)


def _from_schema(schema: dict[str, Any]) -> Any:
    """Any value that satisfies a (Gemini-style) JSON schema."""
    kind = str(schema.get("type", "object")).lower()
    if kind == "object":
        return {name: _from_schema(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 10
    if kind == "boolean":
        return False
    enum = schema.get("enum")
    return enum[0] if enum else "simple"


def _param(declaration: dict[str, Any] | None, names: tuple[str, ...]) -> str:
    properties = ((declaration or {}).get("parameters") or
                  (declaration or {}).get("parametersJsonSchema") or {}).get("properties") or {}
    return next((n for n in names if n in properties), names[0])


def _tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{int(time.time() * 1e6)}", "name": name,
            "input": arguments}


def _function_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call_id = f"call_{int(time.time() * 1e6)}"
    return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": name,
            "arguments": json.dumps(arguments), "status": "completed"}


def _cwd_after(conversation: str, patterns: tuple[str, ...]) -> str:
    for pattern in patterns:
        found = re.search(pattern, conversation)
        if found:
            return found.group(1).rstrip("/.")
    return "."


def _claude_cwd(conversation: str) -> str:
    return _cwd_after(conversation, (r"Working directory: (/[^\s<]+)",
                                     r"working directory[^/\n]*(/[^\s<]+)"))


def _codex_cwd(conversation: str) -> str:
    return _cwd_after(conversation, (r"<cwd>(/[^<]+)</cwd>", r"Current working directory: (/\S+)",
                                     r"cwd[\"']?:\s*[\"'](/[^\"']+)"))


def _gemini_cwd(conversation: str) -> str:
    return _cwd_after(conversation, (r"working directory[^/\n]*(/[^\s'\"`]+)",
                                     r"directory: (/[^\s'\"`]+)", r"I'm currently working in the "
                                     r"directory:?\s*(/[^\s'\"`]+)"))


def _file_in_chat(conversation: str, target: str) -> str | None:
    """The target's text as Aider put it in the chat (a fenced block after its name)."""
    found = re.search(re.escape(target) + r"\n```[^\n]*\n(.*?)```", conversation, re.DOTALL)
    return found.group(1) if found else None


def cli_environment(agent: str, home: Path, url: str | None, key: str | None) -> dict[str, str]:
    """The variables and config files that point one CLI at the scripted model."""
    home.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_API_BASE",
                 "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL",
                 "CODEX_HOME", "CLAUDE_CONFIG_DIR", "AIDER_MODEL"):
        env[name] = ""
    if agent == "claude":
        env["ANTHROPIC_BASE_URL"] = url or ""
        env["ANTHROPIC_API_KEY"] = key or ""
        env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        env["DISABLE_AUTOUPDATER"] = "1"
    elif agent == "codex":
        codex_home = home / ".codex"
        codex_home.mkdir()
        env["CODEX_HOME"] = str(codex_home)
        env["STOMPER_TEST_KEY"] = key or ""
        (codex_home / "config.toml").write_text(
            'model = "scripted"\nmodel_provider = "scripted"\n'
            "[model_providers.scripted]\n"
            f'name = "scripted"\nbase_url = "{url}/v1"\nwire_api = "responses"\n'
            'env_key = "STOMPER_TEST_KEY"\nrequest_max_retries = 0\n'
            "stream_max_retries = 0\nstream_idle_timeout_ms = 300000\n"
        )
    elif agent == "gemini":
        settings = home / ".gemini"
        settings.mkdir()
        (settings / "settings.json").write_text(json.dumps(
            {"security": {"auth": {"selectedType": "gemini-api-key"}},
             "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
             "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False}}))
        env["GOOGLE_GEMINI_BASE_URL"] = url or ""
        env["GEMINI_API_KEY"] = key or ""
    elif agent == "aider":
        env["OPENAI_API_BASE"] = f"{url}/v1"
        env["OPENAI_API_KEY"] = key or ""
        env["AIDER_MODEL"] = "openai/scripted"
        env["PATH"] = f"{Path(AIDER).parent}:{os.environ['PATH']}"
    return {k: v for k, v in env.items() if v} | {
        k: "" for k, v in env.items() if not v}


class ModelServer:
    """`with ModelServer(script) as url:` serves on 127.0.0.1 on a free port."""

    def __init__(self, script: Script) -> None:
        handler = type("Handler", (_Handler,), {"script": script})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def dump_requests(script: Script, where: Path) -> None:
    """For a failing test: what the CLI sent, to see why the session went astray."""
    where.write_text(json.dumps(script.requests[:6], indent=1))

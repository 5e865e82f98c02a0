"""A local Telegram Bot API emulation: a loopback HTTP server speaking the Bot API wire format.

It answers what python-telegram-bot sends (``/bot<token>/<method>``, form-encoded or
multipart bodies, JSON-encoded complex parameters) with the shapes the real Bot API uses:

- ``getMe``, ``deleteWebhook``, ``setMyCommands``
- ``getUpdates``: long polling over a queue the test fills with ``send_text(chat, text)``
  (commands and URLs carry their ``entities`` as Telegram marks them)
- ``sendMessage``, ``editMessageText`` (the chat's messages are kept, edits applied;
  an unchanged edit fails with "message is not modified" like the real API)
- ``sendVideo``, ``sendAudio``, ``sendDocument``, ``sendPhoto``, ``sendMediaGroup``:
  multipart uploads, ``attach://`` references resolved; an upload over ``max_upload``
  bytes is refused with 413 "Request Entity Too Large"

Every call is recorded (``calls``); ``fail_next[method] = (status, description, retry_after)``
injects one error (e.g. a 429 flood wait). ``wait_for(predicate)`` blocks until the recorded
calls satisfy a condition.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "123456:TEST-token-Secret_value"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Vault", "username": "vault_test_bot"}
MEDIA_KINDS = {"sendVideo": "video", "sendAudio": "audio", "sendDocument": "document",
               "sendPhoto": "photo"}
URL_RE = re.compile(r"https?://\S+")


@dataclass
class Upload:
    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Call:
    method: str
    params: dict[str, str]
    files: dict[str, Upload] = field(default_factory=dict)
    ok: bool = True
    ts: float = field(default_factory=time.monotonic)
    result: Any = None

    def json(self, name: str) -> Any:
        return json.loads(self.params[name])

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None


class TelegramError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class BotApi:
    def __init__(self, *, token: str = TOKEN, max_upload: int = 50 * 1024 * 1024) -> None:
        self.token = token
        self.max_upload = max_upload
        self.calls: list[Call] = []
        self.fail_next: dict[str, tuple[int, str, int | None]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message: dict[int, int] = {}
        self._file_seq = 0
        self._cond = threading.Condition()
        self._closed = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # lifecycle -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> BotApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # what tests do ---------------------------------------------------------------------

    def send_text(self, chat_id: int, text: str, *, user_id: int = 1000) -> int:
        """Queue a user's message as an update; returns its message id."""
        with self._cond:
            message = self._message(chat_id, text=text, sender={
                "id": user_id, "is_bot": False, "first_name": "User"})
            entities = _entities(text)
            if entities:
                message["entities"] = entities
            self._updates.append({"update_id": self._next_update, "message": message})
            self._next_update += 1
            self._cond.notify_all()
            return int(message["message_id"])

    def calls_of(self, method: str, chat_id: int | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method and c.ok
                    and (chat_id is None or c.chat_id == chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        """The current text of every message the bot sent to the chat (edits applied)."""
        with self._cond:
            return [m.get("text", "") for (chat, _), m in sorted(self.messages.items())
                    if chat == chat_id and m.get("from", {}).get("is_bot")]

    def wait_for(self, predicate: Callable[[BotApi], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate(self)
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    calls = [(c.method, c.params.get("text") or c.params.get("caption"))
                             for c in self.calls if c.method != "getUpdates"]
                    raise AssertionError(f"timed out waiting; calls so far: {calls}")
                self._cond.wait(min(remaining, 0.2))

    # the API ---------------------------------------------------------------------------

    def _message(self, chat_id: int, *, sender: dict[str, Any], **content: Any) -> dict[str, Any]:
        message_id = self._next_message.get(chat_id, 0) + 1
        self._next_message[chat_id] = message_id
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"} if chat_id > 0
                   else {"id": chat_id, "type": "group", "title": "group"},
                   "from": sender, **content}
        self.messages[(chat_id, message_id)] = message
        return message

    def _file(self, extra: dict[str, Any]) -> dict[str, Any]:
        self._file_seq += 1
        return {"file_id": f"FILE{self._file_seq}", "file_unique_id": f"U{self._file_seq}", **extra}

    def _media(self, kind: str, params: dict[str, str], upload: Upload) -> Any:
        dims = {"width": int(params.get("width") or 320), "height": int(params.get("height") or 180)}
        duration = {"duration": int(params.get("duration") or 0)}
        if kind == "video":
            return self._file({**dims, **duration, "file_name": upload.filename,
                               "file_size": len(upload.data)})
        if kind == "audio":
            return self._file({**duration, "file_name": upload.filename, "file_size": len(upload.data)})
        if kind == "photo":
            return [self._file({**dims, "file_size": len(upload.data)})]
        return self._file({"file_name": upload.filename, "file_size": len(upload.data)})

    def _send_media(self, method: str, params: dict[str, str], files: dict[str, Upload]) -> Any:
        kind = MEDIA_KINDS[method]
        upload = files.get(kind)
        if upload is None:
            raise TelegramError(400, f"Bad Request: there is no {kind} in the request")
        content: dict[str, Any] = {kind: self._media(kind, params, upload)}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._message(int(params["chat_id"]), sender=BOT_USER, **content)

    def _media_group(self, params: dict[str, str], files: dict[str, Upload]) -> Any:
        media = json.loads(params["media"])
        if not 2 <= len(media) <= 10:
            raise TelegramError(400, "Bad Request: media group must include 2-10 items")
        kinds = {m["type"] for m in media}
        if len(kinds) > 1 and not kinds <= {"photo", "video"}:
            raise TelegramError(400, "Bad Request: audio and documents can't be mixed")
        group_id = str(int(time.time() * 1000))
        out = []
        for entry in media:
            ref = str(entry["media"])
            if not ref.startswith("attach://") or ref[9:] not in files:
                raise TelegramError(400, f"Bad Request: unknown attachment {ref}")
            content: dict[str, Any] = {entry["type"]: self._media(entry["type"], {
                k: str(v) for k, v in entry.items()}, files[ref[9:]])}
            if entry.get("caption"):
                content["caption"] = entry["caption"]
            out.append(self._message(int(params["chat_id"]), sender=BOT_USER,
                                     media_group_id=group_id, **content))
        return out

    def _edit(self, params: dict[str, str]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            raise TelegramError(400, "Bad Request: message to edit not found")
        if message.get("text") == params["text"]:
            raise TelegramError(400, "Bad Request: message is not modified: specified new "
                                     "message content and reply markup are exactly the same")
        message["text"] = params["text"]
        message["edit_date"] = int(time.time())
        return message

    def _get_updates(self, params: dict[str, str]) -> Any:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._updates or self._closed or time.monotonic() >= deadline:
                return list(self._updates)
            self._cond.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def dispatch(self, method: str, params: dict[str, str], files: dict[str, Upload]) -> Any:
        failure = self.fail_next.pop(method, None)
        if failure is not None:
            raise TelegramError(*failure)
        if any(len(u.data) > self.max_upload for u in files.values()):
            raise TelegramError(413, "Request Entity Too Large")
        if method == "getMe":
            return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if method in ("deleteWebhook", "setMyCommands"):
            return True
        if method == "getUpdates":
            return self._get_updates(params)
        if method == "sendMessage":
            return self._message(int(params["chat_id"]), sender=BOT_USER, text=params["text"])
        if method == "editMessageText":
            return self._edit(params)
        if method in MEDIA_KINDS:
            return self._send_media(method, params, files)
        if method == "sendMediaGroup":
            return self._media_group(params, files)
        raise TelegramError(404, "Not Found: method not found")

    def _handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = match.groups()
        params, files = _parse_body(content_type, body)
        with self._cond:
            call = Call(method, params, files)
            self.calls.append(call)
            if token != self.token:
                call.ok = False
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            try:
                result = call.result = self.dispatch(method, params, files)
            except TelegramError as exc:
                call.ok = False
                payload: dict[str, Any] = {"ok": False, "error_code": exc.status,
                                           "description": exc.description}
                if exc.retry_after is not None:
                    payload["parameters"] = {"retry_after": exc.retry_after}
                return exc.status, payload
            finally:
                self._cond.notify_all()
        return 200, {"ok": True, "result": result}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, payload = api._handle(self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _entities(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if text.startswith("/"):
        out.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
    for match in URL_RE.finditer(text):
        out.append({"type": "url", "offset": match.start(), "length": len(match.group())})
    return out


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Upload]]:
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=policy.default).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        params: dict[str, str] = {}
        files: dict[str, Upload] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = Upload(name, filename, part.get_content_type(), payload)
            else:
                params[name] = payload.decode()
        return params, files
    if content_type.startswith("application/json"):
        raw = json.loads(body or b"{}")
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}, {}
    return dict(parse_qsl(body.decode(), keep_blank_values=True)), {}

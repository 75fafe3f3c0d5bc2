"""The ``messages:send`` request body of a push, firebase-admin's encoding made once per message *shape*.

The pushes of a batch differ only in a few plain strings (device token, collapse key, data values such as the
notification id, the APNs expiry) while title, body, TTL, the data keys and the Android / APNs configuration repeat.
firebase-admin's encoder (``_MessagingService.encode_message``, which also validates) was the largest cost of a
push in the dispatcher (docs/benchmarks.md, notify); here it runs once per shape, on the message built with
unique placeholder strings in the varying fields, and that encoding's JSON text becomes a ``str.format``
template. A message's body is the template with its own values JSON-escaped by the same C function
``json.dumps(..., ensure_ascii=False)`` uses for strings, so it is the text
``request_body(encode_message(message))`` gives, byte for byte (pinned by tests/notifiers/test_fcm_sender.py).

Validation of the substituted fields is firebase-admin's own as long as every value is an exact ``str`` (and the
token non-empty): its validators check nothing else of them (``check_string``, ``check_string_dict``). Anything
else (a non-str value, an empty token, an unusual TTL, a shape that does not encode) is left to the full encoder,
which raises exactly what it raises today.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from json.encoder import encode_basestring  # json.dumps' own (C) string encoder for ensure_ascii=False

from firebase_admin import messaging

from notifiers.push import PushMessage

# Fields substituted per message, in their placeholder order; data values follow as 3, 4, ...
_TOKEN, _COLLAPSE_KEY, _EXPIRATION = 0, 1, 2
_COLLAPSE_KEY_USES = 4  # android.collapse_key, android.notification.tag, apns-collapse-id, aps.thread-id
SHAPE_CACHE_SIZE = 256

ShapeKey = tuple[str, str, int, tuple[str, ...]]
MessageBuilder = Callable[[PushMessage, str], messaging.Message]  # (push, APNs expiration) -> message
BodyRenderer = Callable[[messaging.Message], bytes]  # firebase-admin's encoding as the request body


class ShapeEncoder:
    """Request bodies for pushes, one firebase-admin encoding per (title, body, ttl, data keys); bounded memo.

    ``build(push, expiration)`` is the sender's own message builder and ``render(message)`` its full encoding
    (``request_body(encode_message(message))``), so template and full encoding cannot drift apart.
    """

    def __init__(self, build: MessageBuilder, render: BodyRenderer, max_shapes: int = SHAPE_CACHE_SIZE) -> None:
        self._build = build
        self._render = render
        self._max_shapes = max_shapes
        self._templates: dict[ShapeKey, str | None] = {}  # None: this shape is left to the full encoder
        self._lock = threading.Lock()
        self._nonce = uuid.uuid4().hex

    def body(self, push: PushMessage, expiration: str) -> str | None:
        """The request body text for ``push`` (collapse key already checked by the caller), or None when the
        full encoder must make it (a value that is not a plain str, or a shape that does not template)."""
        token, title, text, ttl, data = push.token, push.title, push.body, push.ttl_seconds, push.data
        if (
            type(token) is not str
            or not token
            or type(title) is not str
            or type(text) is not str
            or type(ttl) is not int
            or type(push.collapse_key) is not str
            or type(data) is not dict
        ):
            return None
        values = [encode_basestring(token), encode_basestring(push.collapse_key), encode_basestring(expiration)]
        for key, value in data.items():
            if type(key) is not str or type(value) is not str:
                return None
            values.append(encode_basestring(value))
        shape = (title, text, ttl, tuple(data))
        template = self._templates.get(shape, "")
        if template == "":
            template = self._template(push, shape)
        if template is None:
            return None
        return template.format(*values)

    def _template(self, push: PushMessage, shape: ShapeKey) -> str | None:
        placeholders = [f"@{self._nonce}.{i}@" for i in range(3 + len(shape[3]))]
        sample = PushMessage(
            token=placeholders[_TOKEN],
            title=push.title,
            body=push.body,
            collapse_key=placeholders[_COLLAPSE_KEY],
            data=dict(zip(shape[3], placeholders[3:], strict=True)),
            ttl_seconds=push.ttl_seconds,
        )
        template: str | None = None
        try:
            text = self._render(self._build(sample, placeholders[_EXPIRATION])).decode()
        except (TypeError, ValueError):
            text = ""  # this shape itself is invalid: the full encoder raises its own error per message
        expected = {i: 1 for i in range(len(placeholders))} | {_COLLAPSE_KEY: _COLLAPSE_KEY_USES}
        # Each placeholder exactly where expected, and the nonce nowhere else (e.g. in the title).
        if text and text.count(self._nonce) == sum(expected.values()):
            quoted = [(encode_basestring(p), i) for i, p in enumerate(placeholders)]
            if all(text.count(q) == expected[i] for q, i in quoted):
                template = text.replace("{", "{{").replace("}", "}}")
                for q, i in quoted:
                    template = template.replace(q, f"{{{i}}}")
        with self._lock:
            if len(self._templates) >= self._max_shapes:
                del self._templates[next(iter(self._templates))]  # the oldest shape
            self._templates[shape] = template
        return template

"""FCM senders wired to the local FCM server, and the benefit-offer pushes the sender tests send through them."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from notifiers.fcm.sender import FcmPushSender
from notifiers.push import PushMessage
from tests.support.fcm_server import LocalFcmServer

PROJECT = "before-service-test"
# A real offer's lock-screen text: Hangul (3 bytes a syllable in UTF-8) is what the 4 KB payload checks must count.
OFFER_TITLE = "새로운 혜택 안내"
OFFER_BODY = "받으실 수 있는 혜택이 있습니다. 앱에서 확인하세요."

SenderT = TypeVar("SenderT", bound=FcmPushSender)


class OfferPush(Protocol):
    def __call__(self, token: str, **overrides: Any) -> PushMessage: ...


def offer_pushes(**defaults: Any) -> OfferPush:
    """``push(token, **overrides)``: a push of the offer title and body to ``token``, its other PushMessage fields
    those of ``defaults`` unless overridden (title and body too)."""

    def push(token: str, **overrides: Any) -> PushMessage:
        # A copy per push: each PushMessage gets a data dict of its own, as a literal in the call would give it.
        fields = {"token": token, "title": OFFER_TITLE, "body": OFFER_BODY, **copy.deepcopy(defaults), **overrides}
        return PushMessage(**fields)

    return push


@contextmanager
def local_senders(
    sender_class: type[SenderT],
    server: LocalFcmServer,
    credentials: Path,
    backoff_sleeps: list[float],
    *,
    app_prefix: str,
    seed: int,
) -> Iterator[Callable[..., SenderT]]:
    """A factory of ``sender_class`` senders posting to ``server``, each keyword it is called with going to the
    sender; every sender made is closed on exit."""
    senders: list[SenderT] = []

    def make(**options: Any) -> SenderT:
        sender = sender_class(
            credentials,
            project_id=PROJECT,
            endpoint=server.url,
            app_name=f"{app_prefix}-{uuid.uuid4().hex}",  # one firebase app per sender: tests stay independent
            sleep=backoff_sleeps.append,  # the backoff is recorded, not waited for
            rng=random.Random(seed),
            **options,
        )
        senders.append(sender)
        return sender

    try:
        yield make
    finally:
        for sender in senders:
            sender.close()

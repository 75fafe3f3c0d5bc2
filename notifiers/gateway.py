"""The text-message port (SMS, KakaoTalk Alimtalk) and its HTTP adapter for a message provider.

Providers address people by the pseudonymous citizen id and resolve the phone number on their side (as the
government's messaging gateways do with a CI), so the engine stores no phone numbers. The idempotency key lets
the provider drop a repeat of a message it already took, after a crash between its answer and our commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

TEXT_CHANNELS = ("kakao", "sms")


@dataclass(frozen=True)
class TextMessage:
    channel: str  # kakao | sms
    recipient_id: str
    text: str
    idempotency_key: str
    template_code: str = "offer_fallback"  # Alimtalk sends only pre-approved templates, named by code


@dataclass(frozen=True)
class TextResult:
    accepted: bool
    provider_id: str | None = None
    error_code: str | None = None
    retryable: bool = False  # the provider is struggling: try this channel again later, not the next one


class MessageGateway(Protocol):
    def send(self, message: TextMessage) -> TextResult: ...


class HttpMessageGateway:
    """POST {base_url}/v1/messages with a bearer key; 2xx = accepted, 429/5xx/network = retryable, other 4xx =
    this channel cannot reach the person (e.g. no KakaoTalk account): the caller moves to the next channel."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def send(self, message: TextMessage) -> TextResult:
        if message.channel not in TEXT_CHANNELS:
            raise ValueError(f"unknown text channel {message.channel!r}")
        try:
            response = self._client.post(
                "/v1/messages",
                json={
                    "channel": message.channel,
                    "recipient_ref": message.recipient_id,
                    "template_code": message.template_code,
                    "text": message.text,
                },
                headers={"idempotency-key": message.idempotency_key},
            )
        except httpx.HTTPError as error:
            return TextResult(False, error_code=type(error).__name__, retryable=True)
        if response.is_success:
            return TextResult(True, provider_id=str(response.json().get("id", "")) or None)
        code = _error_code(response)
        return TextResult(False, error_code=code, retryable=response.status_code == 429 or response.status_code >= 500)

    def close(self) -> None:
        self._client.close()


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return str(response.status_code)

"""Citizens sign in through an OpenID Connect provider (authorization code flow with PKCE and a nonce).

In production the provider is the government's identity service (간편인증 / 디지털원패스 speak OIDC-shaped
flows); in `make run` and the tests, a local test provider (beforeservice/citizen_app/local_provider.py).

Who the citizen is: the ID token's CITIZEN_OIDC_ID_CLAIM (default `sub`). The provider is registered to release,
for this client, the citizen's pseudonymous person id, the same opaque id registries put in life events (a pairwise
identifier: it names the person to us alone, and nobody can turn it back into a resident registration number). The
app never sees an RRN: a claim that is not a pseudonymous id (PERSON_ID_PATTERN) or that looks like an RRN is
refused, never stored or logged. After sign-in the app holds the engine's own citizen access token (what the
inbox API expects), not the provider's tokens, which are dropped.
"""

from __future__ import annotations

import re
import secrets
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token, is_secure_transport
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():  # authlib 1.9 nudges towards httpx2; the httpx client is the one installed here
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from beforeservice.settings import Settings
from events.people import PERSON_ID_PATTERN
from events.privacy import looks_like_rrn

METADATA_SECONDS = 3600  # provider metadata and keys are re-read at most hourly (key rotation)
_PERSON_ID = re.compile(PERSON_ID_PATTERN)


class SignInRefused(Exception):
    """The provider's answer is not a sign-in we accept; the message says why (never echoing the claim)."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    keys: KeySet
    read_at: float


@dataclass(frozen=True)
class PendingSignIn:
    """What the browser carries (signed) between the redirect to the provider and the way back."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> PendingSignIn:
        return cls(generate_token(32), generate_token(32), generate_token(64))


_providers: dict[str, Provider] = {}


async def provider(settings: Settings) -> Provider:
    issuer = settings.citizen_oidc_issuer
    if not issuer:
        raise SignInRefused("citizen sign-in is not configured (CITIZEN_OIDC_ISSUER)")
    if not is_secure_transport(issuer) and not settings.dev_mode:
        raise SignInRefused("the OIDC issuer must be https (http only for localhost, or in DEV_MODE)")
    known = _providers.get(issuer)
    if known is not None and time.monotonic() - known.read_at < METADATA_SECONDS:
        return known
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            metadata = await client.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
            meta: dict[str, Any] = metadata.raise_for_status().json()
            if meta.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
                raise SignInRefused("the provider's metadata names another issuer")
            jwks = (await client.get(meta["jwks_uri"])).raise_for_status().json()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise SignInRefused(f"the identity provider cannot be reached: {type(exc).__name__}") from exc
    found = Provider(
        meta["issuer"],
        meta["authorization_endpoint"],
        meta["token_endpoint"],
        KeySet.import_key_set(jwks),
        time.monotonic(),
    )
    _providers[issuer] = found
    return found


def _client(settings: Settings, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.citizen_oidc_client_id,
        client_secret=settings.citizen_oidc_client_secret or None,
        scope=settings.citizen_oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=10,
    )


async def authorization_url(settings: Settings, redirect_uri: str, pending: PendingSignIn) -> str:
    found = await provider(settings)
    async with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            found.authorization_endpoint, state=pending.state, nonce=pending.nonce, code_verifier=pending.code_verifier
        )
    return str(url)


async def citizen_of(settings: Settings, redirect_uri: str, pending: PendingSignIn, state: str, code: str) -> str:
    """The citizen id the provider vouches for, after checking state, the ID token's signature, issuer,
    audience, lifetime and nonce."""
    if not secrets.compare_digest(state, pending.state):
        raise SignInRefused("the sign-in's state does not match (start again)")
    found = await provider(settings)
    async with _client(settings, redirect_uri) as client:
        try:
            token = await client.fetch_token(found.token_endpoint, code=code, code_verifier=pending.code_verifier)
        except Exception as exc:  # authlib raises OAuthError or httpx errors: all mean "no sign-in"
            error = getattr(exc, "error", None) or type(exc).__name__  # an OAuth error code, e.g. invalid_client
            raise SignInRefused(f"the provider refused the code: {error}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("the provider sent no ID token")
    try:
        decoded = jwt.decode(id_token, found.keys)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": found.issuer},
            aud={"essential": True, "value": settings.citizen_oidc_client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": pending.nonce},
            leeway=30,
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise SignInRefused(f"the ID token is not valid: {type(exc).__name__}") from exc
    citizen = decoded.claims.get(settings.citizen_oidc_id_claim)
    if not isinstance(citizen, str) or not _PERSON_ID.fullmatch(citizen) or looks_like_rrn(citizen):
        raise SignInRefused(f"the ID token's {settings.citizen_oidc_id_claim!r} is not a pseudonymous citizen id")
    return citizen

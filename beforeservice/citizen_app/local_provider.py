"""The local test OpenID Connect provider (`oidc-provider-mock`) for `make run` and the tests: it signs in
whichever subject is typed on its page, so the real relying-party code path (discovery, code flow, ID token
checks) runs with no government identity service. Development only: `beforeservice up` starts it in DEV_MODE
when CITIZEN_OIDC_ISSUER is unset."""

from __future__ import annotations

import subprocess
import sys
from typing import IO


def issuer_url(port: int) -> str:
    # `localhost`, not 127.0.0.1: the provider names itself by the host it is asked on, and the ID token's issuer
    # must be the one the app was configured with.
    return f"http://localhost:{port}"


def start(port: int, log: IO[bytes] | None = None, users: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """The provider on 127.0.0.1:`port`; `users` are offered as one-tap subjects on its page (demo parents)."""
    listed = [arg for user in users for arg in ("--user", user)]
    return subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), "--require-nonce", *listed],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def discovery_ready(port: int) -> str:
    return issuer_url(port) + "/.well-known/openid-configuration"

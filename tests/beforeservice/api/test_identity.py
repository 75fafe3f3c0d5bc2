"""Staff identity on the API process: tokens are checked against the account on every request (M4, H1), forged
tokens are refused (JWT aud/iss/lifetime), logins are throttled across API processes and audited (M2), the
client address comes from trusted proxies only, and the accounts CLI deactivates, reactivates and resets."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from beforeservice.broker import free_port
from beforeservice.console import web_session
from beforeservice.console.accounts import add_caseworker
from beforeservice.console.tables import AuditRow, CaseworkerRow
from beforeservice.settings import DEV_TOKEN_SECRET, Settings
from tests.beforeservice.api.stack import PASSWORD, SUWON, Stack, api_process, start_stack
from tests.conftest import TOKEN_SECRET

pytestmark = pytest.mark.integration
PROXY = "127.0.0.1/32"  # the test client stands in for the reverse proxy in front of the API


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp(f"identity-{request.param}")
    yield from start_stack(request.param, directory, {"TRUSTED_PROXIES": PROXY})


def new_account(stack: Stack, role: str = "caseworker", municipalities: tuple[str, ...] = ("4111",)) -> str:
    username = f"acct.{uuid.uuid4().hex[:10]}"
    with stack.sessions.begin() as session:
        add_caseworker(session, username, PASSWORD, role=role, agencies=["suwon"], municipalities=list(municipalities))
    return username


def client_from(address: str) -> dict[str, str]:
    """A request as the trusted proxy passes it on for a client at `address`."""
    return {"x-forwarded-for": address}


def token_of(stack: Stack, username: str, password: str = PASSWORD, address: str = "192.0.2.10") -> httpx.Response:
    return stack.client.post(
        "/v1/caseworkers/token", json={"username": username, "password": password}, headers=client_from(address)
    )


def bearer(stack: Stack, username: str) -> dict[str, str]:
    answer = token_of(stack, username)
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def audit_of(stack: Stack, account: str) -> list[AuditRow]:
    with stack.sessions() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.account == account).order_by(AuditRow.id)))


def forge(claims: dict[str, Any], secret: str = TOKEN_SECRET) -> dict[str, str]:
    return {"authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


def claims_for(stack: Stack, username: str, **changes: Any) -> dict[str, Any]:
    with stack.sessions() as session:
        account = session.get(CaseworkerRow, username)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "beforeservice",
        "aud": "beforeservice-api",
        "sub": username,
        "role": account.role if account else "supervisor",
        "scopes": {"agencies": ["*"], "municipalities": ["*"]},
        "gen": account.session_generation if account else 0,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@contextmanager
def another_api(stack: Stack, **variables: str) -> Iterator[httpx.Client]:
    """A second API process on the same database (as behind a load balancer)."""
    env = {**stack.env, "API_PORT": str(free_port()), **variables}
    env = {k: v for k, v in env.items() if v != ""}
    with api_process(env, Path(stack.env["DATA_DIR"]).parent / "logs-second-api", "the second API") as client:
        yield client


def test_forged_and_malformed_tokens_are_refused(stack: Stack) -> None:
    supervisor = new_account(stack, "supervisor")
    assert stack.client.get("/v1/review/cases", headers=forge(claims_for(stack, supervisor))).status_code == 200
    refused = {
        # H1: signed with the public development secret, for a real supervisor.
        "public dev secret": forge(claims_for(stack, supervisor), DEV_TOKEN_SECRET),
        # H1: the right secret, an account that does not exist.
        "no such account": forge(claims_for(stack, "ghost.supervisor")),
        "no session generation": forge(claims_for(stack, supervisor, gen=None)),
        "an old session generation": forge(claims_for(stack, supervisor, gen=-1)),
        "no aud": forge(claims_for(stack, supervisor, aud=None)),
        "another aud": forge(claims_for(stack, supervisor, aud="some-other-api")),
        "no iss": forge(claims_for(stack, supervisor, iss=None)),
        "another iss": forge(claims_for(stack, supervisor, iss="https://attacker.example")),
        "no iat": forge(claims_for(stack, supervisor, iat=None)),
        "lifetime beyond TOKEN_TTL_SECONDS": forge(claims_for(stack, supervisor, exp=int(time.time()) + 86_400 * 365)),
        "issued in the future": forge(claims_for(stack, supervisor, iat=int(time.time()) + 3600)),
    }
    answers = {why: stack.client.get("/v1/review/cases", headers=h).status_code for why, h in refused.items()}
    assert answers == {why: 401 for why in refused}
    # Role and scopes are the account's, not the token's: a caseworker claiming to be an auditor is not one.
    caseworker = new_account(stack)
    as_auditor = forge(claims_for(stack, caseworker, role="auditor"))
    assert stack.client.get("/v1/audit", headers=as_auditor).status_code == 403
    assert stack.client.get("/v1/review/cases", headers=as_auditor).status_code == 200


def test_token_acts_with_the_accounts_current_role_and_scopes(stack: Stack) -> None:
    username = new_account(stack)
    case, _, _ = stack.pending_case(SUWON)
    headers = bearer(stack, username)
    assert case in {c["id"] for c in stack.client.get("/v1/review/cases", headers=headers).json()}
    with stack.sessions.begin() as session:
        session.get(CaseworkerRow, username).municipalities = ["11680"]  # type: ignore[union-attr]
    assert case not in {c["id"] for c in stack.client.get("/v1/review/cases", headers=headers).json()}
    assert stack.client.get(f"/v1/review/cases/{case}", headers=headers).status_code == 404
    with stack.sessions.begin() as session:
        session.get(CaseworkerRow, username).role = "auditor"  # type: ignore[union-attr]
    assert stack.client.get("/v1/review/cases", headers=headers).status_code == 403
    assert stack.client.get("/v1/audit", headers=headers).status_code == 200


def _cli(stack: Stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # As an operator runs it in CI: no terminal, CI=true, the password on standard input.
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", "caseworkers", *args],
        env={**stack.env, "CI": "true"},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deactivation_and_password_reset_revoke_tokens_at_once(stack: Stack) -> None:
    username = new_account(stack)
    headers = bearer(stack, username)
    assert stack.client.get("/v1/review/cases", headers=headers).status_code == 200

    done = _cli(stack, "deactivate", username)
    assert done.returncode == 0, done.stderr
    assert stack.client.get("/v1/review/cases", headers=headers).status_code == 401
    assert token_of(stack, username).status_code == 401
    assert _cli(stack, "deactivate", "nobody.here").returncode == 1

    assert _cli(stack, "reactivate", username).returncode == 0
    assert stack.client.get("/v1/review/cases", headers=headers).status_code == 401  # the old token stays dead
    fresh = bearer(stack, username)
    assert stack.client.get("/v1/review/cases", headers=fresh).status_code == 200

    new_password = "a brand new passphrase 42"
    reset = _cli(stack, "reset-password", username, stdin=new_password + "\n")
    assert reset.returncode == 0, reset.stderr
    assert stack.client.get("/v1/review/cases", headers=fresh).status_code == 401
    assert token_of(stack, username).status_code == 401
    assert token_of(stack, username, new_password).status_code == 200
    short = _cli(stack, "reset-password", username, "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "12 characters" in short.stderr
    assert [r.action for r in audit_of(stack, "cli") if r.object_id == username] == [
        "account.deactivate",
        "account.reactivate",
        "account.password_reset",
    ]


def _console_login(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    client.get("/console/login")
    csrf = _session(client)["csrf"]
    return client.post(
        "/console/login",
        data={"username": username, "password": password, web_session.CSRF_FIELD: csrf},
        headers=client_from("192.0.2.20"),
    )


def _session(client: httpx.Client) -> dict[str, Any]:
    data: dict[str, Any] = web_session._serializer(Settings(token_secret=TOKEN_SECRET)).loads(
        client.cookies[web_session.COOKIE]
    )
    return data


def test_console_cookie_and_tokens_stop_working_after_logout(stack: Stack) -> None:
    username = new_account(stack)
    headers = bearer(stack, username)
    with httpx.Client(base_url=stack.base_url, timeout=30) as browser:
        assert _console_login(browser, username).status_code == 303
        captured = browser.cookies[web_session.COOKIE]
        assert browser.get("/console/queue").status_code == 200
        logout = browser.post("/console/logout", headers={web_session.CSRF_HEADER: _session(browser)["csrf"]})
        assert logout.status_code == 303
    with httpx.Client(base_url=stack.base_url, timeout=30) as thief:
        thief.cookies.set(web_session.COOKIE, captured, path="/console")
        replayed = thief.get("/console/queue")
        assert replayed.status_code == 303 and replayed.headers["location"] == "/console/login"
    # Logging out ends the account's bearer tokens too.
    assert stack.client.get("/v1/review/cases", headers=headers).status_code == 401
    assert [r.action for r in audit_of(stack, username)][-1] == "console.logout"

    # Deactivation ends a live console session as well.
    with httpx.Client(base_url=stack.base_url, timeout=30) as browser:
        assert _console_login(browser, username).status_code == 303
        assert browser.get("/console/queue").status_code == 200
        assert _cli(stack, "deactivate", username).returncode == 0
        assert browser.get("/console/queue").status_code == 303


def test_twenty_wrong_passwords_lock_the_account_across_api_processes(stack: Stack) -> None:
    username = new_account(stack)
    with another_api(stack) as second:
        clients = [stack.client, second]
        answers = [
            clients[i % 2]
            .post(
                "/v1/caseworkers/token",
                json={"username": username, "password": f"wrong password {i}"},
                headers=client_from(f"198.51.100.{i + 1}"),  # a different address each time: the account locks
            )
            .status_code
            for i in range(20)
        ]
        assert answers == [401] * 5 + [429] * 15
        for client in clients:
            right = client.post(
                "/v1/caseworkers/token",
                json={"username": username, "password": PASSWORD},
                headers=client_from("198.51.100.99"),
            )
            assert right.status_code == 429, right.text
            assert 0 < int(right.headers["retry-after"]) <= 900
            assert right.headers["content-type"].startswith("application/problem+json")
    with httpx.Client(base_url=stack.base_url, timeout=30) as browser:
        console = _console_login(browser, username)
        assert console.status_code == 429 and "로그인 시도가 너무 많습니다" in console.text
    actions = [r.action for r in audit_of(stack, username)]
    assert actions.count("auth.login.failed") == 5 and actions.count("auth.lockout") == 1
    assert actions.count("auth.login.throttled") == 15 + 2 + 1
    assert "auth.token.issued" not in actions
    failed = next(r for r in audit_of(stack, username) if r.action == "auth.login.failed")
    assert failed.ip == "198.51.100.1" and failed.detail == {"channel": "api"}


def test_one_address_guessing_many_accounts_is_locked(stack: Stack) -> None:
    guesser, other = "203.0.113.66", "203.0.113.67"
    for i in range(20):
        assert token_of(stack, f"guess.{i}", "not the password", guesser).status_code == 401
    victim = new_account(stack)
    assert token_of(stack, victim, PASSWORD, guesser).status_code == 429
    assert token_of(stack, victim, PASSWORD, other).status_code == 200
    lockouts = [r for r in audit_of(stack, "guess.19") if r.action == "auth.lockout"]
    assert [r.detail["locked"] for r in lockouts] == [["address"]]


def test_token_issuance_is_audited_with_the_client_address_from_trusted_proxies_only(stack: Stack) -> None:
    username = new_account(stack)
    # A client writes its own X-Forwarded-For entry; the trusted proxy appends the address it saw.
    answer = stack.client.post(
        "/v1/caseworkers/token",
        json={"username": username, "password": PASSWORD},
        headers={"x-forwarded-for": "10.9.9.9, 192.0.2.44"},
    )
    assert answer.status_code == 200
    issued = [r for r in audit_of(stack, username) if r.action == "auth.token.issued"]
    assert [(r.ip, r.role) for r in issued] == [("192.0.2.44", "caseworker")]


def test_forwarded_for_is_not_believed_without_trusted_proxies(stack: Stack) -> None:
    """By default (no TRUSTED_PROXIES) nobody's X-Forwarded-For makes the audited address, local hops included."""
    username = new_account(stack)
    with another_api(stack, TRUSTED_PROXIES="") as untrusting:
        untrusting.get("/console/login")
        csrf = _session(untrusting)["csrf"]
        logged_in = untrusting.post(
            "/console/login",
            data={"username": username, "password": PASSWORD, web_session.CSRF_FIELD: csrf},
            headers={"x-forwarded-for": "192.0.2.44"},
        )
        assert logged_in.status_code == 303
    assert [(r.action, r.ip) for r in audit_of(stack, username)] == [("console.login", "127.0.0.1")]

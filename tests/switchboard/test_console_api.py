"""The console's access rules over real HTTP, against the real slapd and Prosody: the login
is a directory bind, the role comes from a directory group, sessions and CSRF, rate limits,
and the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bridges.switchboard.routes import CSRF_HEADER, REFUSED
from tests.directory.seed import group_dn, person_dn
from tests.switchboard.conftest import KARI_PASSWORD, OPERATOR, OPERATOR_PASSWORD, Console


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # 127.0.0.1


async def post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json(), response


async def audit(console: Console, actor: str) -> list[tuple[str, str, str]]:
    assert console.service.switchboard is not None
    entries = await console.service.switchboard.audit.query(actor=actor)
    return [(e.action, e.outcome, str(e.details.get("reason", ""))) for e in reversed(entries)]


async def test_login_is_a_directory_bind_and_needs_the_operator_role(console: Console) -> None:
    api = f"{console.base}api"
    same = {"Origin": console.origin}
    async with client() as http:
        operator = {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        status, _, _ = await post(http, f"{api}/login", operator, {})
        assert status == 403  # no Origin: not from the page
        status, _, _ = await post(http, f"{api}/login", operator, {"Origin": "https://evil.test"})
        assert status == 403
        status, body, _ = await post(http, f"{api}/login", {**operator, "password": "x"}, same)
        assert (status, body["error"]) == (401, REFUSED)
        # Kari's password is right, but she is not in the group "sentralbord".
        kari = {"username": "kari", "password": KARI_PASSWORD}
        status, body, _ = await post(http, f"{api}/login", kari, same)
        assert (status, body["error"]) == (403, REFUSED)
        # An empty password would be an anonymous bind that "succeeds" (RFC 4513 §5.1.2).
        status, _, _ = await post(http, f"{api}/login", {**kari, "password": ""}, same)
        assert status == 401

        status, me, response = await post(http, f"{api}/login", operator, same)
        assert status == 200 and me["name"] == "Siri Sentralbord" and me["extension"] == "1000"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/switchboard" in cookie and "Max-Age=28800" in cookie

        async with http.get(f"{api}/search", params={"q": "ola"}) as found:
            assert [r["id"] for r in (await found.json())["rows"]] == ["ola"]
        # Department and title from slapd, in nynorsk; searched in bokmål.
        async with http.get(f"{api}/search", params={"q": "sykehjem sykepleier"}) as found:
            rows = (await found.json())["rows"]
            assert [(r["id"], r["department"], r["title"]) for r in rows] == [
                ("kari", "Sjukeheimen", "Sjukepleiar")
            ]
        note = {"person": "ola", "key": "note-key-0001", "caller": "Kari"}
        status, _, _ = await post(http, f"{api}/note", note, same)  # no CSRF token
        assert status == 403
        status, _, _ = await post(http, f"{api}/note", note, {**same, CSRF_HEADER: "wrong"})
        assert status == 403
        status, sent, _ = await post(http, f"{api}/note", note, {**same, CSRF_HEADER: me["csrf"]})
        assert (status, sent["status"]) == (200, "sent")

        status, _, _ = await post(http, f"{api}/logout", {}, {**same, CSRF_HEADER: me["csrf"]})
        assert status == 200
        async with http.get(f"{api}/me") as response:
            assert response.status == 401
        async with http.get(f"{api}/search", params={"q": "ola"}) as response:
            assert response.status == 401

    assert await audit(console, f"switchboard:{OPERATOR}") == [
        ("switchboard.login", "refused", "invalid credentials"),
        ("switchboard.login", "ok", ""),
        ("switchboard.note", "sent", ""),
        ("switchboard.logout", "ok", ""),
    ]
    assert await audit(console, "switchboard:kari") == [
        ("switchboard.login", "refused", "not an operator"),
        ("switchboard.login", "refused", "malformed user name or empty password"),
    ]


async def test_login_attempts_are_rate_limited(console: Console) -> None:
    api = f"{console.base}api"
    same = {"Origin": console.origin}
    async with client() as http:
        for _ in range(3):  # login_burst = 3
            status, _, _ = await post(
                http, f"{api}/login", {"username": OPERATOR, "password": "guess"}, same
            )
            assert status == 401
        # The right password now too: the bucket is empty.
        good = {"username": OPERATOR, "password": OPERATOR_PASSWORD}
        status, _, _ = await post(http, f"{api}/login", good, same)
        assert status == 429
    outcomes = [outcome for _, outcome, _ in await audit(console, f"switchboard:{OPERATOR}")]
    assert outcomes == ["refused", "refused", "refused", "rate-limited"]


async def test_losing_the_role_in_the_directory_ends_the_session_and_its_stream(
    console: Console,
) -> None:
    api = f"{console.base}api"
    async with client() as http:
        status, _, _ = await post(
            http,
            f"{api}/login",
            {"username": OPERATOR, "password": OPERATOR_PASSWORD},
            {"Origin": console.origin},
        )
        assert status == 200
        async with http.get(f"{api}/stream") as stream:
            assert stream.headers["Content-Type"] == "text/event-stream"
            hello = await stream.content.readuntil(b"\n\n")
            assert hello == b"retry: 3000\nevent: hello\ndata: {}\n\n"
            # The group gets another member instead of the operator (LDAP sync picks it up).
            await console.slapd.modify(
                f"dn: {group_dn('sentralbord')}\nchangetype: modify\nreplace: member\n"
                f"member: {person_dn('per', 'kongsberg')}\n"
            )
            rest = await asyncio.wait_for(stream.content.read(), 30)  # until the server ends it
            assert rest == b"" or rest.endswith(b"\n\n")  # whole events, then the end
        async with http.get(f"{api}/me") as response:
            assert response.status == 401
    assert ("switchboard.role-lost", "logged-out", "") in await audit(
        console, f"switchboard:{OPERATOR}"
    )

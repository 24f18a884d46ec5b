"""Token life cycle: revocation at once everywhere, expiry, rotation with a grace period,
from the API and the command line, each change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from app.auth.models import ApiToken
from app.core.db import get_sessionmaker
from tests.service.test_cli_demo import _run

VIEWER_READS = [
    "/api/v1/me",
    "/api/v1/shelters",
    "/api/v1/availability",
    "/api/v1/dashboard/summary",
    "/api/v1/allocations",
    "/api/v1/allocations/latest",
]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _set_token(token_id: str, **values: Any) -> None:
    """Change the row as another worker, the command line or the passing of time would."""
    with get_sessionmaker()() as s:
        s.execute(update(ApiToken).where(ApiToken.id == token_id).values(**values))
        s.commit()


def _create(client: Any, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/tokens", json={"role": "viewer", "name": "wall", **body},
                    headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _statuses(client: Any, secret: str) -> set[int]:
    return {client.get(path, headers=_bearer(secret)).status_code for path in VIEWER_READS}


def test_revoked_elsewhere_is_refused_at_once_on_every_endpoint(
    client: Any, auth: Any
) -> None:
    admin = auth("admin")
    assert client.post("/api/v1/allocations", headers=auth("operator")).status_code == 201
    viewer = _create(client, admin)
    # Polled just before: nothing this worker remembers may let the token through after.
    assert _statuses(client, viewer["token"]) == {200}
    _set_token(viewer["id"], revoked_at=datetime.now(UTC))  # by another worker, say
    assert _statuses(client, viewer["token"]) == {401}


def test_revoke_through_the_api_is_audited_and_immediate(client: Any, auth: Any) -> None:
    admin = auth("admin")
    viewer = _create(client, admin)
    assert client.get("/api/v1/me", headers=_bearer(viewer["token"])).status_code == 200
    r = client.post(f"/api/v1/tokens/{viewer['id']}/revoke", headers=admin)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert _statuses(client, viewer["token"]) == {401}
    events = client.get("/api/v1/audit", params={"action": "token.revoke"}, headers=admin)
    assert [e["object_id"] for e in events.json()["items"]] == [viewer["id"]]


def test_a_token_stops_working_at_its_expiry(client: Any, auth: Any) -> None:
    admin = auth("admin")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    viewer = _create(client, admin, expires_at=soon)
    assert viewer["expires_at"] is not None
    assert _statuses(client, viewer["token"]) - {404} == {200}
    _set_token(viewer["id"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert _statuses(client, viewer["token"]) == {401}
    listed = {t["id"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert listed[viewer["id"]]["expires_at"] is not None


def test_expiry_must_be_in_the_future(client: Any, auth: Any) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = client.post("/api/v1/tokens", json={"role": "viewer", "name": "x", "expires_at": past},
                    headers=auth("admin"))  # fmt: skip
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["expires_at"]


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(
    client: Any, auth: Any
) -> None:
    admin = auth("admin")
    viewer = _create(client, admin)
    first = viewer["token"]
    r = client.post(f"/api/v1/tokens/{viewer['id']}/rotate", json={"grace_minutes": 30},
                    headers=admin)  # fmt: skip
    assert r.status_code == 200, r.text
    rotated = r.json()
    second = rotated["token"]
    assert second != first and rotated["id"] == viewer["id"] and rotated["rotated_at"]
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert timedelta(minutes=29) < until - datetime.now(UTC) <= timedelta(minutes=30)
    # Both open the same token (same id, role and audit actor) during the grace period.
    for secret in (first, second):
        me = client.get("/api/v1/me", headers=_bearer(secret))
        assert me.status_code == 200 and me.json()["token_id"] == viewer["id"]
    # Past the grace period the old secret is refused, the new one is not.
    _set_token(viewer["id"], previous_valid_until=datetime.now(UTC) - timedelta(seconds=1))
    assert client.get("/api/v1/me", headers=_bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200
    events = client.get("/api/v1/audit", params={"action": "token.rotate"}, headers=admin)
    [event] = events.json()["items"]
    assert event["object_id"] == viewer["id"] and event["detail"]["grace_minutes"] == 30
    assert second not in events.text and first not in events.text


def test_a_second_rotation_ends_the_first_secret_and_zero_grace_ends_it_now(
    client: Any, auth: Any
) -> None:
    admin = auth("admin")
    viewer = _create(client, admin)
    path = f"/api/v1/tokens/{viewer['id']}/rotate"
    second = client.post(path, headers=admin).json()["token"]  # default grace: 60 min
    third = client.post(path, json={"grace_minutes": 5}, headers=admin).json()["token"]
    assert client.get("/api/v1/me", headers=_bearer(viewer["token"])).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200
    fourth = client.post(path, json={"grace_minutes": 0}, headers=admin).json()
    assert fourth["previous_valid_until"] is None
    assert client.get("/api/v1/me", headers=_bearer(third)).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(fourth["token"])).status_code == 200
    # Revoking stops every secret of the token.
    client.post(f"/api/v1/tokens/{viewer['id']}/revoke", headers=admin)
    assert client.get("/api/v1/me", headers=_bearer(fourth["token"])).status_code == 401


def test_rotation_refusals(client: Any, auth: Any) -> None:
    admin = auth("admin")
    viewer = _create(client, admin)
    path = f"/api/v1/tokens/{viewer['id']}/rotate"
    r = client.post(path, json={"grace_minutes": 7 * 24 * 60 + 1}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["grace_minutes"]
    assert client.post(path, headers=auth("operator")).status_code == 403
    assert client.post("/api/v1/tokens/tok_nope/rotate", headers=admin).status_code == 404
    client.post(f"/api/v1/tokens/{viewer['id']}/revoke", headers=admin)
    r = client.post(path, headers=admin)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")


def test_command_line_creates_rotates_and_revokes(
    client: Any, auth: Any, migrated_database: str
) -> None:
    admin = auth("admin")
    made = _run("token", "create", "--role", "viewer", "--expires-in-days", "7",
                database_url=migrated_database)  # fmt: skip
    assert made.returncode == 0, made.stderr
    first = made.stdout.strip()
    me = client.get("/api/v1/me", headers=_bearer(first)).json()
    token_id = me["token_id"]
    listed = {t["id"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    expires = datetime.fromisoformat(listed[token_id]["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    rotated = _run("token", "rotate", token_id, "--grace-minutes", "0",
                   database_url=migrated_database)  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip()
    assert client.get("/api/v1/me", headers=_bearer(first)).status_code == 401
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 200

    revoked = _run("token", "revoke", token_id, database_url=migrated_database)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/api/v1/me", headers=_bearer(second)).status_code == 401
    events = client.get("/api/v1/audit", params={"object_id": token_id}, headers=admin).json()
    actions = {e["action"]: e for e in events["items"]}
    assert {"token.rotate", "token.revoke"} <= set(actions)
    assert actions["token.rotate"]["detail"]["via"] == "command line"

    for args in (("token", "rotate", "tok_nope"), ("token", "rotate", token_id),
                 ("token", "rotate", token_id, "--grace-minutes", "-1"),
                 ("token", "create", "--role", "viewer", "--expires-in-days", "0")):  # fmt: skip
        r = _run(*args, database_url=migrated_database)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr

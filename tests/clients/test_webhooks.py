"""Webhooks end to end: `drawbridge hook add` on a home that `drawbridge serve` serves, a
real upload with twine, and a receiver that goes down and comes back."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import pytest

from builders import make_wheel
from clients import run_drawbridge, twine_upload
from receivers import WebhookReceiver
from servers import Server

from drawbridge.channel.database import Database
from drawbridge.channel.hooks import Hooks
from drawbridge.channel.tokens import Role

#: deliveries are claimed with SKIP LOCKED on PostgreSQL: run there too
pytestmark = pytest.mark.database


def wait_for(condition, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.05)


def test_a_receiver_down_gets_every_event_in_order_once_it_is_back(server: Server, tmp_path: Path):
    receiver = WebhookReceiver().start()
    added = run_drawbridge(
        "hook",
        "add",
        receiver.url,
        "--events",
        "published,promoted",
        "--secret",
        "s3cret",
        home=server.home.root,
    )
    assert added.returncode == 0, added.stderr
    uploaded = make_wheel(tmp_path, "ci-trigger", "1.0")
    done = twine_upload(f"{server.url}/main/upload/", server.token(Role.uploader), uploaded)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_for(lambda: len(receiver.received) == 1)
    first = receiver.received[0]
    expected = hmac.new(b"s3cret", first.body, hashlib.sha256).hexdigest()
    assert first.headers["x-drawbridge-signature-256"] == f"sha256={expected}"
    assert first.headers["x-drawbridge-event"] == "published"
    assert first.json["data"]["filename"] == uploaded.name
    assert first.headers["x-drawbridge-delivery"] == f"{first.json['id']}-1"

    receiver.stop()
    later = [make_wheel(tmp_path, "ci-trigger", version) for version in ("1.1", "1.2", "1.3")]
    for wheel in later:
        server.publish(wheel)
    hooks = Hooks(Database(server.home.database_url))
    wait_for(lambda: any(d.attempts and d.state == "pending" for d in hooks.deliveries()))
    refused = [d for d in hooks.deliveries() if d.attempts][0]
    assert "ConnectError" in refused.last_error
    receiver.start()
    wait_for(lambda: len(receiver.received) == 4)
    time.sleep(1.0)  # nothing more comes: each exactly once
    arrived = receiver.received[1:]
    assert [r.json["data"]["filename"] for r in arrived] == [w.name for w in later]
    ids = [r.headers["x-drawbridge-delivery"] for r in receiver.received]
    assert len(set(ids)) == 4 and [r.json["id"] for r in arrived] == sorted(
        r.json["id"] for r in arrived
    )
    for item in arrived:
        signed = hmac.new(b"s3cret", item.body, hashlib.sha256).hexdigest()
        assert item.headers["x-drawbridge-signature-256"] == f"sha256={signed}"
    listed = run_drawbridge("hook", "deliveries", home=server.home.root)
    assert listed.stdout.count("delivered") == 4 and "s3cret" not in listed.stdout
    assert "s3cret" not in run_drawbridge("hook", "list", home=server.home.root).stdout
    receiver.stop()

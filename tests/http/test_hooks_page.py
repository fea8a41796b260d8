"""The webhooks page: for admins only, each delivery's state, attempts and last error,
never a secret."""

from __future__ import annotations

from pathlib import Path

import httpx
from builders import make_wheel
from servers import AppClient, free_port

from drawbridge.channel.hooks import Hooks
from drawbridge.channel.tokens import Role
from drawbridge.server.webhooks import poster


def test_admins_see_each_delivery_and_no_secret(app_client: AppClient, tmp_path: Path):
    hooks = Hooks(app_client.channels.db)
    down = f"http://127.0.0.1:{free_port()}/nobody-listens"
    hooks.add(down, ["published"], secret="never-shown")
    app_client.publish(make_wheel(tmp_path, "told", "1.0"))
    with httpx.Client(timeout=5) as client:
        assert hooks.deliver_due(poster(client)) == 1

    assert app_client.get("/ui/hooks").status_code == 401
    uploader = app_client.token(Role.uploader)
    assert app_client.get("/ui/hooks", auth=("__token__", uploader)).status_code == 403
    page = app_client.get("/ui/hooks", auth=("__token__", app_client.token(Role.admin)))
    assert page.status_code == 200
    assert down in page.text and "published" in page.text
    assert "<td class='pending'>pending</td><td>1</td>" in page.text
    assert "ConnectError" in page.text
    assert "never-shown" not in page.text

"""What a first miss starts: a project `[policy] auto_approve` names, and the policy
allows, gets one bridging request (never two), approved by policy and bridged in the
background; where the upstream cannot be reached (inside the air gap) the request stays
approved, and the inside's next receipt asks the outside for it (`bundles`).
"""

from __future__ import annotations

import logging
import threading

from drawbridge.bridge.bridging_requests import RequestBook
from drawbridge.bridge.errors import BridgeError, UpstreamError
from drawbridge.bridge.policy.holding import policy_of
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.run import BridgeOptions, run_bridge
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels

log = logging.getLogger("drawbridge")
AUTO = "(auto-approve)"
#: the states in which a request still stands for the project: no second one is filed
STANDING = ("pending", "approved", "bridged")


class AutoApproval:
    """Called with each (channel, project) missed for the first time (`MissCounter`)."""

    def __init__(self, home: Home, channels: Channels) -> None:
        self.home = home
        self.channels = channels
        self.requests = RequestBook(channels.db)
        self.running: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, channel: str, project: str) -> None:
        policy = policy_of(self.home.policy)
        if project not in policy.auto_approve or not policy.allows_project(project):
            return
        with self._lock:
            if any(
                r.kind == "pip" and r.name == project and r.state in STANDING
                for r in self.requests.all()
            ):
                return
            item = self.requests.file(
                "pip",
                project,
                project,
                [],
                f"pip asked channel {channel!r} for it",
                source="miss",
                user=AUTO,
            )
            self.requests.set_state(item.id, "approved", AUTO, "[policy] auto_approve")
        thread = threading.Thread(
            target=self._bridge, args=(item.id, channel, project), name="drawbridge-wanted"
        )
        self.running.append(thread)
        thread.start()

    def _bridge(self, number: int, channel: str, project: str) -> None:
        options = BridgeOptions(requirements=(project,), channel=channel)
        recipes = RecipeBook(self.home, self.channels.db)
        try:
            report = run_bridge(self.home, self.channels, recipes, options, AUTO)
        except UpstreamError as error:
            self.requests.set_state(
                number,
                "approved",
                AUTO,
                f"queued for the next bundle export (the upstream cannot be reached: {error})",
            )
            return
        except BridgeError as error:
            self.requests.set_state(number, "failed", AUTO, f"failed: {error}")
            return
        except Exception:  # a bug must not take the server's thread down silently
            log.exception("bridging %s for a miss failed", project)
            self.requests.set_state(number, "failed", AUTO, "failed: see the server log")
            return
        failed = [f"{o.project}: {o.result}" for o in report.outcomes if not o.ok]
        if failed:
            self.requests.set_state(number, "failed", AUTO, "failed: " + "; ".join(failed))
        else:
            self.requests.set_state(number, "bridged", AUTO, "[policy] auto_approve")

    def wait(self, timeout: float = 300.0) -> None:
        """Wait for the bridge runs started so far (tests, shutdown)."""
        for thread in list(self.running):
            thread.join(timeout)

"""The build agent's exception family; every message names the input and the fix."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose: a server it cannot reach or that
    refused it, a download whose sha256 is wrong, a sandbox it cannot start."""


class ServerRefused(AgentError):
    """The server answered a request of the agent's with an error."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

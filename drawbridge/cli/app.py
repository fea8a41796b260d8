"""The whole `drawbridge` command, assembled from the command modules.

The client commands (`lock`, `env`, `image`, `agent`) are registered here too, but
`drawbridge.cli.entry` runs them from `env_commands.client_app` and
`agent_command.agent_app` without importing this.
"""

from __future__ import annotations

import typer

from drawbridge.cli import (
    access_commands,
    agent_command,
    bridge_command,
    bundle_commands,
    docs_commands,
    env_commands,
    home_commands,
    hook_commands,
    jobs_commands,
    policy_commands,
    promote_commands,
    recipe_commands,
    request_commands,
    upstream_commands,
)

app = typer.Typer(
    help="Drawbridge: conda channels and a pip index of approved PyPI packages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("init")(home_commands.init)
app.command("serve")(home_commands.serve)
app.command("publish")(home_commands.publish)
app.command("index")(home_commands.index)
app.command("verify")(home_commands.verify)
access_commands.channel_app.command("set")(promote_commands.channel_set)
app.add_typer(access_commands.channel_app, name="channel")
app.add_typer(access_commands.user_app, name="user")
app.add_typer(access_commands.group_app, name="group")
app.add_typer(access_commands.token_app, name="token")
app.add_typer(upstream_commands.upstream_app, name="upstream")
app.command("bridge")(bridge_command.bridge)
app.add_typer(recipe_commands.recipe_app, name="recipe")
app.command("build")(recipe_commands.build)
app.command("audit")(recipe_commands.audit)
app.command("promote")(promote_commands.promote)
app.command("delete")(promote_commands.delete)
app.command("lock")(env_commands.lock)
app.add_typer(env_commands.env_app, name="env")
app.command("image")(env_commands.image)
app.add_typer(request_commands.request_app, name="request")
app.add_typer(hook_commands.hook_app, name="hook")
app.add_typer(docs_commands.docs_app, name="docs")
app.add_typer(bundle_commands.bundle_app, name="bundle")
app.add_typer(policy_commands.held_app, name="held")
app.add_typer(policy_commands.osv_app, name="osv")
app.add_typer(jobs_commands.jobs_app, name="jobs")
app.command("agent")(agent_command.agent)

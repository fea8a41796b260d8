"""`drawbridge bundle keygen|export|import`: signed bundles across the air gap
(the library is `drawbridge.bridge.bundles`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from drawbridge.bridge.bundles import backup, export, importing, signing
from drawbridge.bridge.errors import BundleError
from drawbridge.bridge.policy import osv
from drawbridge.bridge.policy.holding import PolicyGate
from drawbridge.bridge.run import BridgeOptions, run_bridge
from drawbridge.cli.common import HomeOption, console
from drawbridge.cli.context import CliContext, open_home

bundle_app = typer.Typer(
    help="Signed bundles that carry channels across the air gap.", no_args_is_help=True
)
SIZE = re.compile(r"^(\d+)\s*([KMGT]?)(i?B)?$", re.IGNORECASE)
UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """Bytes from `123`, `500M`, `1GiB`, `4G`; BundleError naming the text otherwise."""
    match = SIZE.match(text.strip())
    if not match or int(match.group(1)) < 1:
        raise BundleError(f"--chunk-size {text!r} is not a size: write 1G, 650M, 4096 …")
    return int(match.group(1)) * UNITS[match.group(2).upper()]


def trusted_keys(context: CliContext) -> list[signing.PublicKey]:
    return [signing.load_public(path) for path in context.home.trusted_key_paths]


@bundle_app.command("keygen")
def keygen(home: HomeOption = None) -> None:
    """Make this home's signing key pair ([bundles] key, and its .pub beside it)."""
    context = open_home(home)
    private = context.home.signing_key_path
    public = private.with_suffix(".pub")
    identity = signing.generate(private, public)
    console.print(f"key {identity}: private {private}, public {public}")
    console.print(
        "Give the .pub to the other side of the gap: it goes into <home>/keys/trusted/ there."
    )


@bundle_app.command("export")
def export_command(
    projects: Annotated[
        Optional[list[str]],
        typer.Argument(help="Only these requirements and their closure (default: everything)."),
    ] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="A new, empty folder.")] = Path("bundle"),
    channel: Annotated[
        Optional[list[str]], typer.Option("--channel", help="A channel to export (repeatable).")
    ] = None,
    since: Annotated[
        Optional[Path],
        typer.Option("--since", help="The inside's receipt: leave out what it holds."),
    ] = None,
    requirements: Annotated[
        Optional[Path], typer.Option("--requirements", help="A requirements file (one per line).")
    ] = None,
    chunk_size: Annotated[
        str, typer.Option("--chunk-size", help="Largest chunk: 1G, 650M, 4096 …")
    ] = "1G",
    whole: Annotated[
        bool,
        typer.Option("--all", help="Back up the whole home (restored into an empty home)."),
    ] = False,
    provenance_from: Annotated[
        Optional[str],
        typer.Option(
            "--provenance-from",
            help="Index whose PEP 740 provenance to carry (default: pypi.org when it is the "
            "upstream; '' for none).",
        ),
    ] = None,
    with_osv: Annotated[
        bool,
        typer.Option("--osv", help="Carry this home's OSV snapshot: the inside checks against it."),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Write a signed bundle of channels (or of some projects' closure) for the inside, or
    (--all) a backup of the whole home."""
    context = open_home(home)
    size = parse_size(chunk_size)
    key = signing.load_private(context.home.signing_key_path)
    if whole:
        if projects or channel or since or requirements:
            raise BundleError("--all backs up everything: give no channel, project or receipt")
        manifest = backup.export_home(out, context.channels, key, size)
        console.print(
            f"backup {out}: {len(manifest.files)} file(s), {manifest.total_size} bytes in "
            f"{len(manifest.chunks)} chunk(s), signed by key {manifest.key}"
        )
        return
    names = channel or [context.channel(None)]
    wanted = list(projects or [])
    if requirements is not None:
        wanted += read_requirements(requirements)
    receipt = importing.read_receipt(since, trusted_keys(context)) if since else None
    selections, missing = [], []
    asked = list(receipt.wanted) if receipt else []
    if wanted and asked:
        wanted += [name for name in asked if name not in wanted]
        console.print(f"the inside wants {', '.join(asked)}: their closure goes in too")
    for name in names:
        context.channel(name)
        if not wanted:
            held = set(context.channels.projects(name))
            missing += [
                f"{project}: wanted by the inside, not in channel {name!r}; run "
                f"`drawbridge bridge --channel {name} {project}`"
                for project in asked
                if project not in held
            ]
        if wanted:
            selection, lacking = export.closure_selection(
                context.channels, name, plan_closure(context, name, wanted)
            )
            selections.append(selection)
            missing += lacking
        else:
            selections.append(export.Selection(name))
    extra = []
    if with_osv:
        snapshot = context.home.root / osv.SNAPSHOT
        if not snapshot.is_file():
            raise BundleError(
                "--osv: this home has no OSV snapshot; `drawbridge osv import all.zip`"
            )
        extra.append(export.Carried(snapshot, "osv", names[0]))
    manifest = export.write_bundle(
        out,
        context.channels,
        selections,
        key,
        size,
        since=receipt,
        extra=extra,
        missing=missing,
        recipes=context.recipes,
        provenance_from=default_provenance(context) if provenance_from is None else provenance_from,
    )
    console.print(
        f"bundle {out}: {len(manifest.files)} file(s), {manifest.total_size} bytes in "
        f"{len(manifest.chunks)} chunk(s), signed by key {manifest.key}"
    )
    for line in missing:
        console.print(f"[yellow]missing[/] {line}")


def default_provenance(context: CliContext) -> str:
    """pypi.org when it is the home's upstream (it serves the Integrity API); else none."""
    upstream = context.home.bridge.upstream_pypi
    return "https://pypi.org" if upstream.startswith("https://pypi.org/") else ""


def read_requirements(path: Path) -> list[str]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as error:
        raise BundleError(f"cannot read --requirements {path}: {error}") from None
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def plan_closure(context: CliContext, channel: str, wanted: list[str]) -> list[export.Pinned]:
    """The bridge's dry-run plan of `wanted` into `channel`: each project's pinned wheels."""
    options = BridgeOptions(requirements=tuple(wanted), channel=channel, dry_run=True)
    with console.status("planning the closure…"):
        report = run_bridge(context.home, context.channels, context.recipes, options, "bundle")
    return [
        export.Pinned(
            plan.project,
            plan.conda_name,
            plan.version or "",
            tuple(dict.fromkeys(w.filename for w in (*plan.wheels, *plan.pip_wheels))),
            bool(plan.needs_recipe),
        )
        for plan in report.plans
        if plan.route != "cannot"
    ]


@bundle_app.command("import")
def import_command(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder (may be read-only).")],
    receipt: Annotated[
        Optional[Path],
        typer.Option("--receipt", help="Where to write the receipt (default: <home>/bundles/)."),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Verify a bundle, then publish it (all or nothing per channel) and write a receipt."""
    context = open_home(home)
    _, manifest = importing.read_signed_manifest(bundle, trusted_keys(context))
    if manifest.kind == "home":
        restored = backup.import_home(context.channels, bundle, trusted_keys(context))
        console.print(
            f"restored backup {restored.bundle_id}: {len(restored.published)} channel(s), "
            f"{sum(len(f) for f in restored.published.values())} file(s); drawbridge.toml "
            f"as it was is in {backup.CONFIG_COPY}"
        )
        return
    key = signing.load_private(context.home.signing_key_path)
    report = importing.import_bundle(
        context.channels,
        bundle,
        trusted_keys(context),
        key,
        gate=PolicyGate.of_home,
        held=context.held,
        receipt_path=receipt,
        recipes=context.recipes,
        wanted=[r.name for r in context.requests.all("approved") if r.kind == "pip"],
    )
    console.print(
        f"bundle {report.bundle_id} from key {report.key}: read {report.bytes_read} bytes "
        f"({len(report.chunks_read)} chunk(s); {len(report.chunks_skipped)} verified before)"
    )
    for name, files in report.published.items():
        fresh = [f for f in files if not f.already_published]
        console.print(
            f"{name}: {len(fresh)} file(s) published, {len(files) - len(fresh)} already there"
        )
    for item, reasons in report.held:
        console.print(f"[yellow]held[/] {item.name}: {'; '.join(reasons)}")
    for line in report.missing:
        console.print(f"[yellow]not in the bundle[/] {line}")
    console.print(f"receipt: {report.receipt} (carry it back for `bundle export --since`)")

"""Signed bundles across the air gap: what crosses, cut into chunks, signed, verified.

- `signing`: ed25519 key pairs, signatures over canonical JSON, the trusted keys;
- `manifest`: the manifest and the receipt as data (pure: canonical bytes, checks);
- `chunks`: files into chunks of a chosen size and back, counting what is read;
- `export`: the outside's side: a channel's files (or some of them) into a bundle;
- `provenance`: PEP 740 provenance fetched from the index and carried with the files;
- `importing`: the inside's side: verify, resume, stage, hold by policy, publish, receipt;
- `backup`: a whole home into a bundle, and back into an empty home.

Imports of the bridge: `policy`, `recipes`, `errors`, `records`.
"""

__all__ = ["signing", "manifest", "chunks", "export", "provenance", "importing", "backup"]

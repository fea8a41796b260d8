"""What may cross into a channel: `[policy]` decisions and known vulnerabilities.

- `rules`: allow and block lists, allowed licences, severities: pure decisions on a release;
- `licences`: SPDX licence expressions (PEP 639) and whether allowed ids satisfy them;
- `osv`: an OSV snapshot (`all.zip`) read, kept in the home, matched against releases;
- `holding`: a file's facts read, policy applied, held files kept and accepted.

Imports of the bridge: `errors`, `records`.
"""

__all__ = ["rules", "licences", "osv", "holding"]

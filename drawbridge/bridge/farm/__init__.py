"""The build farm: approved recipes become build jobs, agents claim and build them, and
what they upload is verified before it is published.

- `jobs`: `JobBook`, the jobs with their states, leases, attempts and logs; the agents;
- `schedule`: which jobs a recipe needs, and its state as they end;
- `inputs`: what an agent downloads for a job (the approved recipe, its sources);
- `outputs`: what an agent uploads, verified, then published.

Imports of the bridge: `recipes`, `installable`, `translate`, `errors`, `records`.
"""

__all__ = ["jobs", "schedule", "inputs", "outputs"]

"""One file per schema change, oldest first (`0001_baseline` is Drawbridge 0.1.0's schema)."""

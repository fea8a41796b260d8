"""The lowest layer: the home on disk, the store, the database and the indexes of a channel.

Nothing here imports `drawbridge.bridge` or `drawbridge.server`.
"""

"""Prod environments from environment files: lock against Drawbridge, install, build images.

The client side of Drawbridge: it talks to a running server over HTTP only, so it runs on
any machine that can reach the server (and nothing else).
"""

"""PyPI to conda: name mapping, dependency translation, wheel selection and repacking.

Imports `drawbridge.channel`, never `drawbridge.server`.
"""

"""The Console's pure rules: who may do what, what a start asks for, progress, filters.

No I/O here (mypy --strict): the API, the CLI and the tests share these decisions.
"""

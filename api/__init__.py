"""The read-only REST API at /api/v1/: approved data for everyone else (see docs/data-teams.md).

Nothing in the project imports this app; it reads `publishing` (the published rule and the
releases), `roles` and `taxonomy`, and owns only the personal API tokens.
"""

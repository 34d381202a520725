"""The read-only REST API at /api/v1/: approved data for everyone else (see README "For data teams").

Nothing in the project imports this app; it reads `review.published`, `review.releases`,
`roles` and `taxonomy`, and owns only the personal API tokens.
"""

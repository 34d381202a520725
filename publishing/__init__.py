"""Publishing: what leaves Rolebook, as releases (fixtures, CSV, SKOS) and the rule the REST API reads.

Depends on `roles` and `taxonomy` only; `api` and `review` depend on it. Its modules depend one way:

    published          the one "published" rule: approved aliases and mappings, every role
    files              names, formats, versions, hashes, the manifest (shared by all below)
    formats.fixtures   Django fixtures          ┐
    formats.csv        CSV files                ├ each: files, published
    formats.skos       SKOS in Turtle           ┘
    changes            CHANGES.md               files, formats.fixtures
    delta              delta/ between releases  files, formats.csv, formats.skos, staging
    staging            crash-safe directories   (the standard library only)
    releases           a whole release          files, formats, changes, delta, staging, published
    store              published releases       files, releases, staging
    views, urls        the release page         files, formats.fixtures, releases
    management/commands/export_approved         files, releases, store
    management/commands/apply_delta             delta

tests/publishing/test_layering.py checks this, and that nothing here imports `review` or `api`.
"""

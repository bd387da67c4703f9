"""Prompts, offline analyzers, merging, the per-repository configuration (``repo_config``:
``.auditbot.yml`` -> ``RepoConfig`` plus human-readable errors) and the review pipeline.

The findings schema every layer shares lives in ``bot/findings.py``."""

"""Verified GitHub and GitLab deliveries become jobs: the handler registries, their payload
models, the comment-command parser, and the atomic dedupe-and-enqueue script."""

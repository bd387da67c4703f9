"""Conversation in the pull request: `/audit ask`, answers in auditbot's review threads,
dismissals acknowledged at once, and who may talk to auditbot (docs/conversation.md)."""

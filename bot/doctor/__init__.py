"""`auditbot doctor`: checks an installation and explains, line by line, what works and what
to fix: settings, the database and its schema, Redis and its persistence, the GitHub App,
GitLab's token and webhooks, and (with ``--llm``) the model provider."""

"""Fake remote services (GitHub, GitLab, LLM providers) speaking their real HTTP protocols."""

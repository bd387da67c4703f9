"""auditbot: audits pull requests with LLMs and static analysis."""

__version__ = "0.1.0"

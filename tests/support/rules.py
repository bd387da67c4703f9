"""A custom engine rule as a repository would write it under .auditbot/rules/."""

from __future__ import annotations

NO_PRINT_RULE = """
rules:
  - id: acme.no-print
    languages: [python]
    severity: WARNING
    message: Services log through the logger.
    pattern: print(...)
    metadata:
      severity: medium
      cwe: CWE-532
      title: print() in service code
      fix: Call logger.info instead.
      examples:
        positive: ["print('x')\\n"]
        negative: ["logger.info('x')\\n"]
"""

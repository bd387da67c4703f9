"""`auditbot setup`: register the GitHub App through GitHub's manifest flow and write its
settings to `.env`."""

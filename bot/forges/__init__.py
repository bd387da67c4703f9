"""Forge adapters behind one interface (``bot.forges.base``), a subpackage per forge.

- ``local/``: ``git.LocalGitSource`` (a repository on disk) and ``archive.ArchiveSource``
  (a ZIP upload, vetted by ``zipcheck``): read side only (``ChangeSource``).
- ``github/``: ``forge.GitHubForge`` (githubkit; requests through ``client.GitHubClient``;
  auth, token cache and pacing in ``auth``; the conversation, feedback and code scanning as
  parts holding the client; the App's own endpoints in ``app_hooks``): read and publish.
- ``gitlab/``: ``forge.GitLabForge`` (python-gitlab in threads, through
  ``client.GitLabClient``; conversation and feedback as parts): read and publish.
- ``pull_requests.PullRequestForge``: what both offer the jobs beyond ``base.Forge``.
- Shared by every adapter: ``base`` (the dataclasses and protocols), ``conversation`` and
  ``code_scanning`` (their neutral data and protocols), ``limits``, ``locks``,
  ``patches``, ``review_text``, ``feedback`` and ``tree`` (a whole tree as a change).

The SDKs are imported only in ``github/`` and ``gitlab/``; every other module here is
plain Python over our own dataclasses.
"""

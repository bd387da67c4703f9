"""Forge adapters behind one interface (``bot.forges.base``).

- ``local.LocalGitSource`` and ``archive.ArchiveSource``: read side only (``ChangeSource``).
- ``github.GitHubForge`` (githubkit; auth, token cache and pacing in ``github_auth``) and
  ``gitlab.GitLabForge`` (python-gitlab, in threads): read and publish (``Forge``).

The SDKs are imported only in ``github.py``/``github_auth.py`` and ``gitlab.py``; every
other module here is plain Python over our own dataclasses.
"""

"""Forge adapters behind one interface (``bot.forges.base``), a subpackage per forge.

- ``local/``: ``git.LocalGitSource`` (a repository on disk) and ``archive.ArchiveSource``
  (a ZIP upload, vetted by ``zipcheck``): read side only (``ChangeSource``).
- ``github/``: ``forge.GitHubForge`` (githubkit; auth, token cache and pacing in ``auth``;
  the App's own endpoints in ``app_hooks``): read and publish (``Forge``).
- ``gitlab/``: ``forge.GitLabForge`` (python-gitlab, in threads): read and publish.
- Shared by every adapter: ``base`` (the dataclasses and protocols), ``limits``, ``locks``,
  ``patches``, ``review_text``, ``feedback`` and ``tree`` (a whole tree as a change).

The SDKs are imported only in ``github/`` and ``gitlab/``; every other module here is
plain Python over our own dataclasses.
"""

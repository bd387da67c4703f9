"""What the model sees and where a finding may be posted. No I/O: plain data in and out.

- ``parse``: ``parse_patch`` (GitHub ``patch`` / GitLab ``diff``), ``parse_unified_diff``
  (a whole ``git diff``) -> ``FileDiff`` with ``Hunk`` and ``DiffLine``.
- ``lines``: ``place_range`` clips a finding's range into one hunk's commentable lines.
- ``filters``: ``FileFilter.skip_reason`` (defaults + gitignore-style user globs).
- ``tokens``: ``count_tokens`` offline, from the vocabularies shipped in ``vocab/``.
- ``context`` / ``scopes``: each hunk with its enclosing function (tree-sitter) rendered
  with new-file line numbers.
- ``chunking``: ``build_chunks`` under a token budget, stable per file; ``sending_order``.

Submodules are imported on use (tree-sitter and the vocabularies are not light).
"""

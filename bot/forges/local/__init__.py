"""Sources without a forge: a git repository on disk (``git``, ``gitdiff``) and an uploaded
ZIP archive (``archive``, vetted by ``zipcheck``)."""

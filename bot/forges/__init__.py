"""Forge adapters behind one interface (``bot.forges.base``): GitHub, GitLab, local git, ZIP."""

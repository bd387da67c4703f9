"""Enclosing scopes of line ranges, as tree-sitter sees them."""

from __future__ import annotations

from bot.diff.scopes import Scope, ScopeIndex

SOURCE = """class Repo:
    def load(self, path):
        data = read(path)
        return data

    def save(self, path, data):
        write(path, data)
"""
REPO = Scope(1, 7, "class_definition")
LOAD = Scope(2, 4, "function_definition")


def test_ranges_inside_one_method_and_across_two() -> None:
    index = ScopeIndex.build("repo.py", SOURCE)
    assert index is not None
    assert index.enclosing(3, 4) == [REPO, LOAD]
    assert index.enclosing(2, 4) == [REPO, LOAD]  # the def line belongs to its method
    assert index.enclosing(3, 7) == [REPO]
    assert index.enclosing(1, 7) == [REPO]


def test_single_rows_and_rows_past_the_end() -> None:
    index = ScopeIndex.build("repo.py", SOURCE)
    assert index is not None
    assert index.enclosing(2, 2) == [REPO, LOAD]
    assert index.enclosing(5, 5) == [REPO]
    assert index.enclosing(20, 30) == []
    assert ScopeIndex.build("notes.txt", SOURCE) is None

from __future__ import annotations

from bot.analysis.verify import lines_were_shown, quote_is_in

# The raw code of the lines the chunk showed (the pipeline joins them from the file).
SHOWN = """query = "SELECT * FROM t WHERE name = '" + name + "'"
rows = db.execute(query)
return rows
"""


def test_quote_found_despite_whitespace_and_number_prefixes() -> None:
    assert quote_is_in("rows   =  db.execute(query)", SHOWN)
    assert quote_is_in("  11 + rows = db.execute(query)", SHOWN)
    assert quote_is_in(
        'query = "SELECT * FROM t WHERE name = \'" + name + "\'"\nrows = db.execute(query)',
        SHOWN,
    )


def test_quote_not_in_chunk_is_refused() -> None:
    assert not quote_is_in("os.system(user_input)", SHOWN)
    assert not quote_is_in("", SHOWN)
    assert not quote_is_in(None, SHOWN)
    assert not quote_is_in(" a ", SHOWN)


def test_lines_must_have_been_shown() -> None:
    shown = {"app.py": {10, 11, 12}}
    assert lines_were_shown("app.py", 11, 11, shown)
    assert lines_were_shown("app.py", 12, 14, shown)
    assert not lines_were_shown("app.py", 40, 41, shown)
    assert not lines_were_shown("other.py", 10, 10, shown)

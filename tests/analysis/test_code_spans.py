"""Code or text: where the rule engine may count a match (see bot/analysis/code_spans.py)."""

from __future__ import annotations

from bot.analysis.code_spans import CodeMap, line_in_code, python_text_spans
from bot.analysis.static import rule_findings

DOCSTRING = '''def roundtrip(x):
    """Objects where
    eval(repr(x)) == x holds.
    """
    return eval(x)  # eval(x) again in a comment
'''


def test_python_docstrings_over_several_lines_are_text() -> None:
    hits = [f.start_line for f in rule_findings("app/nodes.py", DOCSTRING)
            if f.rule_id == "python/code-eval"]
    assert hits == [5]  # the call, not the docstring's line 3
    code = CodeMap("python", DOCSTRING, ("#",))
    line = DOCSTRING.split("\n")[4]
    assert code.in_code(5, line, line.index("eval"))
    assert not code.in_code(5, line, line.rindex("eval"))  # in the comment
    assert not code.in_code(3, "    eval(repr(x)) == x holds.", 4)


def test_python_fstring_expressions_are_code() -> None:
    source = 'label = f"value: {eval(expr)}" + "eval(no)"\n'
    spans = python_text_spans(source)
    assert spans is not None
    code = CodeMap("python", source, ("#",))
    assert code.in_code(1, source, source.index("eval(expr)"))
    assert not code.in_code(1, source, source.index("eval(no)"))


def test_python_that_does_not_tokenize_falls_back_to_the_line() -> None:
    source = 'x = """never closed\neval(data)\n'
    assert python_text_spans(source) is None
    code = CodeMap("python", source, ("#",))
    assert code.in_code(2, "eval(data)", 0)  # the line alone looks like code


def test_one_line_reading_for_other_languages() -> None:
    markers = ("//", "/*")

    def at_eval(line: str) -> bool:
        return line_in_code(line, line.index("eval"), markers)

    assert not at_eval('throw new Error("no eval(x)");')
    assert at_eval("const v = `${eval(q)}`;")  # template interpolation is code
    assert not at_eval("run(); // eval(x)")
    assert at_eval('s = "a\\"b" + eval(x)')  # an escaped quote does not end the string
    assert at_eval("const url = 'http://x' + eval(y)")  # // inside a string is no comment

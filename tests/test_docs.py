"""Every ```python snippet in docs/backprop.md runs and its checks pass."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "backprop.md")


def snippets():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_page_has_snippets():
    assert len(snippets()) >= 8


@pytest.mark.parametrize("index", range(len(snippets())))
def test_snippet_runs(index, capsys):
    code = snippets()[index]
    exec(compile(code, f"docs/backprop.md snippet {index + 1}", "exec"), {"__name__": "__doc_snippet__"})
    assert capsys.readouterr().out  # every snippet prints what it checked

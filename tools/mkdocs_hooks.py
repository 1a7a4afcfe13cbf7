"""MkDocs hook: render the docs' bare doctest examples as Python console code blocks.

The pages under ``docs/`` are doctests (``pytest --doctest-glob=*.md``), and most of their
examples are bare ``>>>`` lines between paragraphs. Markdown would read those as nested
block quotes, so before a page is converted this hook wraps every run of doctest lines
(``>>>`` / ``...`` lines and their expected output, up to a blank line that is not followed
by another ``>>>``) in a ```` ```pycon ```` fence. Fenced ``python`` blocks that hold
doctests get the ``pycon`` lexer too. The Markdown files themselves are not changed, so the
doctests run exactly as written.

The docstrings are numpydoc but cite objects with Sphinx roles (``:func:`x```), which
mkdocstrings shows verbatim; the rendered roles become code, linked to the API reference
where the target is a documented dotted path (optional cross-references: no warning when
there is no such entry).
"""

from __future__ import annotations

import re
from typing import Any

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj):<code>([^<]*)</code>")


def _is_prompt(line: str) -> bool:
    return line == ">>>" or line.startswith(">>> ")


def _fence_doctests(markdown: str) -> str:
    lines = markdown.split("\n")
    out: list[str] = []
    fence: str | None = None  # the opening marker of the fenced block we are in
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if match and match.group(2).startswith(fence) and not match.group(3).strip():
                fence = None
            i += 1
            continue
        if match:
            fence = match.group(2)
            lang = match.group(3).strip()
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if lang == "python" and _is_prompt(following.strip()):
                line = f"{match.group(1)}{fence}pycon"
            out.append(line)
            i += 1
            continue
        if not _is_prompt(line):
            out.append(line)
            i += 1
            continue
        # A run of doctest examples: until a blank line not followed by another prompt.
        block: list[str] = []
        while i < len(lines):
            if lines[i].strip():
                block.append(lines[i])
                i += 1
                continue
            j = i
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _is_prompt(lines[j]):
                block.append("")
                i = j
                continue
            break
        if out and out[-1].strip():
            out.append("")
        out.extend(["```pycon", *block, "```", ""])
    return "\n".join(out)


def _role(match: re.Match[str]) -> str:
    target = match.group(1)
    short = target.startswith("~")
    target = target.lstrip("~.")
    shown = target.rsplit(".", 1)[-1] if short else target
    if "." not in target:
        return f"<code>{shown}</code>"
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Fence the page's bare doctest examples (see the module docstring)."""
    return _fence_doctests(markdown)


def on_page_content(html: str, **kwargs: Any) -> str:
    """Render the docstrings' Sphinx roles as code or links (see the module docstring)."""
    return _ROLE.sub(_role, html)

"""The brief as a document: blocks rendered to Markdown or to self-contained HTML.

User text (names, descriptions, notes, sources, file names) is escaped by :func:`esc` so
that any Markdown viewer shows it as text; a paragraph's Markdown becomes HTML through a
CommonMark renderer with raw HTML off (markdown-it-py), and table cells and headings are
HTML-escaped, so nothing a scenario says can become markup.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


# Markdown punctuation that could start markup in user text; '_' only where it can open or
# close emphasis (inside a word, as in odesa_brody, it cannot)
_MD_SPECIAL = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def esc(text: object) -> str:
    """User text (a name, description, note, source, label, file name) as Markdown that any
    viewer shows as exactly that text: ``<``, ``>`` and ``&`` become entities (so no HTML
    tag, ``<img onerror>``, ``<iframe>`` or autolink), and the punctuation of links, images,
    code, emphasis and tables is backslash-escaped (so no ``[x](javascript:...)``).  Runs of
    whitespace, newlines included, become one space: the text stays in its paragraph or cell."""
    t = " ".join(str(text).split())
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), t)


def code(text: object) -> str:
    """``text`` as a Markdown code span (literal in every viewer), fenced with more
    backticks than any run inside it."""
    t = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def _inline_html(markdown: str) -> str:
    """A paragraph's Markdown as HTML by a CommonMark renderer with raw HTML turned off
    (markdown-it-py): what a viewer shows, and user text escaped by :func:`esc` stays text."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).renderInline(markdown)


@dataclass
class Doc:
    """The brief as blocks, rendered to Markdown or HTML."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(("table", (list(header), [list(map(str, r)) for r in rows])))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self, root: Path) -> str:
        out: list[str] = []
        for kind, b in self.blocks:
            if kind == "h":
                out.append("#" * b[0] + " " + esc(b[1]))
            elif kind == "p":
                out.append(b)  # Markdown already: its user text went through esc()
            elif kind == "table":
                header, rows = b
                cells = [[esc(c) for c in r] for r in [header, *rows]]
                out.append("\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(header),
                                      *("| " + " | ".join(r) + " |" for r in cells[1:])]))
            elif kind == "img":
                out.append(f"![{esc(b[1])}]({b[0].relative_to(root).as_posix()})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        body: list[str] = []
        for kind, b in self.blocks:
            if kind == "h":
                body.append(f"<h{b[0]}>{html.escape(b[1])}</h{b[0]}>")
            elif kind == "p":
                body.append(f"<p>{_inline_html(b)}</p>")
            elif kind == "table":
                header, rows = b
                head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
                trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
            elif kind == "img":
                data = base64.b64encode(Path(b[0]).read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(b[1])}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(b[1])}</figcaption></figure>")
        style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
                 "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
                 "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
                 "th{background:#f2f2f2}img{max-width:100%}figcaption{font-size:.85rem;color:#555}")
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")

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


# Markdown punctuation that could start markup in user text; '_' only where it can open or
# close emphasis (inside a word, as in odesa_brody, it cannot)
_MD_SPECIAL = re.compile(r"[\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# block markers at the start of a text: a '#' heading, a '-' or '+' list item (each followed by
# a space or the end), a '1.' / '1)' numbered item, a '---' rule
_MD_LINE_START = re.compile(r"^(?:[#+-](?=\s|$)|\d+[.)](?=\s|$)|-(?=-))")


def esc(text: object) -> str:
    """User text (a name, description, note, source, label, file name) as Markdown that any
    viewer shows as exactly that text: ``<``, ``>`` and ``&`` become entities (so no HTML
    tag, ``<img onerror>``, ``<iframe>`` or autolink), and the punctuation of links, images,
    code, emphasis and tables is backslash-escaped (so no ``[x](javascript:...)``).  Runs of
    whitespace, newlines included, become one space: the text stays in its paragraph or cell."""
    t = " ".join(str(text).split())
    t = t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    t = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), t)
    # a block marker at the very start (a heading, a list item, a numbered item, a rule)
    # would make a paragraph or cell that begins with this text into something else
    m = _MD_LINE_START.match(t)
    if m is None:
        return t
    at = m.end() - 1  # the marker's last character: '#', '+', '-', '.' or ')'
    return t[:at] + "\\" + t[at:]


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


@dataclass(frozen=True)
class Heading:
    """A heading of the given level (1 = title)."""

    level: int
    text: str  # plain text (escaped when rendered)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of Markdown."""

    markdown: str  # Markdown already: its user text went through esc()


@dataclass(frozen=True)
class Table:
    """A table: a header row and rows of cells."""

    header: list[str]  # plain text cells (escaped when rendered)
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    """A chart, with its caption."""

    path: Path  # a PNG under the document's folder
    alt: str  # plain text: the alt text and the caption


@dataclass(frozen=True)
class Bullets:
    """A bulleted list; each item Markdown (its user text went through esc()).  An item's
    later lines that start with ``- `` are a list nested under its first line."""

    items: list[str]


def _split_item(item: str) -> tuple[str, list[str]]:
    """An item's first line and its nested items (its later ``- `` lines)."""
    first, *more = item.split("\n")
    return first, [m.removeprefix("- ") for m in more if m.strip()]


def _item_markdown(item: str) -> str:
    first, subs = _split_item(item)
    return "\n".join([f"- {first}", *(f"  - {x}" for x in subs)])


def _item_html(item: str) -> str:
    first, subs = _split_item(item)
    nested = "<ul>" + "".join(f"<li>{_inline_html(x)}</li>" for x in subs) + "</ul>" if subs else ""
    return f"<li>{_inline_html(first)}{nested}</li>"


Block = Heading | Paragraph | Table | Image | Bullets

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
          "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
          "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}"
          "th{background:#f2f2f2}img{max-width:100%}figcaption{font-size:.85rem;color:#555}"
          "figure{margin:1rem 0}ul{padding-left:1.4rem}"
          # print: A4 pages, each top-level section on a new page, no figure or table row split
          "@page{size:A4;margin:15mm 14mm}"
          "@media print{body{max-width:none;margin:0;padding:0;font-size:10pt}"
          "section+section{break-before:page}h2,h3{break-after:avoid}"
          "figure,tr,li{break-inside:avoid}table{font-size:8pt}img{max-height:240mm}}")


@dataclass
class Doc:
    """The brief as blocks, rendered to Markdown (images beside it) or to one HTML file
    (images inlined as data URIs)."""

    blocks: list[Block] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(Heading(level, text))

    def p(self, text: str) -> None:
        self.blocks.append(Paragraph(text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        self.blocks.append(Table(list(header), [list(map(str, r)) for r in rows]))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(Image(path, alt))

    def bullets(self, items: Sequence[str]) -> None:
        if items:
            self.blocks.append(Bullets(list(items)))

    def markdown(self, root: Path) -> str:
        """The document as Markdown; image paths relative to ``root`` (the document's folder)."""
        out: list[str] = []
        for b in self.blocks:
            if isinstance(b, Heading):
                out.append("#" * b.level + " " + esc(b.text))
            elif isinstance(b, Paragraph):
                out.append(b.markdown)
            elif isinstance(b, Bullets):
                out.append("\n".join(_item_markdown(item) for item in b.items))
            elif isinstance(b, Table):
                cells = [[esc(c) for c in r] for r in [b.header, *b.rows]]
                out.append("\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(b.header),
                                      *("| " + " | ".join(r) + " |" for r in cells[1:])]))
            else:
                out.append(f"![{esc(b.alt)}]({b.path.relative_to(root).as_posix()})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        """The document as one self-contained HTML page: each level-2 heading opens a
        ``<section>`` (a new page when printed)."""
        body: list[str] = []
        open_section = False
        for b in self.blocks:
            if isinstance(b, Heading):
                if b.level == 2:
                    if open_section:
                        body.append("</section>")
                    body.append("<section>")
                    open_section = True
                body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
            elif isinstance(b, Paragraph):
                body.append(f"<p>{_inline_html(b.markdown)}</p>")
            elif isinstance(b, Bullets):
                body.append("<ul>" + "".join(_item_html(i) for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                head = "".join(f"<th>{html.escape(c)}</th>" for c in b.header)
                trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in b.rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>")
            else:
                data = base64.b64encode(Path(b.path).read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(b.alt)}</figcaption></figure>")
        if open_section:
            body.append("</section>")
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title><style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")

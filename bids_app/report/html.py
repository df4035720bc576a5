"""Self-contained HTML pages: inline style, images embedded as base64 PNG, no scripts."""

from __future__ import annotations

import base64
from html import escape

import pandas as pd

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #2457a6; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .2em .5em; text-align: right; }
th { background: #f0f3f8; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.warn { color: #a04000; }
.methods { background: #f7f7f7; padding: .8em 1em; border-left: 3px solid #2457a6; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
dt { font-weight: 600; }
dd { margin: 0; }
"""


def page(*, title: str, body: list[str], meta: dict[str, str] | None = None) -> str:
    meta_html = "".join(f'<meta name="{escape(k)}" content="{escape(v)}">\n' for k, v in (meta or {}).items())
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n{meta_html}<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n" + "\n".join(body)
            + "\n</body>\n</html>\n")


def heading(text: str, *, level: int = 2, anchor: str | None = None) -> str:
    anchor_attribute = f' id="{escape(anchor)}"' if anchor else ""
    return f"<h{level}{anchor_attribute}>{escape(text)}</h{level}>"


def paragraph(text: str, *, css_class: str | None = None) -> str:
    class_attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{class_attribute}>{escape(text)}</p>"


def image(png: bytes, *, alt: str, caption: str | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">{caption_html}</figure>'


def table(frame: pd.DataFrame, *, digits: int = 3) -> str:
    return frame.to_html(index=False, na_rep="n/a", border=0, escape=True,
                         float_format=lambda value: f"{value:.{digits}g}")


def definitions(items: dict[str, object]) -> str:
    rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in items.items())
    return f"<dl>{rows}</dl>"


def bullet_list(items: list[str], *, css_class: str | None = None) -> str:
    class_attribute = f' class="{css_class}"' if css_class else ""
    return f"<ul{class_attribute}>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def details(summary: str, content: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{content}</details>"


def contents(entries: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """A table of contents: per entry (its anchor and title), links to its subsections (anchor, title)."""
    items = "".join(f'<li><a href="#{escape(name)}">{escape(name)}</a><ul>'
                    + "".join(f'<li><a href="#{escape(a)}">{escape(t)}</a></li>' for a, t in sub) + "</ul></li>"
                    for name, sub in entries)
    return f'<nav class="toc"><ul>{items}</ul></nav>'

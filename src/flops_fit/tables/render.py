"""The frames every table shares: a Markdown pipe table and a booktabs LaTeX table."""

from __future__ import annotations

from flops_fit.presentation.formatting import md_unescape

LONG_TABLE_ROWS = 40
"""Tables with more rows than this become a ``longtable`` (breaks across pages)."""


def md_table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def tex_table(
    header: list[str],
    groups: list[list[list[str]]],
    align: str,
    caption: str,
    label: str,
    wide: bool = False,
    notes=(),
) -> str:
    """A booktabs table; a ``longtable`` (header repeated on every page) when it is long.

    ``wide``: a ``table*``, spanning both columns of a two-column paper. ``notes``: lines in small
    type under the table (e.g. what its symbols mean)."""
    head = [" & ".join(header) + " \\\\"]
    body = []
    for i, group in enumerate(groups):
        if i:
            body.append("\\midrule")
        body += [" & ".join(r) + " \\\\" for r in group]
    if sum(len(g) for g in groups) > LONG_TABLE_ROWS:
        lines = [
            "% requires \\usepackage{booktabs} and \\usepackage{longtable}; longtable breaks across pages but",
            "% not in two-column mode: put it in a one-column part (e.g. an appendix after \\onecolumn)",
            "{\\small",
            f"\\begin{{longtable}}{{{align}}}",
            f"\\caption{{{caption}}}\\label{{{label}}} \\\\",
            "\\toprule",
            *head,
            "\\midrule",
            "\\endfirsthead",
            "\\toprule",
            *head,
            "\\midrule",
            "\\endhead",
            "\\bottomrule",
            "\\endfoot",
            *body,
            "\\end{longtable}",
            "}",
        ]
        return "\n".join(lines) + "\n"
    env = "table*" if wide else "table"
    lines = [
        "% requires \\usepackage{booktabs}" + ("; table*: spans both columns of a two-column paper" if wide else ""),
        f"\\begin{{{env}}}[t]",
        "\\centering",
        "\\small",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        *head,
        "\\midrule",
        *body,
        "\\bottomrule",
        "\\end{tabular}",
        *(["\\par\\smallskip\\footnotesize\\raggedright"] + [f"{n}\\par" for n in notes] if notes else []),
        f"\\end{{{env}}}",
    ]
    return "\n".join(lines) + "\n"


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row, split at its unescaped pipes (``md_escape`` writes a pipe
    of a cell's text as ``\\|``)."""
    cells, cell, i = [], "", 0
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            cell += body[i : i + 2]
            i += 2
            continue
        if body[i] == "|":
            cells.append(cell)
            cell = ""
        else:
            cell += body[i]
        i += 1
    if cell.strip():
        cells.append(cell)
    return cells


_HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1rem;color:#222}"
    "table{border-collapse:collapse;font-size:.9rem}"
    "th,td{padding:.2rem .6rem;border-bottom:1px solid #ddd}"
    "th{border-bottom:2px solid #444}"
    "p,li{font-size:.85rem;color:#444;max-width:60rem}"
)


def html_from_md(md: str, title: str) -> str:
    """A standalone HTML page of one of our Markdown tables (pipe table, then notes as paragraphs
    and bullet lists): what the report shows instead of a raw-float CSV."""
    import html

    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_HTML_STYLE}</style></head><body>", "<table>"]  # fmt: skip
    rows = [ln for ln in md.splitlines() if ln.startswith("|")]
    cells = [[md_unescape(c.strip()) for c in _cells(ln)] for ln in rows]
    seps = cells[1] if len(cells) > 1 else []
    align = ["right" if a.endswith(":") and not a.startswith(":") else "left" for a in seps]
    for i, row in enumerate(cells):
        if i == 1:
            continue  # the alignment row
        tag = "th" if i == 0 else "td"
        tds = "".join(
            f'<{tag} style="text-align:{align[j] if j < len(align) else "left"}">{html.escape(c)}</{tag}>'
            for j, c in enumerate(row)
        )
        out.append(f"<tr>{tds}</tr>")
    out.append("</table>")
    in_list = False
    for ln in md.splitlines():
        if ln.startswith("|") or not ln.strip():
            continue
        if ln.startswith("- "):
            out.append(("" if in_list else "<ul>") + f"<li>{html.escape(md_unescape(ln[2:]))}</li>")
            in_list = True
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        out.append(f"<p>{html.escape(md_unescape(ln))}</p>")
    if in_list:
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"

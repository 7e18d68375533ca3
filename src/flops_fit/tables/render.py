"""The frames every table shares: a Markdown pipe table and a booktabs LaTeX table."""

from __future__ import annotations

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

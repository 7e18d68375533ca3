"""The frames every table shares: a Markdown pipe table and a booktabs LaTeX table."""

from __future__ import annotations

LONG_TABLE_ROWS = 40
"""Tables with more rows than this become a ``longtable`` (breaks across pages)."""


def md_table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def tex_table(header: list[str], groups: list[list[list[str]]], align: str, caption: str, label: str) -> str:
    """A booktabs table; a ``longtable`` (header repeated on every page) when it is long."""
    head = [" & ".join(header) + " \\\\"]
    body = []
    for i, group in enumerate(groups):
        if i:
            body.append("\\midrule")
        body += [" & ".join(r) + " \\\\" for r in group]
    if sum(len(g) for g in groups) > LONG_TABLE_ROWS:
        lines = [
            "% requires \\usepackage{booktabs} and \\usepackage{longtable}",
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
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{table}[t]",
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
        "\\end{table}",
    ]
    return "\n".join(lines) + "\n"

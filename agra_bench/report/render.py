"""Write the report's documents: a self-contained `index.html` and a Markdown summary.

The HTML embeds its figures as base64 data URIs and carries its own CSS, so it opens from a
laptop, a cluster's file share or an e-mail attachment with no network and no sibling files.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from agra_bench.report.plots import Figure

PERCENT_COLUMNS = {
    "success_rate",
    "goal_progress",
    "ci_low",
    "ci_high",
    "delta_vs_clean",
    "delta_ci_low",
    "delta_ci_high",
    "delta",
    "policy_rate",
    "versus_rate",
    "clean",
    "clean_ci_low",
    "clean_ci_high",
    "mpc",
    "mpc_ci_low",
    "mpc_ci_high",
    *(f"s{severity}" for severity in range(1, 6)),
}

#: Figures scale down to the page and tables scroll inside their own box, so the page itself
#: never scrolls sideways (the browser test checks it at 1280 and 1600 px).
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; overflow-wrap: anywhere; }
.table-box { max-width: 100%; overflow-x: auto; margin-bottom: 1.5em; }
table { border-collapse: collapse; font-size: 13px; overflow-wrap: normal; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; vertical-align: top; max-width: 100%; margin: 0 1.5em 1.5em 0; }
figure img { max-width: 100%; height: auto; }
figure.headline { display: block; max-width: 1100px; }
figcaption { font-size: 12px; color: #555; }
.notes li { color: #8a4b00; }
"""


def _number(value: float) -> str:
    """One decimal, or three significant digits below 1 in magnitude: diagnostics' intervention
    magnitudes are ~1e-3, and one decimal showed them all as 0.0."""
    if pd.isna(value):
        return ""
    return f"{value:.3g}" if 0 < abs(value) < 1 else f"{value:.1f}"


def format_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Percentages with one decimal, p-values with three, other numbers via `_number`, empty cells
    for missing values."""
    shown = frame.copy()
    for column in shown.columns:
        if column in PERCENT_COLUMNS:
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{100 * v:.1f}%")
        elif column.endswith("mcnemar_p"):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
        elif shown[column].dtype.kind == "f":
            shown[column] = shown[column].map(_number)
        elif isinstance(shown[column].dtype, pd.Int64Dtype):  # e.g. train_seed, NA when unknown
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else str(v))
    return shown


def _image_tag(figure: Figure, css_class: str = "") -> str:
    data = base64.b64encode(figure.path.read_bytes()).decode()
    attribute = f' class="{css_class}"' if css_class else ""
    return (
        f'<figure{attribute}><img alt="{html.escape(figure.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(figure.title)}: {html.escape(figure.caption)}</figcaption></figure>"
    )


HEADLINE_TITLE = "Headline: paired differences under task-irrelevant change"


def render_html(
    sections: dict[str, pd.DataFrame],
    figures: list[Figure],
    notes: list[str],
    header: str,
    headline: list[Figure] = (),
) -> str:
    """`headline` figures (the forest plots) lead the page, before the notes and tables."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>agra-bench report</title><style>{CSS}</style></head><body>",
        "<h1>agra-bench report</h1>",
        f"<p>{html.escape(header)}</p>",
    ]
    if headline:
        parts.append(f"<h2>{HEADLINE_TITLE}</h2>")
        parts += [_image_tag(f, "headline") for f in headline]
    if notes:
        parts.append('<h2>Notes</h2><ul class="notes">')
        parts += [f"<li>{html.escape(n)}</li>" for n in notes]
        parts.append("</ul>")
    parts.append("<h2>Figures</h2>")
    parts += [_image_tag(f) for f in figures] or ["<p>No figures.</p>"]
    for title, frame in sections.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if frame.empty:
            parts.append("<p>Nothing to show.</p>")
        else:
            table = format_table(frame).to_html(index=False, border=0, na_rep="", escape=True)
            parts.append(f'<div class="table-box">{table}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_markdown(
    sections: dict[str, pd.DataFrame],
    figures: list[Figure],
    notes: list[str],
    header: str,
    headline: list[Figure] = (),
) -> str:
    lines = ["# agra-bench report", "", header, ""]
    if headline:
        lines += [f"## {HEADLINE_TITLE}", ""]
        for figure in headline:
            lines += [f"![{figure.title}](figures/{Path(figure.path).name})", "", figure.caption, ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    for title, frame in sections.items():
        lines += [f"## {title}", ""]
        lines.append("Nothing to show." if frame.empty else format_table(frame).to_markdown(index=False))
        lines.append("")
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{f.title}](figures/{Path(f.path).name})" for f in figures]
        lines.append("")
    return "\n".join(lines)

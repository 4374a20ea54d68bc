"""``leaderboard/index.html``: the leaderboard's README.md as one page (no network), so the page carries
exactly the README's sections, text, tables and figures. Markdown goes through markdown-it-py, headings
get GitHub's anchors (mdit-py-plugins), so the README's links work on the page too; figures are linked
from the page's folder, where they are written beside it, rather than inlined (inlined, they were nine
tenths of a 3.5 MB page); every table sorts by a header click (numerically on formatted numbers such as
"2,274", "+0.12 [...]", "< 0.001" or a rank "1–3"); a family filter hides the rows of other families in
every table with a family column; cost columns fold away; rows that beat the reference are
highlighted."""

from __future__ import annotations

import re

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1280px; padding: 0 1rem; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; white-space: nowrap; }
th { background: #f3f3f3; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
tr:nth-child(even) td { background: #fafafa; }
tr.beats td { background: #e9f7ec; } tr.below td { background: #fbeaea; }
body.hide-costs .cost { display: none; }
img { max-width: 100%; border: 1px solid #eee; }
tr.filtered { display: none; }
.controls { position: sticky; top: 0; background: #fff; padding: 4px 0; z-index: 2; margin: 0; }
code { background: #f4f4f4; padding: 0 3px; }
"""

# Headers of the columns that say what a run cost rather than how good it is: folded by default.
COST_HEADERS = ("train time", "tokens/s", "peak memory", "labels", "responses sampled", "gen tokens", "paper",
                "pairs × epochs", "config")

_SCRIPT = """
function key(cell) {
  const t = cell.textContent.trim().replace(/,/g, "").replace(/^<\\s*/, "").replace("\\u2212", "-");
  const m = t.match(/^[-+]?\\d+(\\.\\d+)?(e[-+]?\\d+)?/i);
  return m ? parseFloat(m[0]) : null;
}
function sortTable(table, col, dir) {
  const body = table.tBodies[0], rows = Array.from(body.rows);
  const numeric = rows.some(r => key(r.cells[col]) !== null);
  const sign = dir === "asc" ? 1 : -1;
  rows.sort((a, b) => {
    if (numeric) {  // cells without a number ("—") go last in either direction
      const x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === null || y === null) return (x === null) - (y === null);
      return (x - y) * sign;
    }
    const x = a.cells[col].textContent, y = b.cells[col].textContent;
    return (x < y ? -1 : x > y ? 1 : 0) * sign;
  });
  rows.forEach(r => body.appendChild(r));
  table.querySelectorAll("th").forEach((th, i) => th.dataset.dir = i === col ? dir : "");
}
const COSTS = %COSTS%;
document.querySelectorAll("table.sortable").forEach(table => {
  const heads = Array.from(table.querySelectorAll("th"));
  heads.forEach((th, col) => {
    th.addEventListener("click", () => sortTable(table, col, th.dataset.dir === "asc" ? "desc" : "asc"));
    if (COSTS.some(c => th.textContent.toLowerCase().startsWith(c)))
      table.querySelectorAll("tr").forEach(tr => tr.cells[col] && tr.cells[col].classList.add("cost"));
  });
  Array.from(table.tBodies[0].rows).forEach(tr => {
    const text = tr.textContent;
    if (text.includes("\\u25b2")) tr.classList.add("beats"); else if (text.includes("\\u25bc")) tr.classList.add("below");
  });
});
document.getElementById("costs").addEventListener("change", e => document.body.classList.toggle("hide-costs", !e.target.checked));
function filterFamily(family) {
  document.querySelectorAll("table.sortable").forEach(table => {
    const col = Array.from(table.querySelectorAll("th")).findIndex(th => th.textContent.trim() === "family");
    if (col < 0) return;
    Array.from(table.tBodies[0].rows).forEach(tr => {
      const own = tr.cells[col].textContent.trim();
      tr.classList.toggle("filtered", family !== "" && own !== family && own !== "reference");
    });
  });
}
const families = new Set();
document.querySelectorAll("table.sortable").forEach(table => {
  const col = Array.from(table.querySelectorAll("th")).findIndex(th => th.textContent.trim() === "family");
  if (col >= 0) Array.from(table.tBodies[0].rows).forEach(tr => families.add(tr.cells[col].textContent.trim()));
});
const select = document.getElementById("family");
Array.from(families).filter(f => f !== "reference").sort().forEach(f => select.add(new Option(f, f)));
select.addEventListener("change", e => filterFamily(e.target.value));
const m = location.hash.match(/^#sort=([\\w-]+):(\\d+):(asc|desc)$/);
if (m) { const t = document.getElementById(m[1]); if (t) sortTable(t, parseInt(m[2]), m[3]); }
"""


def page(markdown_text: str) -> str:
    """The whole page from the leaderboard's markdown, its figures linked by their names in the page's
    folder. Tables get ids ``t1``, ``t2``, ... in order of appearance; headings GitHub's anchors."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin

    body = MarkdownIt("commonmark").enable("table").use(anchors_plugin, max_level=4).render(markdown_text)
    counter = iter(range(1, 10_000))
    body = re.sub(r"<table>", lambda _: f'<div class="scroll"><table class="sortable" id="t{next(counter)}">', body)
    body = body.replace("</table>", "</table></div>")
    body = body.replace("<img ", '<img loading="lazy" ')
    script = _SCRIPT.replace("%COSTS%", repr(list(COST_HEADERS)).replace("'", '"'))
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>prefzoo leaderboard</title>"
            f"<style>{_STYLE}</style></head>\n<body class=\"hide-costs\">\n"
            f"<p class=\"controls\"><label>family <select id=\"family\"><option value=\"\">all</option></select></label>"
            f" · <label><input type=\"checkbox\" id=\"costs\"> cost columns</label>"
            f" · click a column header to sort</p>\n{body}\n<script>{script}</script>\n</body></html>\n")

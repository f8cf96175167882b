"""The report's HTML: one file, plotly.js inlined once, every image a data URI, every table paged
by a small script over one JSON block."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from rayqa.report.assets import CSS, JS
from rayqa.report.data import Scan, av_fragments, finite, top_items

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f", "#393b79", "#ad494a", "#637939", "#e7ba52", "#7b4173", "#3182bd"]
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["toImage"]}


def e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def colors(defects: list[str]) -> dict[str, str]:
    return {d: PALETTE[k % len(PALETTE)] for k, d in enumerate(defects)}


def _json_script(id_: str, data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str).replace("</", "<\\/")
    return f'<script type="application/json" id="{id_}">{text}</script>'


def _table(header: list[str], rows: list[list], num: set[int] = frozenset(), raw: set[int] = frozenset()) -> str:
    h = "".join(f'<th class="num">{e(c)}</th>' if k in num else f"<th>{e(c)}</th>" for k, c in enumerate(header))
    body = []
    for r in rows:
        cells = []
        for k, c in enumerate(r):
            v = c if k in raw else e(c)
            cells.append(f'<td class="num">{v}</td>' if k in num else f"<td>{v}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plot(fig, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)


def _duration(s: float | None) -> str:
    if s is None:
        return "-"
    s = float(s)
    return f"{s:.1f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.2f} h")


# -- sections ------------------------------------------------------------------------------------------

def overview_section(ov: dict, scan: Scan, palette: dict[str, str]) -> str:
    import plotly.graph_objects as go

    st = ov["items_by_status"]
    cards = [("items", f"{ov['items']:,}", ", ".join(f"{v:,} {k}" for k, v in sorted(st.items())) or "-"),
             ("content", f"{ov['content_h']:.2f} h", "duration of the items that opened"),
             ("findings", f"{ov['findings']:,}", f"on {ov['items_with_findings']:,} items"),
             ("suppressed", f"{ov['suppressed']:,}", "by the policy: shown apart"),
             ("run time", _duration(ov["run_s"]), f"{e(ov['started_at'] or '-')}")]
    h = ['<section id="overview"><h2>Overview</h2><div class="cards">']
    for label, big, small in cards:
        h.append(f'<div class="card"><span class="muted">{e(label)}</span><b>{e(big)}</b>'
                 f'<span class="muted">{e(small)}</span></div>')
    h.append("</div>")
    h.append(f'<p class="muted">run {e(ov["run_id"] or "?")} · rayqa {e(ov["rayqa_version"] or "?")} · commit '
             f'{e((ov["git_commit"] or "?")[:12])} · status {e(ov["status"] or "?")} · {e(scan.root)}</p>')
    left = ["<h3>Items by status</h3>", _table(["status", "items"], [[k, f"{v:,}"] for k, v in sorted(st.items())],
                                              num={1})]
    if ov["failed_reasons"]:
        left += ["<h3>Why items failed</h3>",
                 _table(["reason", "items"], [[k, f"{v:,}"] for k, v in ov["failed_reasons"].items()], num={1})]
    left += ["<h3>Models</h3>", _table(["detector", "model", "version"],
                                       [[m["detector"], m["model"], m["model_version"]] for m in ov["models"]])]
    right = ["<h3>Findings by defect and detector</h3>",
             _table(["defect", "detector", "findings", "suppressed"],
                    [[r["defect"], r["detector"], f"{r['findings']:,}",
                      f"{int(((scan.findings['defect'] == r['defect']) & (scan.findings['detector'] == r['detector']) & scan.findings['suppressed']).sum()):,}"]
                     for r in ov["by_defect_detector"]], num={2, 3})]
    h.append(f'<div class="grid2"><div>{"".join(left)}</div><div>{"".join(right)}</div></div>')
    defects = sorted(set(ov["by_defect"]) | set(ov["suppressed_by_defect"]),
                     key=lambda d: -(ov["by_defect"].get(d, 0) + ov["suppressed_by_defect"].get(d, 0)))
    if defects:
        fig = go.Figure([
            go.Bar(name="findings", x=defects, y=[ov["by_defect"].get(d, 0) for d in defects],
                   marker_color=[palette.get(d, "#888") for d in defects]),
            go.Bar(name="suppressed", x=defects, y=[ov["suppressed_by_defect"].get(d, 0) for d in defects],
                   marker_color="#c0c4cc")])
        fig.update_layout(barmode="stack", height=300, margin=dict(l=40, r=10, t=30, b=80),
                          title="Findings by defect", showlegend=True)
        h.append(_plot(fig, "findings-by-defect"))
    h.append("</section>")
    return "".join(h)


def timeline_section(scan: Scan, palette: dict[str, str], n_items: int) -> str:
    import plotly.graph_objects as go

    rows = top_items(scan.findings, n_items)
    h = ['<section id="timeline"><h2>Timeline</h2>']
    if not rows:
        h.append('<p class="muted">no findings to place on a timeline.</p></section>')
        return "".join(h)
    f = scan.findings[scan.findings["item_id"].astype(str).isin(rows)]
    dur = dict(zip(scan.items["item_id"].astype(str), pd.to_numeric(scan.items["duration_s"], errors="coerce")))
    longest = max([finite(dur.get(i)) or 0 for i in rows] + [float(f["end_s"].max())])
    fig = go.Figure()
    # The item's whole duration, light, under its findings.
    fig.add_trace(go.Bar(y=rows, x=[finite(dur.get(i)) or 0 for i in rows], base=[0] * len(rows), orientation="h",
                         marker_color="#e8eaef", name="duration", hovertemplate="%{y}: %{x:.1f} s<extra></extra>"))
    for d, g in f.groupby("defect"):
        for sup, gg in g.groupby("suppressed"):
            fig.add_trace(go.Bar(
                y=gg["item_id"].astype(str), x=(gg["end_s"] - gg["start_s"]).clip(lower=longest / 400), base=gg["start_s"],
                orientation="h", name=f"{d}{' (suppressed)' if sup else ''}",
                marker=dict(color=palette.get(d, "#888"), opacity=0.35 if sup else 0.95),
                customdata=gg[["end_s", "score"]].to_numpy(),
                hovertemplate=f"{d}: %{{base:.2f}}-%{{customdata[0]:.2f}} s, score %{{customdata[1]:.2f}}<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="overlay", height=max(260, 26 * len(rows) + 90), margin=dict(l=10, r=10, t=30, b=40),
                      title=f"Findings over each item's duration ({len(rows)} items with the most findings)",
                      xaxis_title="seconds from the item's start", yaxis=dict(autorange="reversed", automargin=True))
    h.append(_plot(fig, "timeline-figure"))
    h.append('<p class="muted">Every item has its own timeline in the Items table below '
             '(pale, hatched: suppressed).</p></section>')
    return "".join(h)


def _evidence_card(k: int, row: pd.Series, ev: dict | None) -> str:
    sup = f' · <span class="badge">suppressed by {e(row["suppressed_by"])}</span>' if row["suppressed"] else ""
    h = [f'<div class="ev" id="ev-{k}"><div class="head">{e(row["item_id"])} · {e(row["defect"])} · '
         f'{row["start_s"]:.2f}-{row["end_s"]:.2f} s · score {float(row["score"]):.2f} '
         f'<span class="muted">({e(row["detector"])}, {e(row["model"])} {e(row["model_version"])})</span>{sup}</div>']
    if ev is None:
        h.append('<div class="muted">evidence not cut</div>')
    elif ev.get("unavailable"):
        h.append(f'<div class="unavail">{e(ev["unavailable"])}</div>')
    else:
        if ev["thumbnails"]:
            h.append('<div class="strip">')
            for t in ev["thumbnails"]:
                cap = f'{t["time_s"]:.2f} s · {t["where"]}' + (f' · {t["overlay"]}' if t.get("overlay") else "")
                h.append(f'<figure class="{e(t["where"])}"><img class="thumb" loading="lazy" alt="frame at '
                         f'{t["time_s"]:.2f} s" src="{t["data_uri"]}"><figcaption>{e(cap)}</figcaption></figure>')
            h.append("</div>")
        for s in ev["spectrograms"]:
            h.append(f'<figure style="margin:4px 0"><img class="spectrogram" loading="lazy" alt="spectrogram '
                     f'{s["start_s"]:.1f}-{s["end_s"]:.1f} s" src="{s["data_uri"]}"><figcaption class="muted">'
                     f'spectrogram {s["start_s"]:.1f}-{s["end_s"]:.1f} s, 0-{s["max_hz"] / 1000:g} kHz, absolute level '
                     f'(dark: silence, grey: no audio); dashed cyan: the finding\'s start/end; ticks: seconds'
                     f'</figcaption></figure>')
        for n in ev["notes"]:
            h.append(f'<div class="note">{e(n)}</div>')
    if row["detector"] == "av_sync" or row["defect"] == "av_sync":
        frags = av_fragments(row["details"])
        if frags:
            h.append("<div>out-of-sync fragments: " + ", ".join(
                f'{e(x.get("start_s"))}-{e(x.get("end_s"))} s: {e(x.get("offset_ms"))} ms' for x in frags) + "</div>")
    h.append(f'<details><summary class="muted">details</summary><code>{e(row["details"])}</code></details></div>')
    return "".join(h)


def evidence_section(scan: Scan, picked: list[int], evidence: dict[int, dict], anchors: dict[int, int],
                     per_defect: int, total_active: int, defect_order: list[str]) -> str:
    f = scan.findings
    active = [i for i in picked if not f.at[i, "suppressed"]]
    h = ['<section id="evidence"><h2>Evidence</h2>',
         f'<p class="muted">Frames and spectrograms cut from the media when this report was made, for the '
         f'{len(active):,} highest-scoring findings ({per_defect} per defect at most) of {total_active:,}; the rest '
         f'are in the Findings table. Red outline: inside the finding; thick: its peak frame, with the '
         f'block-corruption map drawn over it.</p>']
    if not active:
        h.append('<p class="muted">no findings.</p>')
    by_defect: dict[str, list[int]] = {d: [] for d in defect_order}
    for i in active:
        by_defect.setdefault(f.at[i, "defect"], []).append(i)  # (in vocabulary order)
    for d, rows in by_defect.items():
        if not rows:
            continue
        h.append(f"<h3>{e(d)} <span class='muted'>({len(rows)} shown)</span></h3>")
        for i in rows:
            h.append(_evidence_card(anchors[i], f.loc[i], evidence.get(i)))
    h.append("</section>")
    return "".join(h)


FILTERS = """<div class="controls">item <input class="q" placeholder="item id contains">
defect <select class="defect"><option value="">all</option>{defects}</select>
detector <select class="detector"><option value="">all</option>{detectors}</select>{rule}
min score <input class="minscore" type="number" min="0" max="1" step="0.05" value="0" style="width:5em">
sort <select class="sort"><option value="item">item, start</option><option value="score">score</option></select>
<button class="prev">◀</button><button class="next">▶</button></div>
<div class="pager"></div><table><thead></thead><tbody></tbody></table>"""


def _options(names: list[str]) -> str:
    return "".join(f'<option value="{k}">{e(n)}</option>' for k, n in enumerate(names))


def items_section(scan: Scan) -> str:
    statuses = sorted(set(scan.items["status"].dropna())) if len(scan.items) else []
    verdicts = ["in_sync", "out_of_sync", "inconclusive"]
    return ('<section id="items"><h2>Items</h2><div id="items-table"><div class="controls">item '
            '<input class="q" placeholder="item id contains"> status <select class="status"><option value="">all'
            '</option>' + "".join(f'<option>{e(s)}</option>' for s in statuses) + '</select> AV sync <select class="av">'
            '<option value="">any</option>' + "".join(f"<option>{v}</option>" for v in verdicts) + '</select>'
            '<label><input class="only" type="checkbox"> with findings only</label> sort <select class="sort">'
            '<option value="id">item</option><option value="findings">findings</option></select>'
            '<button class="prev">◀</button><button class="next">▶</button></div><div class="pager"></div>'
            '<table><thead></thead><tbody></tbody></table></div></section>')


def findings_section(data: dict) -> str:
    return ('<section id="findings"><h2>Findings</h2><p class="muted">Every finding the policy left active; '
            'filter and page through them.</p><div id="findings-table">'
            + FILTERS.format(defects=_options(data["defects"]), detectors=_options(data["detectors"]), rule="")
            + "</div></section>")


def suppressed_section(scan: Scan, data: dict, picked: list[int], evidence: dict[int, dict],
                       anchors: dict[int, int], policy_source: str | None) -> str:
    f = scan.findings
    n = int(f["suppressed"].sum())
    h = ['<section id="suppressed"><h2>Suppressed by the policy</h2>']
    if policy_source:
        h.append(f'<p class="muted">policy: {e(policy_source)}</p>')
    if not scan.policy_rules and not n:
        h.append('<p class="muted">No policy: nothing is suppressed (<code>rayqa report --policy P</code>).</p>'
                 '</section>')
        return "".join(h)
    counts = f.loc[f["suppressed"], "suppressed_by"].value_counts()
    h.append(_table(["rule", "profile", "conditions", "suppressed"],
                    [[r["name"], r["profile"] or "all items", r["conditions"], f"{int(counts.get(r['name'], 0)):,}"]
                     for r in scan.policy_rules], num={3}))
    if n:
        rule = ' rule <select class="rule"><option value="">all</option>' + _options(data["rules"]) + "</select>"
        h.append('<h3>Suppressed findings</h3><div id="suppressed-table">'
                 + FILTERS.format(defects=_options(data["defects"]), detectors=_options(data["detectors"]), rule=rule)
                 + "</div>")
        sup = [i for i in picked if f.at[i, "suppressed"]]
        if sup:
            h.append("<h3>Evidence for some suppressed findings</h3>")
            h.extend(_evidence_card(anchors[i], f.loc[i], evidence.get(i)) for i in sup)
    h.append("</section>")
    return "".join(h)


def av_sync_section(scan: Scan, max_rows: int = 500) -> str:
    import plotly.graph_objects as go

    items = scan.items
    if "av_sync_verdict" not in items.columns or not items["av_sync_verdict"].notna().any():
        return ('<section id="av-sync"><h2>AV sync</h2><p class="muted">The av_sync detector did not run on these '
                'items (<code>--detectors av_sync</code>).</p></section>')
    judged = items[items["av_sync_verdict"].notna()]
    counts = judged["av_sync_verdict"].value_counts()
    h = ['<section id="av-sync"><h2>AV sync</h2>',
         _table(["verdict", "items"], [[k, f"{int(v):,}"] for k, v in counts.items()], num={1})]
    off = pd.to_numeric(judged["av_offset_ms"], errors="coerce").dropna()
    if len(off):
        fig = go.Figure(go.Histogram(x=off, nbinsx=40, marker_color="#2f5bd3"))
        fig.update_layout(height=240, margin=dict(l=40, r=10, t=30, b=40), title="Item offsets (ms; positive: "
                          "sound late)", xaxis_title="offset ms")
        h.append(_plot(fig, "av-offsets"))
    f = scan.findings
    frags = {}
    for r in f[f["detector"] == "av_sync"].itertuples():
        frags.setdefault(str(r.item_id), []).extend(av_fragments(r.details))
    bad = judged[judged["av_sync_verdict"] != "in_sync"].sort_values("item_id")
    rows = []
    for r in bad.head(max_rows).itertuples():
        fr = frags.get(str(r.item_id), [])
        rows.append([r.item_id, f'<span class="badge {e(r.av_sync_verdict)}">{e(r.av_sync_verdict)}</span>',
                     "-" if pd.isna(r.av_offset_ms) else f"{r.av_offset_ms:.0f}",
                     e(", ".join(f"{x.get('start_s')}-{x.get('end_s')} s: {x.get('offset_ms')} ms" for x in fr) or "-")])
    if rows:
        h.append("<h3>Items not in sync</h3>")
        h.append(_table(["item", "verdict", "offset ms", "out-of-sync fragments (offset)"], rows, num={2}, raw={1, 3}))
        if len(bad) > max_rows:
            h.append(f'<p class="muted">… {len(bad) - max_rows:,} more: filter the Items table by AV sync.</p>')
    h.append("</section>")
    return "".join(h)


def diff_section(d, max_rows: int = 500) -> str:
    from rayqa.diff import CHANGES

    h = [f'<section id="diff"><h2>Changes since the other scan</h2><p class="muted">compared {d.items_compared:,} '
         f'items with run {e(d.run_a or "?")} (moved: start or end by more than {d.tolerance_s:g} s)'
         + (f"; not compared: {len(d.items_only_a):,} items only there, {len(d.items_only_b):,} only here"
            if d.items_only_a or d.items_only_b else "") + "</p>"]
    h.append(_table(["defect", *CHANGES, "unchanged"], d.by_defect.values.tolist(), num={1, 2, 3, 4}))
    if len(d.changes):
        span = lambda a, b: "-" if pd.isna(a) else f"{a:.2f}-{b:.2f}"
        rows = [[r.change, r.item_id, r.defect, span(r.start_s_a, r.end_s_a), span(r.start_s_b, r.end_s_b),
                 "-" if pd.isna(r.delta_start_s) else f"{r.delta_start_s:+.2f}",
                 "-" if pd.isna(r.delta_end_s) else f"{r.delta_end_s:+.2f}"] for r in d.changes.head(max_rows).itertuples()]
        h.append("<h3>Changes</h3>" + _table(["change", "item", "defect", "before (s)", "now (s)", "Δstart", "Δend"],
                                              rows, num={5, 6}))
        if len(d.changes) > max_rows:
            h.append(f'<p class="muted">… {len(d.changes) - max_rows:,} more (<code>rayqa diff --out FILE</code>).</p>')
    else:
        h.append('<p class="muted">no changes.</p>')
    h.append("</section>")
    return "".join(h)


def page(title: str, sections: list[str], data: dict, palette: dict[str, str], nav: list[tuple[str, str]]) -> str:
    from plotly.offline import get_plotlyjs

    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    links = "".join(f'<a href="#{a}">{e(t)}</a>' for a, t in nav)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(title)}</title>"
            f"<style>{CSS}</style><script>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{e(title)}</h1><nav>{links}<span class='muted' style='color:#9ca3af'>made {made}"
            f"</span></nav></header><main>{''.join(sections)}</main>"
            f"{_json_script('rayqa-data', data)}{_json_script('rayqa-colors', palette)}<script>{JS}</script>"
            "</body></html>")

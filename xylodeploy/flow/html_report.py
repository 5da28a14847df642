"""``report.html``: one self-contained page per pipeline run (tables + plots inlined as base64 PNG).

Built from the ``report.json`` document of `xylodeploy.flow.pipeline_report`: the chip, summary, validation
stages and pairs, compile stages, quantization per population, time constants, resources, metrics
and every PNG plot listed under ``files``. No external resources: the page opens offline. A tiny
inline script counts images that failed to decode into ``body[data-broken-images]`` (for tests).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xylodeploy.chips import get_chip
from xylodeploy.io.files import atomic_write

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
.ok{color:#070}.bad{color:#b00}"""
_SCRIPT = """window.addEventListener('load',function(){var b=0;for(const i of document.images){
if(!i.complete||i.naturalWidth===0){b++}}document.body.setAttribute('data-broken-images',String(b));});"""


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return {True: "yes", False: "no", None: "–"}[v]
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def table(rows: Iterable[dict], columns: list[str] | None = None, caption: str = "") -> str:
    """An HTML table of ``rows`` (dicts) with ``columns`` (default: the first row's keys)."""
    rows = list(rows)
    if not rows:
        return ""
    cols = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>{body}</table>"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def _summary(doc: dict) -> list[dict]:
    s = doc.get("summary", {})
    exact = s.get("bit_exact_reference_xylosim_exact")
    return [
        {"item": "float test accuracy", "value": _pct(s.get("float_test_accuracy"))},
        {"item": f"deployed test accuracy ({s.get('deployed_on')})", "value": _pct(s.get("deployed_test_accuracy"))},
        {"item": "deployed − float", "value": "–" if s.get("delta_pp") is None else f"{s['delta_pp']:+.2f} pp"},
        {"item": "integer stages bit-exact", "value": _fmt(exact)},
        {"item": "run time", "value": f"{doc.get('seconds', 0):.0f} s"},
        {"item": "xylodeploy", "value": doc.get("xylodeploy_version", "")},
    ]


def _plots(doc: dict) -> str:
    out = []
    for name, path in doc.get("files", {}).items():
        p = Path(str(path))
        if p.suffix.lower() == ".png" and p.is_file():
            data = base64.b64encode(p.read_bytes()).decode("ascii")
            out.append(
                f'<h3>{html.escape(name)}</h3><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
            )
    return "".join(out)


def _metrics(doc: dict) -> str:
    m = doc.get("metrics")
    if not m:
        return ""
    keys = ("dense_synops", "effective_synops", "membrane_updates", "activation_sparsity", "parameters",
            "nonzero_weights", "connection_sparsity", "footprint_bytes", "n_clips")  # fmt: skip
    rows = [{"metric": k, "per inference": m.get(k)} for k in keys if k in m]
    rates = [{"population": k, "firing rate [Hz]": v} for k, v in m.get("firing_rate_hz", {}).items()]
    return "<h2>Metrics (NeuroBench-style, reference simulator)</h2>" + table(rows) + table(rates)


def _energy(doc: dict) -> str:
    e = doc.get("energy")
    if not e:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in e.get("lines", []))
    return f"<h2>Energy (estimate, no board measured)</h2><ul>{items}</ul>"


def render(doc: dict) -> str:
    """The HTML page of a pipeline ``report.json`` document."""
    chip = get_chip(doc["chip"])
    title = f"xylodeploy report: {chip.title} ({chip.part_number})"
    val = doc.get("validation", {})
    stages = [{"stage": k, **v} for k, v in val.get("stages", {}).items()]
    q = doc.get("quantization", {})
    q_cols = ["population", "role", "method", "shifts", "n_weights", "clipped_weights", "zeroed_weights",
              "weight_snr_db", "threshold_range", "neurons_at_risk"]  # fmt: skip
    tc = q.get("time_constants", {})
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Chip <b>{html.escape(chip.title)}</b> ({html.escape(chip.name)}, {html.escape(chip.part_number)}).</p>",
        "<h2>Summary</h2>", table(_summary(doc)),
        "<h2>Validation on the test split</h2>", table(stages, ["stage", "accuracy", "n_clips", "seconds"]),
        table(val.get("pairs", []), ["a", "b", "prediction_agreement", "bit_exact", "first_divergence"]),
        "<h2>Compile stages</h2>", table(doc.get("stages", []), ["name", "seconds", "settings"]),
        f"<h2>Quantization per population</h2><p>weight shifts: {html.escape(_fmt(q.get('weight_shift')))}</p>",
        table(q.get("layers", []), q_cols),
        f"<h2>Time constants (dt = {html.escape(_fmt(tc.get('dt')))} s)</h2>", table(tc.get("rows", [])),
        "<h2>Resources</h2>", table(doc.get("resources", [])),
        _metrics(doc),
        _energy(doc),
        "<h2>Plots</h2>", _plots(doc),
    ]  # fmt: skip
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script>"
    return f"<!DOCTYPE html><html lang='en'><head>{head}</head><body>{''.join(parts)}</body></html>"


def write_html(doc: dict, path: str | Path) -> Path:
    """Write `render(doc)` atomically to ``path``."""
    with atomic_write(path, "w") as fh:
        fh.write(render(doc))
    return Path(path)

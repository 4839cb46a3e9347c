"use strict";
// The memory timeline as inline SVG: resident memory over time, the peak marked, and
// below it one lane per range nesting depth plus the Numba compiles, on the same axis.

const PLOT = { left: 64, right: 16, top: 14, height: 200, lane: 16, gap: 22 };

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

function byteStep(maxBytes) {
  const mib = 1024 * 1024;
  let unit = maxBytes >= 4 * 1024 * mib ? 1024 * mib : maxBytes >= 4 * mib ? mib : 1024;
  return niceStep(maxBytes / unit, 5) * unit;
}

function memoryPlot(D, width) {
  const P = D.page, m = D.memory;
  const rows = P.rss || [];
  const lanes = (P.lanes && P.lanes.lanes) || [];
  const names = (P.lanes && P.lanes.names) || [];
  const nameOf = (ni) => (ni < 0 ? "ranges of several names" : names[ni]);
  const compiles = (D.jit && D.jit.compiles) || [];
  const logs = (D.logs && D.logs.records) || [];
  const nLanes = lanes.length + (compiles.length ? 1 : 0) + (logs.length ? 1 : 0);
  const span = Math.max(P.span_s || 0, 1e-6);
  const W = Math.max(width, 400);
  const plotW = W - PLOT.left - PLOT.right;
  const laneTop = PLOT.top + PLOT.height + PLOT.gap;
  const H = laneTop + nLanes * (PLOT.lane + 2) + 6;
  const X = (t) => PLOT.left + (t / span) * plotW;
  let ymax = m.peak_rss || 0;
  for (const r of rows) ymax = Math.max(ymax, r[1] + r[2]);
  ymax = ymax * 1.08 || 1;
  const Y = (b) => PLOT.top + PLOT.height - (b / ymax) * PLOT.height;
  const root = svg("svg", { id: "memory-plot", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "memory over time" });

  const axis = svg("g", { class: "axis" });
  const ys = byteStep(ymax);
  for (let b = 0; b <= ymax; b += ys) {
    axis.append(svg("line", { x1: PLOT.left, x2: W - PLOT.right, y1: Y(b), y2: Y(b), stroke: "#eef2f7" }),
      svg("text", { x: PLOT.left - 6, y: Y(b) + 4, "text-anchor": "end", text: fmtBytes(b) }));
  }
  const xs = niceStep(span, Math.max(2, Math.floor(plotW / 110)));
  for (let t = 0; t <= span + 1e-9; t += xs) {
    axis.append(svg("line", { x1: X(t), x2: X(t), y1: PLOT.top + PLOT.height, y2: PLOT.top + PLOT.height + 4, stroke: "#94a3b8" }),
      svg("text", { x: X(t), y: PLOT.top + PLOT.height + 16, "text-anchor": "middle", text: fmtS(t) }));
  }
  axis.append(svg("line", { x1: PLOT.left, x2: W - PLOT.right, y1: Y(0), y2: Y(0), stroke: "#94a3b8" }));
  root.append(axis);

  // Top-level ranges shade the plot, so a stage's memory reads off directly.
  const top = lanes.find((l) => l.depth === 0);
  if (top) {
    const g = svg("g", { "fill-opacity": 0.09 });
    for (const [ni, s, e] of top.blocks) {
      g.append(svg("rect", { x: X(s), y: PLOT.top, width: Math.max(X(e) - X(s), 0.5), height: PLOT.height, fill: `hsl(${hashHue(nameOf(ni))},70%,45%)` }));
    }
    root.append(g);
  }
  if (rows.length) {
    const total = rows.map((r) => `${X(r[0]).toFixed(1)},${Y(r[1] + r[2]).toFixed(1)}`).join(" ");
    root.append(svg("polyline", { class: "rss-line", points: total, fill: "none", stroke: "#2563eb", "stroke-width": 1.6 }));
    if (rows.some((r) => r[2] > 0)) {
      const own = rows.map((r) => `${X(r[0]).toFixed(1)},${Y(r[1]).toFixed(1)}`).join(" ");
      root.append(svg("polyline", { points: own, fill: "none", stroke: "#60a5fa", "stroke-dasharray": "4 3", "stroke-width": 1.2 }));
    }
  }
  if (m.available && m.peak_rss) {
    const px = X(m.peak_t), py = Y(m.peak_rss);
    const label = `peak ${fmtBytes(m.peak_rss)} at ${fmtS(m.peak_t)}`;
    const right = px > W - 200;
    root.append(svg("circle", { id: "memory-peak", cx: px, cy: py, r: 4.5, fill: "#dc2626" }),
      svg("text", { x: right ? px - 8 : px + 8, y: Math.max(py - 6, 10), "text-anchor": right ? "end" : "start", fill: "#b91c1c", text: label }));
  }
  lanes.forEach((lane, k) => root.append(laneRow(lane.blocks.map(([ni, s, e, n]) => [nameOf(ni), s, e, n]),
    laneTop + k * (PLOT.lane + 2), `depth ${lane.depth}`, X)));
  if (compiles.length) {
    const blocks = compiles.map((c) => [`${c.function} ${c.signature}`, c.start_t, c.start_t + c.inclusive_s, 1]);
    root.append(laneRow(blocks, laneTop + lanes.length * (PLOT.lane + 2), "numba", X, "#fbbf24"));
  }
  if (logs.length) {
    // The program's log records, each a tick at its time; warnings and worse in red.
    const y = laneTop + (lanes.length + (compiles.length ? 1 : 0)) * (PLOT.lane + 2);
    const g = svg("g", { class: "lane", id: "log-lane" }, svg("text", { x: PLOT.left - 6, y: y + PLOT.lane - 4, "text-anchor": "end", class: "dim", text: "log" }));
    for (const r of logs) {
      const bad = ["WARNING", "ERROR", "CRITICAL"].includes(r.level);
      g.append(svg("rect", { class: "log-tick", x: X(r.t) - 0.6, y, width: 1.2, height: PLOT.lane, fill: bad ? "#dc2626" : "#64748b" },
        svg("title", { text: `${fmtS(r.t)} ${r.level} ${r.logger}: ${r.message}\n${where(r.file, r.line)} (${r.thread})` })));
    }
    root.append(g);
  }
  root.append(cursorLayer(rows, X, Y, span, W, H));
  return root;
}

function laneRow(blocks, y, label, X, color) {
  const g = svg("g", { class: "lane" }, svg("text", { x: PLOT.left - 6, y: y + PLOT.lane - 4, "text-anchor": "end", class: "dim", text: label }));
  for (const [name, s, e, n] of blocks) {
    const x = X(s), w = Math.max(X(e) - x, 0.8);
    const title = `${n > 1 ? n + "× " : ""}${name}\n${fmtS(s)} – ${fmtS(e)} (${fmtS(e - s)})`;
    const r = svg("rect", { x, y, width: w, height: PLOT.lane, rx: 2, fill: color || `hsl(${hashHue(name)},60%,62%)` }, svg("title", { text: title }));
    g.append(r);
    if (w > 40) {
      const chars = Math.floor((w - 6) / 6);
      const s2 = name.length > chars ? name.slice(0, chars - 1) + "…" : name;
      g.append(svg("text", { x: x + 3, y: y + PLOT.lane - 4, "pointer-events": "none", text: s2 }));
    }
  }
  return g;
}

function cursorLayer(rows, X, Y, span, W, H) {
  const line = svg("line", { y1: PLOT.top, y2: H, stroke: "#64748b", "stroke-dasharray": "2 2", visibility: "hidden" });
  const text = svg("text", { y: PLOT.top + 10, visibility: "hidden" });
  const hit = svg("rect", { x: PLOT.left, y: 0, width: W - PLOT.left - PLOT.right, height: PLOT.top + PLOT.height, fill: "transparent" });
  hit.addEventListener("mousemove", (e) => {
    const box = hit.ownerSVGElement.getBoundingClientRect();
    const px = e.clientX - box.left;
    const t = ((px - PLOT.left) / (W - PLOT.left - PLOT.right)) * span;
    let best = null;
    for (const r of rows) if (r[0] <= t) best = r; else break;
    line.setAttribute("x1", px); line.setAttribute("x2", px);
    text.setAttribute("x", px + 6);
    text.textContent = `${fmtS(t)}` + (best ? `  ${fmtBytes(best[1] + best[2])}` : "");
    line.setAttribute("visibility", "visible"); text.setAttribute("visibility", "visible");
  });
  hit.addEventListener("mouseleave", () => { line.setAttribute("visibility", "hidden"); text.setAttribute("visibility", "hidden"); });
  // The hit area stops above the lanes, so their blocks keep their own tooltips.
  return svg("g", null, line, text, hit);
}

function memorySection(D) {
  const m = D.memory, P = D.page;
  const kids = [];
  if (!m.available && quiet(D, "memory") && !P.lanes.lanes.length) return null;
  if (!m.available) kids.push(noteBox(`Memory was not sampled: ${m.unavailable_reason}`));
  else {
    kids.push(el("div", { class: "cards" },
      card("Peak RSS", fmtBytes(m.peak_rss)), card("Peak at", fmtS(m.peak_t)),
      card("Final RSS", m.final_rss ? fmtBytes(m.final_rss) : "n/a"),
      card("Samples", `${int(P.rss_points)} every ${fmtS(m.interval_s)}`)));
    if (m.peak_source) kids.push(el("p", { class: "dim", text: `Peak: ${m.peak_source}.` }));
  }
  const hasLanes = P.lanes && P.lanes.lanes.length;
  if (!P.rss.length && !hasLanes && !(D.jit.compiles || []).length && !((D.logs && D.logs.records) || []).length) return section("memory", "Memory", ...kids);
  const box = el("div", { id: "memory-box" });
  kids.push(box);
  if (hasLanes || (D.jit.compiles || []).length) {
    kids.push(el("p", { class: "dim", text: `Below the plot: diagkit.range stages by nesting depth (${int(P.range_events)} events; ranges too short to see are merged, hover for counts)`
      + ((D.jit.compiles || []).length ? " and Numba compiles." : ".") }));
  }
  const drawPlot = () => box.replaceChildren(memoryPlot(D, box.clientWidth || 900));
  requestAnimationFrame(drawPlot);
  let last = 0;
  new ResizeObserver(() => { if (Math.abs(box.clientWidth - last) > 30) { last = box.clientWidth; drawPlot(); } }).observe(box);
  return section("memory", "Memory", ...kids);
}

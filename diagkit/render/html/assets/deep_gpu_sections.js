"use strict";
// The optional sections: the instrumented --deep passes and the GPU trace.

const STATS_COLS = (key, label) => [
  { key, label, num: true, sort: (r) => r[key].total_s, fmt: (v) => fmtS(v.total_s) },
  { key: `${key}_n`, label: "count", num: true, sort: (r) => r[key].count, fmt: (_, r) => int(r[key].count) },
  { key: `${key}_mean`, label: "mean", num: true, sort: (r) => r[key].mean_s, fmt: (_, r) => fmtS(r[key].mean_s) },
  { key: `${key}_max`, label: "max", num: true, sort: (r) => r[key].max_s, fmt: (_, r) => fmtS(r[key].max_s) },
];

function deepSection(D) {
  const d = D.deep;
  if (!d) return null;
  if (!d.available) return section("deep", "Deep passes", noteBox(d.unavailable_reason));
  const kids = [];
  for (const n of d.notes || []) kids.push(noteBox(n));
  if (d.diverged) kids.push(noteBox(`The instrumented pass did not run like the sampled one: ${(d.divergence || []).join("; ")}`, "err"));
  if ((d.unresolved || []).length) kids.push(noteBox(`Not found: ${d.unresolved.join(", ")}`));
  if ((d.passes || []).length) {
    kids.push(dataTable([{ key: "name", label: "pass" }, { key: "tools", label: "tools", fmt: (v) => (v || []).join(", ") },
      { key: "wall_s", label: "wall", num: true, fmt: fmtS }, { key: "outcome", label: "outcome" },
      { key: "jit_disabled", label: "JIT", fmt: (v) => (v ? "disabled" : "") }, { key: "complete", label: "complete", fmt: (v) => (v ? "yes" : "cut short") }],
    d.passes, { filter: false }));
  }
  const sources = Object.entries(d.sources || {});
  if (sources.length) kids.push(el("details", null, el("summary", { text: "Which pass each number comes from" }), kv(sources)));
  if ((d.calls || []).length) {
    kids.push(el("h3", { text: "Calls (exact counts; times inflated by the tracer)" }), dataTable([
      { key: "calls", label: "calls", num: true, fmt: int }, { key: "primitive_calls", label: "primitive", num: true, fmt: int },
      { key: "own_s", label: "own", num: true, fmt: fmtS }, { key: "total_s", label: "total", num: true, fmt: fmtS },
      { key: "function", label: "function" }, { key: "file", label: "where", wrap: true, fmt: (_, r) => where(r.file, r.line) }],
    d.calls, { sortKey: "total_s" }));
  }
  for (const lp of d.lines || []) {
    kids.push(el("h3", { text: `Lines of ${lp.function} — ${lp.status}` }), el("div", { class: "dim", text: `${where(lp.file, lp.line)}; ${lp.reason}; ${fmtS(lp.total_s)} traced` }));
    if ((lp.lines || []).length) {
      kids.push(dataTable([{ key: "line", label: "line", num: true }, { key: "hits", label: "hits", num: true, fmt: int },
        { key: "seconds", label: "time", num: true, fmt: fmtS }, { key: "share", label: "share", num: true, cell: (r) => heatCell(r.share, pct(r.share)) },
        { key: "source", label: "source", cell: (r) => el("td", { class: "src", text: r.source }) }], lp.lines, { sortKey: "line", desc: false, filter: false }));
    }
  }
  const a = d.allocations;
  if (a) {
    kids.push(el("h3", { text: "Allocations (tracemalloc)" }));
    if (!a.available) kids.push(noteBox(a.unavailable_reason));
    else {
      kids.push(el("div", { class: "dim", text: `traced peak ${fmtBytes(a.traced_peak)}; ${fmtBytes(a.snapshot_bytes)} live at ${fmtS(a.snapshot_t)}` }),
        dataTable([{ key: "bytes", label: "bytes", num: true, fmt: fmtBytes }, { key: "count", label: "blocks", num: true, fmt: int },
          { key: "file", label: "where", wrap: true, fmt: (_, r) => where(r.file, r.line) }, { key: "source", label: "source", wrap: true },
          { key: "origin", label: "in library", wrap: true }], a.sites, { sortKey: "bytes" }));
      if ((a.largest_traceback || []).length) {
        kids.push(el("details", null, el("summary", { text: `Largest single allocation: ${fmtBytes(a.largest_bytes)}` }),
          a.largest_traceback.map((f) => el("div", null, el("code", { text: f.function }), el("span", { class: "dim", text: ` ${where(f.file, f.line)} ${f.source || ""}` })))));
      }
    }
  }
  for (const ml of d.memory_lines || []) {
    kids.push(el("h3", { text: `Memory by line of ${ml.function} — ${ml.status}` }), dataTable([
      { key: "line", label: "line", num: true }, { key: "increment", label: "added", num: true, fmt: fmtBytes },
      { key: "peak_rss", label: "RSS after", num: true, fmt: fmtBytes }, { key: "hits", label: "hits", num: true, fmt: int },
      { key: "source", label: "source", cell: (r) => el("td", { class: "src", text: r.source }) }], ml.lines, { sortKey: "line", desc: false, filter: false }));
  }
  return section("deep", "Deep passes (exact counts)", ...kids);
}

function gpuSection(D) {
  const g = D.gpu;
  if (!g) return null;
  if (!g.available) return section("gpu", "GPU", noteBox(`No GPU data: ${g.unavailable_reason}`));
  const kids = [el("p", { class: "dim", text: `Source: ${g.source}${g.source_detail ? " — " + g.source_detail : ""}. ${g.gpu_status || ""}` })];
  for (const n of [...(g.notes || []), ...(g.cannot_see || []).map((c) => `Cannot see: ${c}`)]) kids.push(noteBox(n));
  for (const w of g.warnings || []) kids.push(noteBox(w.message, "err"));
  kids.push(el("div", { class: "cards" }, card("Window", fmtS(g.window_s)), card("Kernels", fmtS(g.kernel_s)),
    card("Copies", `${fmtS(g.copy_s)} · ${fmtBytes(g.copy_bytes)}`),
    g.idle ? card("GPU idle", `${pct(g.idle.idle_share)} of window`) : null,
    g.memory ? card("Pool peak", fmtBytes(g.memory.pool_used_peak_bytes)) : null));
  if ((g.devices || []).length) {
    kids.push(dataTable([{ key: "id", label: "device", num: true }, { key: "name", label: "name" }, { key: "compute_capability", label: "cc" },
      { key: "memory_bytes", label: "memory", num: true, fmt: fmtBytes }, { key: "multiprocessors", label: "SMs", num: true }], g.devices, { filter: false }));
  }
  if ((g.kernels || []).length) {
    kids.push(el("h3", { text: "Kernels" }), dataTable([...STATS_COLS("time", "total"),
      { key: "share", label: "share", num: true, cell: (r) => heatCell(r.share, pct(r.share)) },
      { key: "name", label: "kernel", wrap: true }, { key: "grid", label: "grid" }, { key: "block", label: "block" }], g.kernels, { sortKey: "share" }));
  }
  const copies = [...(g.copies || []), ...(g.memsets ? [g.memsets] : [])];
  if (copies.length) {
    kids.push(el("h3", { text: "Transfers" }), dataTable([{ key: "operation", label: "operation" }, ...STATS_COLS("time", "total"),
      { key: "bytes", label: "bytes", num: true, sort: (r) => r.bytes.total, fmt: (v) => fmtBytes(v.total) },
      { key: "bytes_per_s", label: "rate", num: true, fmt: (v) => (v ? `${fmtBytes(v)}/s` : "") },
      { key: "host_memory", label: "host memory", fmt: (v) => Object.entries(v || {}).map(([k, n]) => `${k} ${n}`).join(", ") },
      { key: "measured", label: "timed on" }], copies, { sortKey: "time", filter: false }));
  }
  const ranges = [...(g.ranges || []), ...(g.outside_ranges ? [g.outside_ranges] : [])];
  if (ranges.length) {
    kids.push(el("h3", { text: "Ranges (host time, and the GPU work launched inside)" }), dataTable([
      { key: "name", label: "range", wrap: true }, ...STATS_COLS("time", "host"),
      { key: "kernel_count", label: "kernels", num: true, fmt: int }, { key: "kernel_s", label: "kernel time", num: true, fmt: fmtS },
      { key: "copy_count", label: "copies", num: true, fmt: int }, { key: "copy_bytes", label: "copied", num: true, fmt: fmtBytes }], ranges, { sortKey: "time" }));
  }
  if ((g.kernels_by_range || []).length) {
    kids.push(el("h3", { text: "Kernels by innermost range" }), dataTable([{ key: "range", label: "range", wrap: true }, { key: "kernel", label: "kernel", wrap: true },
      ...STATS_COLS("time", "total"), { key: "share", label: "share", num: true, fmt: pct }], g.kernels_by_range, { sortKey: "share" }));
  }
  if (g.idle && (g.idle.gaps || []).length) {
    kids.push(el("h3", { text: "Longest GPU idle gaps" }), dataTable([{ key: "start_t", label: "from", num: true, fmt: fmtS },
      { key: "seconds", label: "idle", num: true, fmt: fmtS }, { key: "during", label: "during range", wrap: true }], g.idle.gaps, { sortKey: "seconds", filter: false }));
  }
  if ((g.api_calls || []).length) {
    kids.push(el("details", null, el("summary", { text: `CUDA API calls (${g.api_calls.length})` }), dataTable([{ key: "name", label: "call" },
      ...STATS_COLS("time", "total"), { key: "share", label: "share", num: true, fmt: pct }], g.api_calls, { sortKey: "share" })));
  }
  return section("gpu", "GPU", ...kids);
}

function daskSection(D) {
  const d = D.dask;
  if (!d) return null;
  return section("dask", "Dask workers",
    el("p", { class: "dim", text: `${d.scheduler}: ${int((d.workers || []).length)} workers sampled from their Nannies for ${fmtS(d.window_s)}; ${int(d.tasks)} tasks in the task stream.` }),
    dataTable([
      { key: "name", label: "worker" }, { key: "pid", label: "pid", num: true, fmt: int },
      { key: "tasks", label: "tasks", num: true, fmt: int }, { key: "compute_s", label: "compute", num: true, fmt: fmtS },
      { key: "transfer_s", label: "transfer", num: true, fmt: fmtS }, { key: "busy_share", label: "busy", num: true, fmt: pct },
      { key: "peak_rss", label: "peak RSS", num: true, fmt: fmtBytes }, { key: "problem", label: "note", wrap: true }],
    d.workers || [], { sortKey: "compute_s" }),
    el("h3", { text: "Tasks by prefix" }),
    dataTable([
      { key: "share", label: "share", num: true, fmt: pct }, { key: "count", label: "count", num: true, fmt: int },
      { key: "total_s", label: "total", num: true, fmt: fmtS }, { key: "mean_s", label: "mean", num: true, fmt: fmtS },
      { key: "max_s", label: "max", num: true, fmt: fmtS }, { key: "transfer_s", label: "transfer", num: true, fmt: fmtS },
      { key: "workers", label: "workers", num: true, fmt: int }, { key: "prefix", label: "prefix" }],
    d.prefixes || [], { sortKey: "total_s" }));
}

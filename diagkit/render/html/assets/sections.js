"use strict";
// The report's core sections: headline, time, source heat, ranges, Numba, warnings,
// the exception and stacks, environment.

// Sections left out for one shared reason (an imported trace has no samples, no memory, ...)
// are named once in the summary instead of one note each.
const SECTION_NAMES = { time: "time", memory: "memory", ranges: "ranges", jit: "Numba", numerics: "warnings", environment: "environment" };

function groupUnavailable(D) {
  const by = {};
  for (const k of Object.keys(SECTION_NAMES)) {
    if (D[k] && !D[k].available) (by[D[k].unavailable_reason] = by[D[k].unavailable_reason] || []).push(k);
  }
  D.page.quietKeys = new Set();
  D.page.quietReasons = {};
  for (const [reason, keys] of Object.entries(by)) {
    if (keys.length < 3) continue;
    keys.forEach((k) => D.page.quietKeys.add(k));
    D.page.quietReasons[reason] = keys.map((k) => SECTION_NAMES[k]);
  }
}

function quiet(D, key) {
  return D.page.quietKeys && D.page.quietKeys.has(key);
}

function card(k, v, cls) {
  return el("div", { class: `card ${cls || ""}` }, el("div", { class: "k", text: k }), el("div", { class: "v", text: v }));
}

function header(D) {
  const argv = (D.target.argv || []).join(" ");
  return el("header", null,
    el("h1", { text: `diag ${D.target.kind === "import" ? "gpu-trace" : "profile"}: ${argv}` }),
    el("div", { class: "sub", text: `${(D.command || []).join(" ")} · ${D.created} · diagkit ${D.diagkit_version} · pid ${D.target.pid || "n/a"} · ${D.target.cwd}` }));
}

function headline(D) {
  const o = D.outcome, ok = o.kind === "exit" && o.exit_code === 0;
  const neutral = o.kind === "imported" || o.kind === "detached";
  const cpu = (o.cpu_user_s || 0) + (o.cpu_system_s || 0);
  const cards = [
    card("Outcome", o.detail || o.kind, ok ? "good" : neutral ? "" : "bad"),
    card("Wall", fmtS(o.wall_s)),
    cpu ? card("CPU", fmtS(cpu)) : null,
  ];
  if (D.memory.available) cards.push(card("Peak RSS", fmtBytes(D.memory.peak_rss)));
  if (D.time.available) {
    const slow = D.time.slow_rate_hz ? `, ${D.time.slow_rate_hz} Hz after ${D.time.slow_after_s} s` : "";
    cards.push(card("Samples", `${int(D.time.samples)} at ${D.time.rate_hz} Hz${slow}`));
  }
  const hot = (D.time.functions || []).slice().sort((a, b) => b.own_s - a.own_s)[0];
  if (hot) cards.push(card("Hottest function", `${hot.name} ${pct(hot.own_share)}`));
  if ((D.jit.compiles || []).length) cards.push(card("Numba compiling", `${fmtS(D.jit.total_compile_s)} · ${D.jit.compiles.length}`));
  if (D.numerics.total) cards.push(card("Warnings", int(D.numerics.total), "bad"));
  if (D.gpu && D.gpu.available) cards.push(card("GPU kernels", fmtS(D.gpu.kernel_s)), card("GPU copies", `${fmtS(D.gpu.copy_s)} · ${fmtBytes(D.gpu.copy_bytes)}`));
  const kids = [];
  // A hung run is read from where its threads were at the deadline, before any share of time.
  const lead = D.page.timeout_lead || [];
  if (lead.length) kids.push(el("div", { class: "err", id: "timeout-lead" }, el("strong", { text: "At the timeout" }), el("ul", null, lead.map((t) => el("li", { text: t })))));
  kids.push(el("div", { class: "cards" }, cards));
  const found = findingsBox(D.findings || []);
  if (found) kids.push(found);
  for (const n of D.notes || []) kids.push(noteBox(n));
  for (const [reason, names] of Object.entries(D.page.quietReasons || {})) kids.push(noteBox(`Not in this report (${names.join(", ")}): ${reason}`));
  if (o.exception) kids.push(exceptionBox(o.exception));
  return el("section", { id: "summary" }, ...kids);
}

// What to fix first: each finding's message, its advice, and the numbers behind it.
function findingsBox(list) {
  if (!list.length) return null;
  const items = list.map((f) => el("li", { class: `finding ${f.severity}` },
    el("span", { class: "sev", text: f.severity }), " ", el("span", { class: "msg", text: f.message }),
    el("div", { class: "advice", text: `→ ${f.advice}` }),
    el("div", { class: "dim", text: (f.evidence || []).map((e) => `${e.name} ${e.unit === "share" ? pct(e.value) : e.unit === "s" ? fmtS(e.value) : e.unit === "bytes" ? fmtBytes(e.value) : e.unit === "ratio" ? `${e.value.toFixed(1)}×` : int(e.value)}`).join(" · ") })));
  return el("div", { id: "findings" }, el("h2", { text: "Fix first" }), el("ol", null, items));
}

function exceptionBox(x) {
  return el("div", { class: "err", id: "exception" },
    el("strong", { text: `${x.type}: ` }), el("span", { class: "exc-message", text: x.message }),
    el("div", { class: "dim", text: `at ${where(x.file, x.line)} in ${x.function}` }),
    x.traceback ? el("details", null, el("summary", { text: "traceback" }), el("pre", { text: x.traceback })) : null);
}

function functionsSection(D) {
  const t = D.time;
  if (!t.available && quiet(D, "time")) return null;
  if (!t.available) return section("functions", "Functions", noteBox(`Time was not sampled: ${t.unavailable_reason}`));
  const intro = el("p", { class: "dim", text: `${t.source}. ${int(t.samples)} samples; active ${fmtS(t.active_s)}, idle ${fmtS(t.idle_s)}`
    + (t.sample_errors ? `, ${int(t.sample_errors)} sampling errors` : "") + ". Own: at the top of the stack; total: anywhere on it." });
  const cols = [
    { key: "own_share", label: "own", num: true, cell: (r) => heatCell(r.own_share, pct(r.own_share)) },
    { key: "own_s", label: "own time", num: true, fmt: fmtS },
    { key: "total_share", label: "total", num: true, cell: (r) => heatCell(r.total_share, pct(r.total_share)) },
    { key: "total_s", label: "total time", num: true, fmt: fmtS },
    { key: "calls", label: "calls", num: true, fmt: int },
    { key: "name", label: "function" },
    { key: "file", label: "where", wrap: true, sort: (r) => `${r.file}:${r.line}`, fmt: (_, r) => where(r.file, r.line) },
  ];
  const kids = [intro, dataTable(cols, t.functions, { sortKey: "own_share", filter: true })];
  if ((t.threads || []).length > 1) {
    kids.push(el("h3", { text: "Threads" }), dataTable([
      { key: "thread", label: "thread" }, { key: "samples", label: "samples", num: true, fmt: int },
      { key: "share", label: "share", num: true, fmt: pct }], t.threads, { sortKey: "samples" }));
  }
  const imp = t.imports;
  if (imp && (imp.modules || []).length) {
    const rows = imp.modules.map((m) => ({ ...m, within: (m.slowest || []).map((x) => `${x.name} ${fmtS(x.seconds)}`).join(", ") }));
    kids.push(el("h3", { id: "imports", text: `Imports: ${fmtS(imp.total_s)} (${pct(imp.share)})` }), dataTable([
      { key: "share", label: "share", num: true, cell: (r) => heatCell(r.share, pct(r.share)) },
      { key: "seconds", label: "time", num: true, fmt: fmtS },
      { key: "name", label: "module" }, { key: "within", label: "slowest within", wrap: true }], rows, { sortKey: "seconds" }));
  }
  return section("functions", "Functions", ...kids);
}

function sourceSection(D) {
  const srcs = D.page.sources || [];
  if (!srcs.length) return null;
  const kids = [el("p", { class: "dim", text: "The hot functions' lines. Own: the share of all samples in which the line was the innermost line of your code "
    + "(the work it did itself, or in library and native calls it made); total: the line and everything it called. The shading follows own." })];
  if (D.page.sources_note) kids.push(noteBox(`Only the sampled lines: ${D.page.sources_note}.`));
  for (const s of srcs) {
    const rows = s.lines.map((r) => {
      if (r === null) return el("tr", { class: "gap" }, el("td", { class: "ln", text: "⋮" }), el("td"), el("td"), el("td"));
      const [n, text, samples, share, own] = r;
      const alpha = own ? Math.min(0.85, 0.12 + own * 2.5) : share ? 0.06 : 0;
      const row = el("tr", { title: samples ? `${int(samples)} samples: ${pct(own)} own, ${pct(share)} total` : null },
        el("td", { class: "ln", text: n }), el("td", { class: "num", text: own ? pct(own) : "" }),
        el("td", { class: "num dim", text: samples ? pct(share) : "" }), el("td", { class: "src", text: text }));
      if (alpha) row.style.background = `rgba(230, 90, 40, ${alpha.toFixed(2)})`;
      return row;
    });
    const share = s.total_share === null || s.total_share === undefined ? "" : ` — ${pct(s.total_share)} of samples`;
    kids.push(el("div", { class: "srcfn" },
      el("div", { class: "head" }, el("strong", { text: s.function }), el("span", { class: "dim", text: ` ${where(s.file)}${share}` })),
      el("table", null, el("tbody", null, rows))));
  }
  return section("source", "Hot lines", ...kids);
}

function rangesSection(D) {
  const r = D.ranges;
  if (!r.available && quiet(D, "ranges")) return null;
  if (!r.available) return section("ranges", "Ranges", noteBox(`Ranges were not recorded: ${r.unavailable_reason}`));
  if (!(r.stats || []).length) return null;
  const kids = [dataTable([
    { key: "name", label: "range" }, { key: "count", label: "count", num: true, fmt: int },
    { key: "total_s", label: "total", num: true, fmt: fmtS }, { key: "mean_s", label: "mean", num: true, fmt: fmtS },
    { key: "min_s", label: "min", num: true, fmt: fmtS }, { key: "max_s", label: "max", num: true, fmt: fmtS }], r.stats, { sortKey: "total_s" })];
  if (r.events_dropped) kids.push(noteBox(`${int(r.events_dropped)} range events past the cap are counted in the table but not drawn.`));
  return section("ranges", "Ranges (diagkit.range)", ...kids);
}

function jitSection(D) {
  const j = D.jit;
  if (!j.available && quiet(D, "jit")) return null;
  if (!j.available) return section("numba", "Numba", noteBox(`Numba compiles were not recorded: ${j.unavailable_reason}`));
  if (!(j.functions || []).length) return null;
  return section("numba", "Numba compiles",
    el("p", { class: "dim", text: `Numba ${j.numba_version}: ${int((j.compiles || []).length)} compiles, ${fmtS(j.total_compile_s)} compiling. A cache miss on every run means the on-disk cache is not being used.` }),
    dataTable([
      { key: "compile_s", label: "compile", num: true, fmt: fmtS }, { key: "compiles", label: "compiles", num: true, fmt: int },
      { key: "cache_hits", label: "cache hits", num: true, fmt: int }, { key: "cache_misses", label: "misses", num: true, fmt: int },
      { key: "function", label: "function" }, { key: "signatures", label: "signatures", wrap: true, fmt: (v) => (v || []).join("; ") }],
    j.functions, { sortKey: "compile_s" }),
    el("h3", { text: "Each compile" }),
    dataTable([
      { key: "start_t", label: "at", num: true, fmt: fmtS }, { key: "seconds", label: "own", num: true, fmt: fmtS },
      { key: "inclusive_s", label: "with nested", num: true, fmt: fmtS }, { key: "ok", label: "ok", fmt: (v) => (v ? "yes" : "FAILED") },
      { key: "function", label: "function" }, { key: "signature", label: "signature", wrap: true }], j.compiles, { sortKey: "start_t", desc: false }));
}

function warningsSection(D) {
  const n = D.numerics;
  if (!n.available && quiet(D, "numerics")) return null;
  if (!n.available) return section("warnings", "Warnings", noteBox(`Warnings were not counted: ${n.unavailable_reason}`));
  if (!(n.warnings || []).length) return null;
  return section("warnings", "Warnings", el("p", { class: "dim", text: `${int(n.total)} raised; every occurrence counted.` }),
    dataTable([
      { key: "count", label: "count", num: true, fmt: (v, r) => int(v) + (r.capped ? "+" : "") },
      { key: "category", label: "category" }, { key: "message", label: "message", wrap: true },
      { key: "file", label: "where", wrap: true, fmt: (_, r) => where(r.file, r.line) },
      { key: "first_t", label: "first at", num: true, fmt: fmtS }], n.warnings, { sortKey: "count" }));
}

function stacksSection(D) {
  const s = D.stacks;
  if (!s) return null;
  const title = `Stacks (${s.reason || s.source})`;
  if (!s.available) return section("stacks", title, noteBox(s.unavailable_reason));
  const kids = [];
  for (const th of s.threads || []) {
    const state = [th.os_state, th.owns_gil ? "holds the GIL" : "", th.cpu_share != null ? `${pct(th.cpu_share)} CPU` : ""].filter(Boolean).join(", ");
    const frames = (th.frames || []).map((f) => {
      const locs = Object.entries(f.locals || {});
      return el("div", null, el("code", { text: f.function }), el("span", { class: "dim", text: ` ${where(f.file, f.line)}${f.native ? " (native)" : ""}` }),
        locs.length ? el("details", null, el("summary", { class: "dim", text: `${locs.length} locals` }), kv(locs)) : null);
    });
    kids.push(el("h3", { text: `thread ${th.thread_id} ${th.name}${state ? " — " + state : ""}` }), ...frames);
  }
  if (s.process) {
    const p = s.process;
    kids.push(el("h3", { text: "Process" }), kv([["pid", p.pid], ["command", (p.cmdline || []).join(" ")], ["state", p.state],
      ["running", fmtS(p.running_s)], ["RSS", fmtBytes(p.rss)], ["threads", p.threads], ["user", p.user],
      ["open files", (p.open_files || []).join(", ")], ["not readable", (p.unreadable || []).join(", ")]]));
  }
  return section("stacks", title, ...kids);
}

function environmentSection(D) {
  const e = D.environment;
  if (!e.available && quiet(D, "environment")) return null;
  if (!e.available) return section("environment", "Environment", noteBox(`Not recorded: ${e.unavailable_reason}`));
  const kids = [kv([["Python", `${e.python_version} ${e.python_executable}`], ["platform", `${e.platform} ${e.machine}`],
    ["host", e.hostname], ["CPUs", e.cpu_count], ["target python", D.target.python]])];
  if ((e.packages || []).length) {
    kids.push(el("h3", { text: "Packages the program imported" }), dataTable([
      { key: "name", label: "package" }, { key: "version", label: "version" },
      { key: "editable", label: "editable", fmt: (v) => (v ? "yes" : "") }, { key: "location", label: "location", wrap: true }],
    e.packages, { sortKey: "name", desc: false }));
  }
  const vars = Object.entries(e.variables || {});
  if (vars.length) kids.push(el("h3", { text: "Switches" }), kv(vars));
  const files = Object.entries(D.files || {});
  if (files.length) kids.push(el("h3", { text: "Files of this report" }), kv([["report", "report.json"], ...files]));
  return section("environment", "Environment", ...kids);
}

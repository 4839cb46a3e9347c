"use strict";
// Every string from the report reaches the page through text nodes, textContent or
// canvas fillText: nothing the profiled program wrote is ever parsed as HTML.

const SVGNS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const k of kids.flat(4)) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  for (const k of kids.flat(4)) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}

function setAttrs(e, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k === "text") e.textContent = String(v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "style") Object.assign(e.style, v);
    else e.setAttribute(k, String(v));
  }
}

function fmtS(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "n/a";
  if (s >= 120) return `${Math.floor(s / 60)}m${(s % 60).toFixed(1).padStart(4, "0")}s`;
  if (s >= 1) return `${s.toFixed(2)} s`;
  if (s >= 0.001 || s === 0) return `${(s * 1000).toFixed(1)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "n/a";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n.toFixed(0)} B` : `${n.toFixed(1)} ${units[i]}`;
}

function pct(x) {
  return x === null || x === undefined || Number.isNaN(x) ? "" : `${(x * 100).toFixed(1)}%`;
}

function int(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
}

function shortPath(p) {
  if (!p) return "";
  const parts = String(p).split("/");
  return parts.length > 4 ? "…/" + parts.slice(-3).join("/") : p;
}

function where(file, line) {
  return file ? `${shortPath(file)}${line ? ":" + line : ""}` : "";
}

// A stable colour per name, so one function keeps its colour across the page.
function hashHue(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
  return (h >>> 0) % 360;
}

function heatCell(share, label) {
  const w = Math.max(0, Math.min(1, share || 0)) * 100;
  return el("td", { class: "num bar" }, el("span", { style: { width: `${w}%` } }), el("b", { text: label }));
}

function section(id, title, ...kids) {
  return el("section", { id }, el("h2", { text: title }), ...kids);
}

function kv(pairs) {
  const box = el("div", { class: "kv" });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    box.append(el("div", { text: k }), el("div", { text: v }));
  }
  return box;
}

function noteBox(text, cls) {
  return el("div", { class: cls || "note", text });
}

// A table that sorts on a header click and filters on every text column.
// columns: {key, label, num, fmt(value,row), cell(row)->td, sort(row)->value, wrap}
function dataTable(columns, rows, opts) {
  opts = opts || {};
  const limit = opts.limit || 400;
  let sortCol = opts.sortKey ? columns.findIndex((c) => c.key === opts.sortKey) : -1;
  let desc = opts.desc !== false;
  let query = "";
  const tbody = el("tbody");
  const heads = columns.map((c, i) => el("th", {
    class: `sort${c.num ? " num" : ""}`, text: c.label, title: "sort",
    onclick: () => { desc = sortCol === i ? !desc : !!c.num; sortCol = i; draw(); },
  }));
  const info = el("span", { class: "dim" });
  const value = (c, r) => (c.sort ? c.sort(r) : r[c.key]);
  const text = columns.filter((c) => !c.num).map((c) => (r) => String(value(c, r) ?? ""));
  function draw() {
    heads.forEach((h, i) => h.classList.toggle("asc", i === sortCol && !desc));
    heads.forEach((h, i) => h.classList.toggle("desc", i === sortCol && desc));
    const q = query.toLowerCase();
    let shown = q ? rows.filter((r) => text.some((t) => t(r).toLowerCase().includes(q))) : rows.slice();
    if (sortCol >= 0) {
      const c = columns[sortCol];
      shown.sort((a, b) => {
        const x = value(c, a), y = value(c, b);
        const d = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
        return desc ? -d : d;
      });
    }
    const frag = document.createDocumentFragment();
    for (const r of shown.slice(0, limit)) {
      frag.append(el("tr", null, columns.map((c) => c.cell ? c.cell(r) : el("td", {
        class: c.num ? "num" : c.wrap ? "wrap" : null,
        text: c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? "",
      }))));
    }
    tbody.replaceChildren(frag);
    info.textContent = shown.length > limit ? `first ${limit} of ${shown.length} rows` : `${shown.length} of ${rows.length} rows`;
  }
  const tools = el("div", { class: "tools" });
  if (opts.filter === true || (opts.filter !== false && rows.length > 8)) {
    tools.append(el("input", {
      type: "search", placeholder: "filter…", "aria-label": "filter rows",
      oninput: (ev) => { query = ev.target.value; draw(); },
    }));
  }
  tools.append(info);
  draw();
  return el("div", { class: "dtable" }, tools,
    el("div", { class: "tablebox" }, el("table", null, el("thead", null, el("tr", null, heads)), tbody)));
}

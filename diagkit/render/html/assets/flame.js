"use strict";
// The sampled stacks as an icicle flame graph on a canvas: the root on top, callees
// below, each frame as wide as its share of the samples. Click zooms, search highlights.

const ROW = 18;

class Flame {
  constructor(tree, rate) {
    this.t = tree;
    this.rate = rate || 0;
    const n = tree.func.length;
    this.n = n;
    this.end = new Int32Array(n); // one past the last node of each subtree
    this.parent = new Int32Array(n);
    const stack = [];
    let maxDepth = 0;
    for (let i = 0; i < n; i++) {
      const d = tree.depth[i];
      while (stack.length > d) this.end[stack.pop()] = i;
      this.parent[i] = d ? stack[d - 1] : -1;
      stack.push(i);
      if (d > maxDepth) maxDepth = d;
    }
    while (stack.length) this.end[stack.pop()] = n;
    this.maxDepth = maxDepth;
    this.zoom = 0;
    this.match = null;
    this.x = new Float64Array(n);
    this.w = new Float64Array(n);
    this.rows = [];
    this.build();
  }

  build() {
    this.canvas = el("canvas", {
      onclick: (e) => this.click(e), onmousemove: (e) => this.hover(e),
      onmouseleave: () => { this.tip.style.display = "none"; },
    });
    this.tip = el("div", { class: "tip" });
    this.crumb = el("span", { class: "dim" });
    this.status = el("span", { id: "flame-status", class: "dim" });
    this.search = el("input", {
      type: "search", id: "flame-search", placeholder: "search functions or files…", "aria-label": "search the flame graph",
      oninput: (e) => this.find(e.target.value),
    });
    const reset = el("button", { text: "Reset zoom", onclick: () => this.setZoom(0) });
    this.box = el("div", { id: "flame-box" }, this.canvas);
    this.node = el("div", null, el("div", { class: "tools" }, this.search, reset, this.status, this.crumb), this.box, this.tip);
    new ResizeObserver(() => this.draw()).observe(this.box);
  }

  label(i) { return this.t.funcs[this.t.func[i]][0]; }

  color(i) {
    const [name, , , kind] = this.t.funcs[this.t.func[i]];
    if (this.match && this.match[i]) return "#d946ef";
    if (kind === "root" || kind === "thread") return "#cbd5e1";
    const h = hashHue(name);
    if (kind === "own") return `hsl(${10 + (h % 40)}, 85%, ${62 + (h % 12)}%)`;
    if (kind === "lib") return `hsl(${195 + (h % 35)}, 60%, ${70 + (h % 10)}%)`;
    return `hsl(${260 + (h % 30)}, 25%, ${74 + (h % 10)}%)`;
  }

  draw() {
    const W = this.box.clientWidth;
    if (!W) return;
    const dpr = window.devicePixelRatio || 1;
    const H = (this.maxDepth + 1) * ROW;
    this.canvas.width = W * dpr;
    this.canvas.height = H * dpr;
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    this.rows = Array.from({ length: this.maxDepth + 1 }, () => []);
    const v = this.t.value, dep = this.t.depth;
    const z = this.zoom;
    for (let a = this.parent[z]; a >= 0; a = this.parent[a]) this.rect(ctx, a, 0, W, dep[a], true);
    const cursor = new Float64Array(this.n);
    this.x[z] = 0; this.w[z] = W; cursor[z] = 0;
    for (let i = z; i < this.end[z]; i++) {
      if (i !== z) {
        const p = this.parent[i];
        this.x[i] = cursor[p];
        this.w[i] = (v[i] / v[z]) * W;
        cursor[p] += this.w[i];
        if (this.w[i] < 0.4) { i = this.end[i] - 1; continue; }
      }
      cursor[i] = this.x[i];
      this.rect(ctx, i, this.x[i], this.w[i], dep[i], false);
    }
  }

  rect(ctx, i, x, w, d, dimmed) {
    const y = d * ROW;
    ctx.globalAlpha = dimmed ? 0.55 : 1;
    ctx.fillStyle = this.color(i);
    ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
    ctx.globalAlpha = 1;
    this.rows[d].push([x, x + w, i]);
    const chars = Math.floor((w - 6) / 6.3);
    if (chars >= 3) {
      const s = this.label(i);
      ctx.fillStyle = "#111827";
      ctx.fillText(s.length > chars ? s.slice(0, chars - 1) + "…" : s, x + 3, y + ROW / 2);
    }
  }

  at(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left, d = Math.floor((e.clientY - r.top) / ROW);
    for (const [a, b, i] of this.rows[d] || []) if (x >= a && x < b) return i;
    return -1;
  }

  click(e) {
    const i = this.at(e);
    if (i >= 0) this.setZoom(i === this.zoom ? Math.max(this.parent[i], 0) : i);
  }

  setZoom(i) {
    this.zoom = i;
    const path = [];
    for (let a = i; a > 0; a = this.parent[a]) path.unshift(this.label(a));
    this.crumb.textContent = path.length ? "zoomed: " + path.slice(-4).join(" › ") : "";
    this.draw();
  }

  // Values count microseconds (a time-weighted run) or intervals of the fastest sampling
  // rate, so a run whose sampling slowed down after its first seconds still reads as time.
  amount(v) {
    return this.rate ? fmtS(v / this.rate) : `${int(v)} samples`;
  }

  hover(e) {
    const i = this.at(e);
    if (i < 0) { this.tip.style.display = "none"; return; }
    const [name, file, line] = this.t.funcs[this.t.func[i]];
    const v = this.t.value[i], total = this.t.value[0], zv = this.t.value[this.zoom];
    let self = v;
    for (let c = i + 1; c < this.end[i]; c = this.end[c]) self -= this.t.value[c];
    const lines = [name, where(file, line),
      `${this.amount(v)}, ${pct(v / total)} of all` + (this.zoom ? `, ${pct(v / zv)} of zoomed` : ""),
      `own (top of stack, not pruned): ${this.amount(self)}`];
    this.tip.textContent = lines.filter(Boolean).join("\n");
    this.tip.style.display = "block";
    this.tip.style.left = `${Math.min(e.clientX + 14, window.innerWidth - 380)}px`;
    this.tip.style.top = `${e.clientY + 14}px`;
  }

  find(q) {
    q = q.trim().toLowerCase();
    if (!q) {
      this.match = null;
      this.status.textContent = "";
      this.draw();
      return;
    }
    const hit = this.t.funcs.map(([name, file]) => name.toLowerCase().includes(q) || file.toLowerCase().includes(q));
    this.match = new Uint8Array(this.n);
    let frames = 0, covered = 0;
    // Samples under a matching frame, each counted once even when matches nest.
    for (let i = 1; i < this.n; i++) {
      if (!hit[this.t.func[i]]) continue;
      this.match[i] = 1;
      frames++;
      let nested = false;
      for (let a = this.parent[i]; a > 0; a = this.parent[a]) if (this.match[a]) { nested = true; break; }
      if (!nested) covered += this.t.value[i];
    }
    this.status.textContent = `${frames} frames match, ${pct(covered / this.t.value[0])} of samples`;
    this.status.dataset.frames = String(frames);
    this.status.dataset.share = String(covered / this.t.value[0]);
    this.draw();
  }
}

function flameSection(D) {
  const f = D.page.flame;
  const t = D.time;
  if (!f) {
    if (!t.available && quiet(D, "time")) return null;
    const why = D.page.flame_note || (t.available ? "no stack samples were saved with this report" : t.unavailable_reason);
    return section("flame", "Flame graph", noteBox(`No flame graph: ${why}.`));
  }
  const fl = new Flame(f, f.per_second || t.rate_hz);
  window.diagFlame = fl;
  const intro = el("p", { class: "dim" },
    `${fl.amount(f.total)} of the program's own stacks, sampled; width is time. Orange: your code, blue: libraries, grey-violet: native or built-in. `
    + "Click a frame to zoom, click it again to go up.",
    f.pruned_below ? ` Frames under ${fl.amount(f.pruned_below)} are left out to keep the page small.` : "");
  return section("flame", "Flame graph", intro, fl.node);
}

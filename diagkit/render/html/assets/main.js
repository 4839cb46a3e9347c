"use strict";
// Builds the page from the embedded report; a section that fails to draw says so
// in place instead of leaving the rest of the page empty.

function build(D) {
  const app = document.getElementById("app");
  groupUnavailable(D);
  const parts = [
    ["Summary", () => headline(D)], ["Flame graph", () => flameSection(D)], ["Functions", () => functionsSection(D)],
    ["Hot lines", () => sourceSection(D)], ["Memory", () => memorySection(D)], ["Ranges", () => rangesSection(D)],
    ["Numba", () => jitSection(D)], ["Warnings", () => warningsSection(D)], ["Stacks", () => stacksSection(D)],
    ["Deep", () => deepSection(D)], ["GPU", () => gpuSection(D)], ["Dask", () => daskSection(D)],
    ["Environment", () => environmentSection(D)],
  ];
  const nav = el("nav");
  const main = el("main");
  for (const [name, make] of parts) {
    let node;
    try {
      node = make();
    } catch (err) {
      console.error(err);
      node = section(`broken-${name}`, name, noteBox(`This section could not be drawn: ${err}`, "err"));
    }
    if (!node) continue;
    main.append(node);
    if (node.id && node.id !== "summary") nav.append(el("a", { href: `#${node.id}`, text: name }));
  }
  app.replaceChildren(header(D), nav, main);
  if (window.diagFlame) window.diagFlame.draw();
}

const D = JSON.parse(document.getElementById("diag-data").textContent);
build(D);
requestAnimationFrame(() => requestAnimationFrame(() => {
  document.documentElement.dataset.renderedMs = String(Math.round(performance.now()));
}));

// Small SVG bar charts, drawn here without any library: each chart has a title, axis labels, a legend
// when it has several series, and the number on every bar, so it can be read on its own.
(() => {  // its own scope: app.js's names (summary, table…) are globals too
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2f6fb0", "#e08a1e", "#2e7d4f", "#c0392b", "#7d5ba6", "#5f6b6d"];
const INK = "#1d2733", WHITE = "#ffffff";
const FONT = '11px "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';

// WCAG contrast: the number inside a bar is white or ink, whichever reads at least as well on the bar's colour.
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}
function textOn(fill) {
  return contrast(fill, WHITE) >= contrast(fill, INK) ? WHITE : INK;
}

// Text widths at the labels' size (11px; the chart's units are CSS pixels at its natural width).
let measurer = null;
function textWidth(text) {
  measurer = measurer || document.createElement("canvas").getContext("2d");
  measurer.font = FONT;
  return measurer.measureText(String(text)).width;
}
// The text cut with "…" to fit `max` units.
function fit(text, max) {
  text = String(text);
  if (textWidth(text) <= max) return text;
  let cut = text;
  while (cut.length > 1 && textWidth(cut + "…") > max) cut = cut.slice(0, -1);
  return cut + "…";
}

// What a screen reader says for the chart: its title and every number.
function summary(chart) {
  const several = chart.series.length > 1;
  return `${chart.title}。` + chart.categories.map((category, i) => `${category}: ` +
    chart.series.map((s) => `${several ? s.name + " " : ""}${s.values[i] || 0}`).join(", ")).join("; ");
}

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return Math.max(1, step);
}

function totals(chart) {
  return chart.categories.map((_, i) => chart.series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
}

function legend(chart) {
  const list = document.createElement("ul");
  list.className = "legend";
  chart.series.forEach((s, i) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = s.color || PALETTE[i];
    item.append(swatch, s.name);
    list.appendChild(item);
  });
  return list;
}

// chart: {title, xLabel, yLabel, categories, series: [{name, values, color}], stacked, horizontal, id}
function barChart(chart) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  if (chart.id) figure.dataset.chart = chart.id;
  const caption = document.createElement("figcaption");
  caption.textContent = chart.title;
  figure.appendChild(caption);
  if (!chart.categories.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "暂无数据 · no data";
    figure.appendChild(empty);
    return figure;
  }
  figure.appendChild(chart.horizontal ? horizontal(chart) : vertical(chart));
  if (chart.series.length > 1) figure.appendChild(legend(chart));
  return figure;
}

function vertical(chart) {
  const width = 620, height = 300, m = { left: 56, right: 16, top: 34, bottom: 70 };
  const plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
  const sums = totals(chart);
  const max = chart.stacked ? Math.max(...sums) : Math.max(...chart.series.flatMap((s) => s.values));
  const step = niceStep(max, 5), top = Math.ceil(Math.max(max, 1) / step) * step;
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary(chart) });
  svg.appendChild(svgEl("title", {}, chart.title));
  for (let t = 0; t <= top; t += step) {
    svg.appendChild(svgEl("line", { x1: m.left, x2: width - m.right, y1: y(t), y2: y(t), class: "grid" }));
    svg.appendChild(svgEl("text", { x: m.left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, t));
  }
  const band = plotW / chart.categories.length;
  const groups = chart.stacked ? 1 : chart.series.length;
  const barW = Math.min(48, (band * 0.7) / groups);
  chart.categories.forEach((category, i) => {
    const x0 = m.left + band * i + (band - barW * groups) / 2;
    let base = 0;
    chart.series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const x = chart.stacked ? x0 : x0 + j * barW;
      const y1 = y(chart.stacked ? base + v : v), y0 = y(chart.stacked ? base : 0);
      const rect = svgEl("rect", { x, y: y1, width: barW - 2, height: Math.max(0, y0 - y1), fill: s.color || PALETTE[j],
        "data-series": s.name, "data-category": category, "data-value": v });
      rect.appendChild(svgEl("title", {}, `${category} · ${s.name}: ${v}`));
      svg.appendChild(rect);
      if (!chart.stacked || (v > 0 && y0 - y1 >= 14)) {
        const ty = chart.stacked ? (y0 + y1) / 2 + 4 : y1 - 4;
        const fill = s.color || PALETTE[j];
        svg.appendChild(svgEl("text", { x: x + (barW - 2) / 2, y: ty, class: chart.stacked ? "value inside" : "value",
          "text-anchor": "middle", ...(chart.stacked ? { fill: textOn(fill), "data-on": fill } : {}) }, v));
      }
      base += v;
    });
    if (chart.stacked) {
      svg.appendChild(svgEl("text", { x: x0 + barW / 2, y: y(sums[i]) - 4, class: "value total", "text-anchor": "middle",
        "data-total": sums[i] }, sums[i]));
    }
    svg.appendChild(categoryLabel(category, m.left + band * (i + 0.5), m.top + plotH + 16, band - 6));
  });
  svg.appendChild(svgEl("line", { x1: m.left, x2: width - m.right, y1: y(0), y2: y(0), class: "axis" }));
  svg.appendChild(svgEl("text", { x: m.left + plotW / 2, y: height - 12, class: "axis-label", "text-anchor": "middle" },
    chart.xLabel));
  svg.appendChild(svgEl("text", { x: 14, y: m.top + plotH / 2, class: "axis-label", "text-anchor": "middle",
    transform: `rotate(-90 14 ${m.top + plotH / 2})` }, chart.yLabel));
  return svg;
}

// A category under a column: "优秀 excellent" on two lines (label, code) when it is wider than the column,
// each line cut to the column's width with the whole text as a tooltip.
function categoryLabel(category, x, y, max) {
  const text = svgEl("text", { x, y, class: "category", "text-anchor": "middle" });
  const words = String(category).split(" ");
  const lines = textWidth(category) <= max || words.length < 2 ? [String(category)]
    : [words[0], words.slice(1).join(" ")];
  let cut = false;
  lines.forEach((line, i) => {
    const shown = fit(line, max);
    cut = cut || shown !== line;
    text.appendChild(svgEl("tspan", { x, dy: i ? 13 : 0 }, shown));
  });
  if (cut || lines.length > 1) text.appendChild(svgEl("title", {}, category));
  return text;
}

function horizontal(chart) {
  const width = 620, rowH = 30, longest = Math.max(...chart.categories.map(textWidth));
  const m = { left: Math.ceil(Math.min(Math.max(80, longest + 16), width * 0.45)), right: 50, top: 22, bottom: 40 };
  const height = m.top + m.bottom + rowH * chart.categories.length;
  const plotW = width - m.left - m.right, plotH = rowH * chart.categories.length;
  const sums = totals(chart);
  const max = chart.stacked ? Math.max(...sums) : Math.max(...chart.series.flatMap((s) => s.values));
  const step = niceStep(max, 5), top = Math.ceil(Math.max(max, 1) / step) * step;
  const x = (v) => m.left + (v / top) * plotW;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary(chart) });
  svg.appendChild(svgEl("title", {}, chart.title));
  for (let t = 0; t <= top; t += step) {
    svg.appendChild(svgEl("line", { x1: x(t), x2: x(t), y1: m.top, y2: m.top + plotH, class: "grid" }));
    svg.appendChild(svgEl("text", { x: x(t), y: m.top + plotH + 14, class: "tick", "text-anchor": "middle" }, t));
  }
  chart.categories.forEach((category, i) => {
    const yTop = m.top + rowH * i + 5, barH = rowH - 10;
    let base = 0;
    chart.series.forEach((s, j) => {
      const v = s.values[i] || 0;
      const rect = svgEl("rect", { x: x(base), y: yTop, width: Math.max(0, x(base + v) - x(base)), height: barH,
        fill: s.color || PALETTE[j], "data-series": s.name, "data-category": category, "data-value": v });
      rect.appendChild(svgEl("title", {}, `${category} · ${s.name}: ${v}`));
      svg.appendChild(rect);
      if (v > 0 && x(base + v) - x(base) >= 16) {
        const fill = s.color || PALETTE[j];
        svg.appendChild(svgEl("text", { x: (x(base) + x(base + v)) / 2, y: yTop + barH / 2 + 4, class: "value inside",
          "text-anchor": "middle", fill: textOn(fill), "data-on": fill }, v));
      }
      base += v;
    });
    svg.appendChild(svgEl("text", { x: x(sums[i]) + 6, y: yTop + barH / 2 + 4, class: "value total", "data-total": sums[i] },
      sums[i]));
    const shown = fit(category, m.left - 12);
    const label = svgEl("text", { x: m.left - 8, y: yTop + barH / 2 + 4, class: "category", "text-anchor": "end" }, shown);
    if (shown !== category) label.appendChild(svgEl("title", {}, category));  // the whole label on hover
    svg.appendChild(label);
  });
  svg.appendChild(svgEl("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH, class: "axis" }));
  svg.appendChild(svgEl("text", { x: m.left + plotW / 2, y: m.top + plotH + 32, class: "axis-label",
    "text-anchor": "middle" }, chart.xLabel));
  svg.appendChild(svgEl("text", { x: 4, y: m.top - 8, class: "axis-label" }, chart.yLabel));
  return svg;
}

window.Charts = { barChart, PALETTE };
})();

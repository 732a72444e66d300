// SVG charts with no library: a time series line chart and a bar chart, readable and accessible
// (a <title> and a visually hidden table of the values for screen readers).

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function hiddenTable(title, rows) {
  const table = document.createElement("table");
  table.className = "visually-hidden";
  const caption = table.createCaption();
  caption.textContent = title;
  for (const cells of rows) {
    const tr = table.insertRow();
    for (const cell of cells) tr.insertCell().textContent = cell;
  }
  return table;
}

const WIDTH = 640;
const PAD = { top: 12, right: 12, bottom: 28, left: 56 };

// The chart's <svg> with its title and the y axis: five grid lines from 0 to top, labelled.
function plot(title, height, top, y, format) {
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, role: "img", "aria-label": title, class: "chart-svg" }, svg("title", {}, title));
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    root.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: "chart-grid" }),
      svg("text", { x: PAD.left - 6, y: y(v) + 4, class: "chart-label", "text-anchor": "end" }, format(v)),
    );
  }
  return root;
}

// series: [{name, points: [[Date|ms|iso, number|null], ...]}]; format(v) labels the y axis
export function lineChart({ title, series, format = (v) => String(v), height = 220 }) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const all = series.flatMap((s) => s.points.filter((p) => p[1] !== null && p[1] !== undefined));
  if (!all.length) {
    figure.append(Object.assign(document.createElement("p"), { className: "chart-empty", textContent: "No data yet." }));
    return figure;
  }
  // the time axis spans every point given, empty buckets included: the period asked for
  const times = series.flatMap((s) => s.points.map((p) => new Date(p[0]).getTime()));
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (t1 === t0) t1 = t0 + 60_000;
  const top = niceMax(Math.max(...all.map((p) => p[1])));
  const w = WIDTH - PAD.left - PAD.right;
  const hgt = height - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((new Date(t).getTime() - t0) / (t1 - t0)) * w;
  const y = (v) => PAD.top + hgt - (v / top) * hgt;
  const root = plot(title, height, top, y, format);
  const span = t1 - t0;
  const tick = (t) =>
    span > 2 * 86400_000
      ? new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" })
      : new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    root.append(svg("text", { x: x(t), y: height - 8, class: "chart-label", "text-anchor": "middle" }, tick(t)));
  }
  series.forEach((s, index) => {
    const points = s.points.filter((p) => p[1] !== null && p[1] !== undefined);
    if (!points.length) return;
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, class: `chart-line chart-series-${index}` }));
    if (points.length === 1) root.append(svg("circle", { cx: x(points[0][0]), cy: y(points[0][1]), r: 3, class: `chart-dot chart-series-${index}` }));
  });
  figure.append(root);
  if (series.length > 1) {
    const legend = document.createElement("figcaption");
    legend.className = "chart-legend";
    series.forEach((s, index) => {
      const item = document.createElement("span");
      item.className = `chart-key chart-series-${index}`;
      item.textContent = s.name;
      legend.append(item);
    });
    figure.append(legend);
  }
  figure.append(
    hiddenTable(
      title,
      series.flatMap((s) => s.points.map((p) => [s.name, new Date(p[0]).toISOString(), p[1] === null ? "–" : format(p[1])])),
    ),
  );
  return figure;
}

// bars: [{label, value}]
export function barChart({ title, bars, format = (v) => String(v), height = 220 }) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  if (!bars.length) {
    figure.append(Object.assign(document.createElement("p"), { className: "chart-empty", textContent: "No data yet." }));
    return figure;
  }
  const top = niceMax(Math.max(...bars.map((b) => b.value ?? 0)));
  const w = WIDTH - PAD.left - PAD.right;
  const hgt = height - PAD.top - PAD.bottom;
  const slot = w / bars.length;
  const y = (v) => PAD.top + hgt - (v / top) * hgt;
  const root = plot(title, height, top, y, format);
  const every = Math.ceil(bars.length / 12);
  bars.forEach((b, i) => {
    const value = b.value ?? 0;
    const bx = PAD.left + i * slot + slot * 0.15;
    root.append(
      svg("rect", { x: bx, y: y(value), width: slot * 0.7, height: Math.max(0, PAD.top + hgt - y(value)), class: "chart-bar" }, svg("title", {}, `${b.label}: ${format(value)}`)),
    );
    if (i % every === 0) root.append(svg("text", { x: bx + slot * 0.35, y: height - 8, class: "chart-label", "text-anchor": "middle" }, b.label));
  });
  figure.append(root, hiddenTable(title, bars.map((b) => [b.label, b.value === null ? "–" : format(b.value)])));
  return figure;
}

// Charts as SVG drawn here: bars, grouped horizontal bars, lines, scatter, a SHAP waterfall, a
// donut and a progress meter. No library. Every chart is an <svg role="img"> with a <title> and
// an aria-label summary; sizes come from the viewBox, so charts scale with their container.
// Colours are presentation attributes (the page's CSP allows no inline styles).

const NS = 'http://www.w3.org/2000/svg';

/** Colour-blind-aware palette, each at least 3:1 against white. */
export const PALETTE = [
  '#0b5cad', '#c2410c', '#047857', '#7e22ce', '#be123c', '#0e7490', '#4d7c0f', '#a16207',
  '#db2777', '#4b5563', '#1e3a8a', '#9a3412', '#065f46', '#6d28d9', '#0f766e',
];
export const POSITIVE = '#b91c1c'; // raises the score (e.g. more risk)
export const NEGATIVE = '#15803d'; // lowers it
const INK = '#1f2937';
const MUTED = '#4b5563';
const GRID = '#d1d5db';

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function frame(w, hgt, title, summary, cls = '') {
  const root = s('svg', {
    viewBox: `0 0 ${w} ${hgt}`, class: `chart ${cls}`.trim(), role: 'img',
    'aria-label': summary || title, preserveAspectRatio: 'xMidYMid meet',
  });
  // Never drawn larger than designed, so text stays at its intended size on wide screens.
  root.style.maxWidth = `${w}px`;
  root.appendChild(s('title', {}, title));
  return root;
}

function text(x, y, str, attrs = {}, ...children) {
  return s('text', { x, y, 'font-size': 12, fill: INK, ...attrs }, str, ...children);
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function truncate(str, n) {
  const t = String(str ?? '');
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** Vertical bars. items: [{label, value, color?}]. */
export function bars(items, { title = 'Bar chart', format = String, width = 560, height = 240 } = {}) {
  const pad = { l: 56, r: 12, t: 12, b: 56 };
  const svg = frame(width, height, title,
    `${title}: ${items.map((i) => `${i.label} ${format(i.value)}`).join(', ')}`);
  const max = niceMax(Math.max(0, ...items.map((i) => i.value)));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  for (let k = 0; k <= 4; k++) {
    const y = pad.t + ih - (ih * k) / 4;
    svg.appendChild(s('line', { x1: pad.l, x2: width - pad.r, y1: y, y2: y, stroke: GRID }));
    svg.appendChild(text(pad.l - 6, y + 4, format((max * k) / 4), { 'text-anchor': 'end', fill: MUTED, 'font-size': 11 }));
  }
  const bw = iw / Math.max(1, items.length);
  items.forEach((it, i) => {
    const bh = (ih * Math.max(0, it.value)) / max;
    const x = pad.l + i * bw + bw * 0.15;
    svg.appendChild(s('rect', {
      x, y: pad.t + ih - bh, width: bw * 0.7, height: bh, fill: it.color || PALETTE[0], rx: 2,
    }, s('title', {}, `${it.label}: ${format(it.value)}`)));
    svg.appendChild(text(x + bw * 0.35, height - pad.b + 14, truncate(it.label, 12), {
      'text-anchor': 'end', transform: `rotate(-35 ${x + bw * 0.35} ${height - pad.b + 14})`, 'font-size': 11,
    }));
  });
  return svg;
}

/**
 * Horizontal grouped bars, one row per item: items [{label, values: [a, b, …]}], series names
 * and colours. Good for "budget vs actual" on narrow screens.
 */
export function hbars(items, series, { title = 'Comparison', format = String, width = 560 } = {}) {
  const rowH = 14 * series.length + 14;
  const pad = { l: 150, r: 80, t: 28, b: 8 };
  const height = pad.t + pad.b + rowH * items.length;
  const svg = frame(width, height, title, `${title}: ${items.map((i) =>
    `${i.label} ${series.map((sr, k) => `${sr.name} ${format(i.values[k])}`).join(' / ')}`).join('; ')}`);
  const max = niceMax(Math.max(0, ...items.flatMap((i) => i.values.filter((v) => v != null))));
  const iw = width - pad.l - pad.r;
  series.forEach((sr, k) => {
    const x = pad.l + k * 130;
    svg.appendChild(s('rect', { x, y: 6, width: 12, height: 12, fill: sr.color || PALETTE[k] }));
    svg.appendChild(text(x + 16, 16, sr.name));
  });
  items.forEach((it, i) => {
    const y0 = pad.t + i * rowH;
    svg.appendChild(text(pad.l - 8, y0 + rowH / 2 + 2, truncate(it.label, 20), { 'text-anchor': 'end', 'font-size': 11 },
      s('title', {}, it.label)));
    it.values.forEach((v, k) => {
      if (v == null) return;
      const w = (iw * Math.max(0, v)) / max;
      const y = y0 + 4 + k * 14;
      svg.appendChild(s('rect', { x: pad.l, y, width: Math.max(1, w), height: 11, fill: series[k].color || PALETTE[k], rx: 2 },
        s('title', {}, `${it.label} — ${series[k].name}: ${format(v)}`)));
      svg.appendChild(text(pad.l + w + 4, y + 10, format(v), { 'font-size': 11, fill: MUTED }));
    });
  });
  return svg;
}

/**
 * Lines over time. series: [{name, points: [{x: Date|number, y}], color?}].
 * Options: title, format (y), yMin/yMax, band ({lo, hi} arrays aligned with the first series).
 */
export function line(series, { title = 'Line chart', format = String, width = 560, height = 240, yMin, yMax, zero = false } = {}) {
  const pad = { l: 64, r: 16, t: 24, b: 32 };
  const all = series.flatMap((sr) => sr.points);
  const svg = frame(width, height, title, `${title}: ${series.map((sr) => {
    const last = sr.points[sr.points.length - 1];
    return `${sr.name}, ${sr.points.length} points${last ? `, last ${format(last.y)}` : ''}`;
  }).join('; ')}`);
  if (all.length === 0) {
    svg.appendChild(text(width / 2, height / 2, 'No data', { 'text-anchor': 'middle', fill: MUTED }));
    return svg;
  }
  const xs = all.map((p) => +p.x);
  const ys = all.map((p) => p.y);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  let lo = yMin ?? Math.min(...ys);
  let hi = yMax ?? Math.max(...ys);
  if (zero) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
  if (hi === lo) { hi += 1; lo -= 1; }
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const X = (v) => pad.l + ((+v - x0) / (x1 - x0)) * iw;
  const Y = (v) => pad.t + ih - ((v - lo) / (hi - lo)) * ih;
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    svg.appendChild(s('line', { x1: pad.l, x2: width - pad.r, y1: Y(v), y2: Y(v), stroke: GRID }));
    svg.appendChild(text(pad.l - 6, Y(v) + 4, format(v), { 'text-anchor': 'end', fill: MUTED, 'font-size': 11 }));
  }
  if (lo < 0 && hi > 0) {
    svg.appendChild(s('line', { x1: pad.l, x2: width - pad.r, y1: Y(0), y2: Y(0), stroke: MUTED, 'stroke-dasharray': '4 3' }));
  }
  const isDate = all[0].x instanceof Date;
  for (const v of [x0, (x0 + x1) / 2, x1]) {
    const lab = isDate ? new Date(v).toLocaleDateString('en-GB', { month: 'short', year: '2-digit' }) : Math.round(v);
    svg.appendChild(text(X(v), height - 10, lab, { 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 }));
  }
  series.forEach((sr, k) => {
    const color = sr.color || PALETTE[k % PALETTE.length];
    const d = sr.points.map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
    svg.appendChild(s('path', { d, fill: 'none', stroke: color, 'stroke-width': 2 }));
    if (sr.points.length <= 60) {
      for (const p of sr.points) {
        svg.appendChild(s('circle', { cx: X(p.x), cy: Y(p.y), r: 3, fill: color },
          s('title', {}, `${isDate ? new Date(p.x).toLocaleDateString('en-GB') : p.x}: ${format(p.y)}`)));
      }
    }
    if (series.length > 1) {
      svg.appendChild(s('rect', { x: pad.l + k * 140, y: 4, width: 12, height: 12, fill: color }));
      svg.appendChild(text(pad.l + k * 140 + 16, 14, sr.name));
    }
  });
  return svg;
}

/** Scatter plot coloured by group. points: [{x, y, group, label}]; groups in legend order. */
export function scatter(points, { title = 'Scatter plot', groups, width = 760, height = 480, xLabel = '', yLabel = '', onPoint } = {}) {
  const pad = { l: 40, r: 12, t: 12, b: 36 };
  const names = groups || [...new Set(points.map((p) => p.group))].sort();
  const color = new Map(names.map((g, i) => [g, PALETTE[i % PALETTE.length]]));
  const svg = frame(width, height, title,
    `${title}: ${points.length} customers in ${names.length} groups (${names.map((g) =>
      `${g}: ${points.filter((p) => p.group === g).length}`).join(', ')})`);
  if (!points.length) return svg;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  // A margin of 3 % so the outermost points sit inside the frame.
  const grow = (lo, hi) => { const m = (hi - lo || 1) * 0.03; return [lo - m, hi + m]; };
  const [xa, xb] = grow(Math.min(...xs), Math.max(...xs));
  const [ya, yb] = grow(Math.min(...ys), Math.max(...ys));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const X = (v) => pad.l + ((v - xa) / (xb - xa || 1)) * iw;
  const Y = (v) => pad.t + ih - ((v - ya) / (yb - ya || 1)) * ih;
  svg.appendChild(s('rect', { x: pad.l, y: pad.t, width: iw, height: ih, fill: 'none', stroke: GRID }));
  svg.appendChild(text(pad.l + iw / 2, height - 8, xLabel, { 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 }));
  svg.appendChild(text(14, pad.t + ih / 2, yLabel, {
    'text-anchor': 'middle', fill: MUTED, 'font-size': 11, transform: `rotate(-90 14 ${pad.t + ih / 2})`,
  }));
  const layer = s('g', { 'fill-opacity': 0.75 });
  for (const p of points) {
    const c = s('circle', { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 3.2, fill: color.get(p.group) },
      s('title', {}, `${p.label || ''} ${p.group}`.trim()));
    if (onPoint) c.addEventListener('click', () => onPoint(p));
    layer.appendChild(c);
  }
  svg.appendChild(layer);
  return svg;
}

/** Legend (HTML) for a set of group names in palette order. */
export function legend(names) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  names.forEach((g, i) => {
    const li = document.createElement('li');
    const sw = s('svg', { width: 12, height: 12, viewBox: '0 0 12 12', 'aria-hidden': 'true' },
      s('rect', { width: 12, height: 12, rx: 2, fill: PALETTE[i % PALETTE.length] }));
    li.append(sw, document.createTextNode(` ${g}`));
    ul.appendChild(li);
  });
  return ul;
}

/**
 * SHAP waterfall: from the base value, each feature's contribution moves the running total;
 * the last bar ends at the model's output. contributions: [{label, value}] (largest first);
 * up to `top` are drawn, the rest summed as "other features".
 */
export function waterfall(base, contributions, { title = 'Explanation', format = (v) => v.toFixed(3), top = 8, width = 560, outputLabel = 'score', total: given } = {}) {
  const sorted = [...contributions].sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  const shown = sorted.slice(0, top);
  let rest = sorted.slice(top).reduce((acc, c) => acc + c.value, 0);
  let others = sorted.length - shown.length;
  // Contributions not listed (an API may send only the largest): the gap to the given output.
  if (typeof given === 'number') {
    const gap = given - base - sorted.reduce((a, c) => a + c.value, 0);
    if (Math.abs(gap) > 1e-9) { rest += gap; others = Math.max(others, 1); }
  }
  if (others > 0) shown.push({ label: 'other features', value: rest, title: 'All other features together' });
  const rowH = 24;
  const pad = { l: 180, r: 64, t: 8, b: 26 };
  const rows = shown.length + 2;
  const height = pad.t + pad.b + rowH * rows;
  const total = base + shown.reduce((a, c) => a + c.value, 0);
  const svg = frame(width, height, title,
    `${title}: base ${format(base)}, ${shown.map((c) => `${c.label} ${c.value >= 0 ? '+' : ''}${format(c.value)}`).join(', ')}, ${outputLabel} ${format(total)}`,
    'waterfall');
  let run = base;
  const stops = [base];
  for (const c of shown) { run += c.value; stops.push(run); }
  const range = (Math.max(...stops) - Math.min(...stops)) || 1;
  const lo = Math.min(...stops) - range * 0.15;
  const hi = Math.max(...stops);
  const span = hi - lo;
  const iw = width - pad.l - pad.r;
  const X = (v) => pad.l + ((v - lo) / span) * iw;
  const bar = (i, a, b, fill, name, valueText, detail) => {
    const y = pad.t + i * rowH;
    svg.appendChild(text(pad.l - 8, y + 16, truncate(name, 26), { 'text-anchor': 'end', 'font-size': 11 },
      s('title', {}, detail || name)));
    const x = Math.min(X(a), X(b));
    const w = Math.max(1.5, Math.abs(X(b) - X(a)));
    svg.appendChild(s('rect', { x, y: y + 4, width: w, height: rowH - 8, fill, rx: 2, class: 'wf-bar' },
      s('title', {}, `${detail || name}: ${valueText}`)));
    svg.appendChild(text(x + w + 4, y + 16, valueText, { 'font-size': 11, fill: MUTED }));
  };
  bar(0, lo, base, '#6b7280', 'base value', format(base));
  run = base;
  shown.forEach((c, i) => {
    const next = run + c.value;
    bar(i + 1, run, next, c.value >= 0 ? POSITIVE : NEGATIVE, c.label, `${c.value >= 0 ? '+' : '−'}${format(Math.abs(c.value))}`, c.title);
    run = next;
  });
  bar(rows - 1, lo, total, '#1f2937', outputLabel, format(total));
  // The base line.
  svg.appendChild(s('line', { x1: X(base), x2: X(base), y1: pad.t, y2: height - pad.b, stroke: MUTED, 'stroke-dasharray': '3 3' }));
  svg.appendChild(text(X(base), height - 8, 'base', { 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 }));
  return svg;
}

/** Donut with a legend inside the SVG. slices: [{label, value}]. */
export function donut(slices, { title = 'Breakdown', format = String, width = 420, centre = '' } = {}) {
  const items = slices.filter((x) => x.value > 0);
  const total = items.reduce((a, x) => a + x.value, 0);
  const height = Math.max(200, 28 + items.length * 20);
  const svg = frame(width, height, title,
    `${title}: ${items.map((x) => `${x.label} ${format(x.value)} (${Math.round((100 * x.value) / (total || 1))} %)`).join(', ')}`);
  const cx = 100; const cy = 100; const R = 84; const r = 52;
  if (!total) {
    svg.appendChild(text(cx, cy, 'Nothing yet', { 'text-anchor': 'middle', fill: MUTED }));
    return svg;
  }
  let a0 = -Math.PI / 2;
  items.forEach((x, i) => {
    const frac = x.value / total;
    const a1 = a0 + frac * 2 * Math.PI;
    const fill = PALETTE[i % PALETTE.length];
    const title = s('title', {}, `${x.label}: ${format(x.value)} (${(frac * 100).toFixed(1)} %)`);
    if (frac >= 0.9999) {
      svg.appendChild(s('circle', { cx, cy, r: (R + r) / 2, fill: 'none', stroke: fill, 'stroke-width': R - r }, title));
    } else {
      const large = a1 - a0 > Math.PI ? 1 : 0;
      const p = (ang, rad) => `${(cx + rad * Math.cos(ang)).toFixed(2)},${(cy + rad * Math.sin(ang)).toFixed(2)}`;
      const d = `M${p(a0, R)} A${R},${R} 0 ${large} 1 ${p(a1, R)} L${p(a1, r)} A${r},${r} 0 ${large} 0 ${p(a0, r)} Z`;
      svg.appendChild(s('path', { d, fill, stroke: '#fff', 'stroke-width': 1 }, title));
    }
    a0 = a1;
    const ly = 20 + i * 20;
    svg.appendChild(s('rect', { x: 200, y: ly - 10, width: 12, height: 12, rx: 2, fill }));
    svg.appendChild(text(218, ly, `${truncate(x.label, 18)} ${Math.round(frac * 100)} %`));
  });
  if (centre) svg.appendChild(text(cx, cy + 5, centre, { 'text-anchor': 'middle', 'font-size': 14, 'font-weight': 600 }));
  return svg;
}

/** A horizontal meter (utilisation, goal progress). Colours: ok < warn ≤ bad. */
export function meter(value, max, { title = 'Progress', format = String, warn = 0.5, bad = 0.8, width = 480, invert = false } = {}) {
  const frac = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  const svg = frame(width, 44, title, `${title}: ${format(value)} of ${format(max)} (${Math.round(frac * 100)} %)`, 'meter');
  const level = invert ? 1 - frac : frac;
  const fill = level >= bad ? '#b91c1c' : level >= warn ? '#b45309' : '#15803d';
  svg.appendChild(s('rect', { x: 0, y: 6, width, height: 16, rx: 8, fill: '#e5e7eb' }));
  svg.appendChild(s('rect', { x: 0, y: 6, width: Math.max(frac * width, frac > 0 ? 8 : 0), height: 16, rx: 8, fill }));
  svg.appendChild(text(0, 40, `${format(value)} of ${format(max)}`, { fill: MUTED, 'font-size': 12 }));
  svg.appendChild(text(width, 40, `${Math.round(frac * 100)} %`, { 'text-anchor': 'end', 'font-size': 12, 'font-weight': 600 }));
  return svg;
}

/**
 * A server-made SVG (e.g. a goal roadmap) as an element: parsed as SVG, never as HTML, with
 * scripts, event handlers, style elements and external references removed.
 */
export function importSvg(markup) {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.nodeName.toLowerCase() !== 'svg' || doc.querySelector('parsererror')) return null;
  for (const bad of root.querySelectorAll('script, foreignObject, style')) bad.remove();
  for (const el of [root, ...root.querySelectorAll('*')]) {
    for (const a of [...el.attributes]) {
      const n = a.name.toLowerCase();
      const v = a.value.trim().toLowerCase();
      if (n.startsWith('on') || n === 'style' || ((n === 'href' || n === 'xlink:href') && !v.startsWith('#'))) {
        el.removeAttribute(a.name);
      }
    }
  }
  const svg = document.importNode(root, true);
  svg.classList.add('chart', 'roadmap');
  if (!svg.getAttribute('role')) svg.setAttribute('role', 'img');
  return svg;
}

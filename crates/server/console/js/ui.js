// Small DOM helpers shared by the console and the customer app. Text always goes in as text
// nodes (never innerHTML), so nothing from the API can become markup.

/** Build an element: h('p', {class: 'x', onclick: fn}, 'text', child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const moneyFormats = new Map();
/** Minor units → "€1,234.56" in the given currency. */
export function money(minor, currency = 'EUR', digits) {
  if (minor === null || minor === undefined || Number.isNaN(minor)) return '—';
  const key = `${currency}:${digits}`;
  if (!moneyFormats.has(key)) {
    try {
      moneyFormats.set(key, new Intl.NumberFormat('en-GB', {
        style: 'currency', currency,
        minimumFractionDigits: digits ?? 2, maximumFractionDigits: digits ?? 2,
      }));
    } catch {
      moneyFormats.set(key, { format: (v) => `${v.toFixed(2)} ${currency}` });
    }
  }
  return moneyFormats.get(key).format(Number(minor) / 100);
}

/** A Money value from the API: {amount_minor, currency} or a bare number of minor units. */
export function moneyOf(m, fallbackCurrency = 'EUR') {
  if (m === null || m === undefined) return '—';
  if (typeof m === 'number') return money(m, fallbackCurrency);
  if (typeof m === 'object') {
    const minor = m.minor ?? m.amount_minor ?? m.amount;
    return money(minor, m.currency || fallbackCurrency);
  }
  return String(m);
}

/** Minor units of a Money value from the API. */
export function minorOf(m) {
  if (m === null || m === undefined) return null;
  if (typeof m === 'number') return m;
  return m.minor ?? m.amount_minor ?? m.amount ?? null;
}

export function pct(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return `${(v * 100).toFixed(digits)} %`;
}

export function num(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(Number(v))) return '—';
  return Number(v).toLocaleString('en-GB', { maximumFractionDigits: digits });
}

export function when(v) {
  if (!v) return '—';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function day(v) {
  if (!v) return '—';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toLocaleDateString('en-GB', { dateStyle: 'medium' });
}

/** "groceries_and_food" → "Groceries and food". */
export function label(s) {
  if (s === null || s === undefined) return '';
  const t = String(s).replace(/[_-]+/g, ' ').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** Any API value as a short sentence: {kind: "no_consent", limit: 3} → "No consent (limit: 3)". */
export function describe(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.map(describe).join(', ');
  const { kind, code, text, ...rest } = v;
  const head = text || (kind || code ? label(kind || code) : '');
  const tail = Object.entries(rest).filter(([, x]) => x !== null && x !== undefined)
    .map(([k, x]) => `${label(k).toLowerCase()}: ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(', ');
  return head && tail ? `${head} (${tail})` : head || tail || '—';
}

/** A titled panel. */
export function panel(title, ...body) {
  const id = `p-${Math.random().toString(36).slice(2, 9)}`;
  return h('section', { class: 'panel', 'aria-labelledby': id },
    h('h2', { id }, title), ...body);
}

/** A status line: info, ok, warn, error. */
export function notice(text, kind = 'info') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null }, text);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, text);
}

/** What went wrong with an API call, for a person. */
export function explain(err) {
  if (!err) return 'Something went wrong.';
  if (err.status === 404) return 'Not available on this server.';
  if (err.status === 403 && err.type && err.type.endsWith('consent-required')) {
    return `No consent: ${err.detail || 'the customer has not allowed this.'}`;
  }
  if (err.status === 403) return `Not allowed for this key: ${err.detail || ''}`.trim();
  if (err.status === 409) return err.detail || 'Not ready yet.';
  if (err.status === 503) return err.detail || 'Temporarily unavailable.';
  return err.detail || err.message || String(err);
}

/**
 * A table. columns: [{label, value: row => text|Node, num: bool}]. rows: array.
 * Options: caption, onRow (makes each row a keyboard-activatable link), empty.
 */
export function table(columns, rows, opts = {}) {
  if (!rows || rows.length === 0) return notice(opts.empty || 'Nothing to show.');
  const head = h('thead', {}, h('tr', {}, columns.map((c) =>
    h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label))));
  const body = h('tbody', {}, rows.map((r) => {
    const tr = h('tr', {}, columns.map((c, i) => {
      const v = c.value(r);
      const cell = i === 0 ? 'th' : 'td';
      return h(cell, { class: c.num ? 'num' : null, scope: i === 0 ? 'row' : null }, v);
    }));
    if (opts.onRow) {
      tr.tabIndex = 0;
      tr.classList.add('clickable');
      tr.setAttribute('role', 'link');
      tr.addEventListener('click', () => opts.onRow(r));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); opts.onRow(r); }
      });
    }
    return tr;
  }));
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.caption || 'Table' },
    h('table', {}, opts.caption ? h('caption', {}, opts.caption) : null, head, body));
}

/** A definition list from [label, value] pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A small figure: big number and label. */
export function stat(value, caption, id) {
  return h('div', { class: 'stat' },
    h('span', { class: 'stat-value', id }, value), h('span', { class: 'stat-label' }, caption));
}

/** A pill badge. */
export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}

/** Loads with `load()` into `el`, showing progress and a friendly error. */
export async function fill(el, load) {
  mount(el, loading());
  try {
    const content = await load();
    mount(el, content);
  } catch (err) {
    mount(el, notice(explain(err), err && err.status === 404 ? 'info' : 'error'));
  }
  return el;
}

// The analyst console: hash routes (#/customers/C000123), one view per section, role-aware
// navigation, and one live alert subscription (Server-Sent Events) for the whole session.

import { get, post, optional, whoami, enc } from './api.js';
import {
  h, mount, panel, notice, loading, explain, table, facts, stat, badge, fill,
  money, pct, num, when, label, describe,
} from './ui.js';
import { bars, hbars, line, scatter, legend, PALETTE } from './charts.js';
import { renderCustomer } from './customer.js';
import { kpiView, kpiTable, driftView, experimentsView } from './outcomes.js';

const ALL = ['admin', 'analyst', 'reviewer', 'app'];
const VIEWS = [
  { path: '', title: 'Overview', roles: ALL, render: overview },
  { path: 'segments', title: 'Segments', roles: ['admin', 'analyst'], render: segments },
  { path: 'customers', title: 'Customers', roles: ALL, render: customers },
  { path: 'reviews', title: 'Review queue', roles: ['admin', 'reviewer'], render: reviews },
  { path: 'alerts', title: 'Live alerts', roles: ALL, render: alertsView },
  { path: 'models', title: 'Models', roles: ['admin', 'analyst'], render: models },
  { path: 'fairness', title: 'Fairness', roles: ['admin', 'analyst'], render: fairness },
  { path: 'experiments', title: 'Experiments', roles: ['admin', 'analyst'], render: experiments },
  { path: 'audit', title: 'Audit', roles: ['admin', 'analyst'], render: audit },
];

const main = document.getElementById('main');
const announcer = document.getElementById('announcer');
let me;
/** Move focus to the new heading after a navigation (not on the first load). */
let shouldFocus = false;

// ---------------------------------------------------------------- live alerts (one stream)

const live = { alerts: [], listeners: new Set(), state: 'connecting', source: null };

function startAlerts() {
  if (live.source) return;
  const es = new EventSource('/v1/alerts/stream');
  live.source = es;
  es.addEventListener('open', () => { live.state = 'live'; notifyLive(null); });
  es.addEventListener('error', () => { live.state = 'reconnecting'; notifyLive(null); });
  es.addEventListener('alert', (ev) => {
    let a;
    try { a = JSON.parse(ev.data); } catch { return; }
    live.alerts.unshift(a);
    live.alerts.length = Math.min(live.alerts.length, 100);
    notifyLive(a);
  });
}

function notifyLive(a) {
  for (const fn of live.listeners) fn(a);
}

function alertItem(a) {
  const kind = a.kind || 'info';
  return h('li', { class: kind },
    h('div', { class: 'spread' },
      h('span', {}, badge(label(kind), kind), ' ', h('strong', {}, label(a.rule || 'alert')),
        a.severity ? h('span', { class: 'muted small' }, ` · ${a.severity} severity`) : null),
      h('span', { class: 'muted small' }, when(a.at))),
    h('div', { class: 'small' },
      a.customer_id ? h('a', { href: `#/customers/${enc(a.customer_id)}` }, `Customer ${a.customer_id}`) : null,
      a.reason ? ` — ${a.reason}` : '',
      a.hold_for_review ? ' ' : null, a.hold_for_review ? badge('decisions held for review', 'warn') : null));
}

// ---------------------------------------------------------------- router

function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, ...rest] = raw.split('/').map(decodeURIComponent);
  return { path: path || '', rest };
}

function allowed(view) {
  return view.roles.includes(me.role);
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  mount(nav, VIEWS.filter(allowed).map((v) =>
    h('li', {}, h('a', {
      href: `#/${v.path}`,
      'aria-current': v.path === current ? 'page' : null,
    }, v.title))));
}

async function show() {
  const { path, rest } = route();
  let view = VIEWS.find((v) => v.path === path);
  if (!view) view = VIEWS[0];
  if (!allowed(view)) {
    const first = VIEWS.find(allowed);
    if (first && first !== view) { location.hash = `#/${first.path}`; return; }
  }
  renderNav(view.path);
  document.title = `${view.title} — Sextant console`;
  const heading = h('h1', { tabindex: '-1' }, view.title);
  const body = h('div', { class: 'stack' });
  mount(main, heading, body);
  live.listeners.clear();
  try {
    await view.render(body, rest, heading);
  } catch (e) {
    mount(body, notice(explain(e), 'error'));
  }
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    if (shouldFocus) heading.focus({ preventScroll: false });
  }
  announcer.textContent = `${heading.textContent} loaded`;
}


// ---------------------------------------------------------------- overview

async function overview(body) {
  const status = h('div');
  const figures = h('div', { class: 'stats' });
  const recent = h('div');
  const engagement = h('div');
  const kpis = h('div');
  const drift = h('div');
  mount(body,
    panel('The bank today', figures),
    h('div', { class: 'grid' },
      panel('Event stream', status),
      panel('Recent alerts', recent)),
    h('div', { class: 'grid' },
      panel('Offer engagement (bandit arms)', engagement),
      panel('KPIs', kpis)),
    panel('Drift', drift));

  const count = stat('…', 'customers', 'customer-count');
  const rate = stat('…', 'events per minute', 'events-per-minute');
  const lag = stat('…', 'stream lag (events)', 'stream-lag');
  const accept = stat('…', 'acceptance rate');
  const ctr = stat('…', 'click-through rate');
  mount(figures, count, rate, lag, accept, ctr);

  get('/v1/stats').then((c) => {
    count.querySelector('.stat-value').textContent = num(c.customers, 0);
    figures.appendChild(stat(num(c.transactions, 0), 'transactions'));
    figures.appendChild(stat(num(c.audit_entries, 0), 'audit entries'));
  }).catch(() => { count.querySelector('.stat-value').textContent = '—'; });

  // Events per minute from two samples of the processor's counter.
  const samples = [];
  const sample = async () => {
    try {
      const s = await get('/v1/stream/status');
      samples.push({ t: Date.now(), n: s.processed });
      if (samples.length > 13) samples.shift();
      const first = samples[0]; const last = samples[samples.length - 1];
      const minutes = (last.t - first.t) / 60000;
      rate.querySelector('.stat-value').textContent = minutes > 0 ? num((last.n - first.n) / minutes, 0) : '…';
      lag.querySelector('.stat-value').textContent = s.lag ?? '—';
      mount(status, facts([
        ['Mode', s.mode], ['Accepted', num(s.accepted, 0)], ['Processed', num(s.processed, 0)],
        ['Alerts raised', num(s.alerts, 0)], ['Suppressed by consent', num(s.suppressed_by_consent, 0)],
        ['Duplicates', num(s.duplicates, 0)], ['Rejected', num(s.rejected, 0)],
        ['Lag', s.lag ?? '—'], ['Customers in memory', num(s.customers_in_memory, 0)],
        ['Last error', s.last_error || 'none'],
      ]), h('p', { class: 'muted small' }, 'Counts since this server started; refreshed every 5 s.'));
    } catch (e) {
      mount(status, notice(explain(e), 'info'));
      rate.querySelector('.stat-value').textContent = '—';
      lag.querySelector('.stat-value').textContent = '—';
      return false;
    }
    return true;
  };
  if (await sample()) {
    const timer = setInterval(async () => {
      if (!body.isConnected) { clearInterval(timer); return; }
      await sample();
    }, 5000);
  }

  fill(recent, async () => {
    const page = await get('/v1/alerts?limit=8');
    if (!page.alerts.length) return notice('No alerts yet.');
    return h('ul', { class: 'feed' }, page.alerts.map(alertItem));
  });

  fill(engagement, async () => {
    const a = await get('/v1/recommendations/arms');
    const arms = a.arms || [];
    const pulls = arms.reduce((x, r) => x + r.pulls, 0);
    const accepts = arms.reduce((x, r) => x + r.accepts, 0);
    const clicks = arms.reduce((x, r) => x + r.clicks, 0);
    accept.querySelector('.stat-value').textContent = pulls ? pct(accepts / pulls) : '—';
    ctr.querySelector('.stat-value').textContent = pulls ? pct(clicks / pulls) : '—';
    if (!arms.length) return notice('No offers shown yet.');
    return h('div', {},
      bars(arms.filter((r) => r.pulls > 0).slice(0, 12).map((r) => ({ label: r.arm, value: r.accepts / r.pulls })),
        { title: 'Acceptance rate by product', format: (v) => pct(v, 0) }),
      h('p', { class: 'muted small' }, `${num(pulls, 0)} offers shown, ${num(accepts, 0)} accepted, ${num(clicks, 0)} clicked (policy ${a.policy}).`));
  });

  fill(kpis, async () => {
    const k = await optional('/v1/kpis');
    if (!k) return notice('KPIs are not available on this server yet.');
    const bySegment = await optional('/v1/kpis?group_by=segment');
    return h('div', { class: 'stack' }, kpiView(k), bySegment ? kpiTable(bySegment) : null);
  });
  fill(drift, async () => {
    const d = await optional('/v1/monitor');
    if (!d) return notice('Drift monitoring is not available on this server yet.');
    return driftView(d);
  });
}

function genericView(v) {
  return h('pre', { class: 'json' }, JSON.stringify(v, null, 2));
}

// ---------------------------------------------------------------- segments

async function segments(body) {
  const mapBox = h('div');
  const cardsBox = h('div');
  mount(body, panel('Segment map', mapBox), panel('Personas', cardsBox));
  let list;
  try {
    list = await get('/v1/segments');
  } catch (e) {
    mount(mapBox, notice(explain(e), 'info'));
    mount(cardsBox, notice('Train and promote a segment model first: sextant segment train --promote.'));
    return;
  }
  const ids = list.personas.map((p) => p.segment_id);
  const colour = new Map(ids.map((id, i) => [id, PALETTE[i % PALETTE.length]]));
  const names = new Map(list.personas.map((p) => [p.segment_id, p.name]));
  fill(mapBox, async () => {
    const m = await get('/v1/segments/map?limit=2000');
    const axis = (i) => (m.axes[i] || []).slice(0, 2).map((l) => `${l.weight >= 0 ? '+' : '−'}${label(l.feature)}`).join(', ');
    return h('div', {},
      h('p', { class: 'muted small' },
        `${m.points.length} customers with profiling consent (model v${m.model_version}), projected on their first two principal components: `
        + `${pct(m.explained_variance[0] || 0, 0)} and ${pct(m.explained_variance[1] || 0, 0)} of the variance.`),
      h('div', { class: 'chart-box' }, scatter(
        m.points.map((p) => ({ x: p.x, y: p.y, group: p.segment_id, label: `Customer ${p.customer_id}` })),
        { title: 'Customers coloured by segment', groups: ids, xLabel: `PC1 (${axis(0)})`, yLabel: `PC2 (${axis(1)})`,
          onPoint: (p) => { location.hash = `#/customers/${enc(p.label.replace('Customer ', ''))}`; } })),
      legend(ids.map((id) => `${id} ${names.get(id) || ''}`)));
  });
  mount(cardsBox, h('p', { class: 'muted small' },
    `Model v${list.model_version} over ${list.features.length} features.`),
  h('div', { class: 'cards' }, list.personas.map((p) => {
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    sw.style.background = colour.get(p.segment_id);
    return h('article', { class: 'card' },
      h('h3', {}, sw, `${p.segment_id} · ${p.name}`),
      h('p', { class: 'small' }, p.description),
      h('p', { class: 'row' }, Object.values(p.tags || {}).map((t) => badge(label(t)))),
      h('p', { class: 'small muted' }, `${num(list.sizes[p.segment_id] ?? p.size, 0)} customers now · ${pct(p.share, 0)} of training`),
      h('ul', { class: 'small' }, (p.distinguishing || []).map((d) =>
        h('li', {}, `${label(d.feature)}: ${num(d.value, 2)} vs ${num(d.population_mean, 2)} overall (z ${d.z >= 0 ? '+' : ''}${num(d.z, 1)})`))));
  })));
}

// ---------------------------------------------------------------- customers

async function customers(body, rest) {
  if (rest[0]) {
    return renderCustomer(body, rest[0], me, { heading: main.querySelector('h1') });
  }
  const q = h('input', { id: 'customer-search', type: 'search', placeholder: 'Customer id or name', autocomplete: 'off' });
  const results = h('div');
  let items = [];
  let cursor = null;
  const draw = () => {
    const term = q.value.trim().toLowerCase();
    const rows = term ? items.filter((c) => c.id.toLowerCase().includes(term) || (c.name || '').toLowerCase().includes(term)) : items;
    mount(results,
      table([
        { label: 'Customer', value: (c) => h('a', { href: `#/customers/${enc(c.id)}` }, c.id) },
        { label: 'Name', value: (c) => c.name },
        { label: 'Age', value: (c) => c.age, num: true },
        { label: 'Income', value: (c) => moneyish(c.income), num: true },
        { label: 'Risk', value: (c) => label(c.risk_profile) },
        { label: 'Engagement', value: (c) => label(c.engagement_level) },
      ], rows.slice(0, 200), { caption: `${rows.length} of ${items.length} loaded customers`, onRow: (c) => { location.hash = `#/customers/${enc(c.id)}`; } }),
      cursor ? h('button', { type: 'button', onclick: more }, 'Load more') : null);
  };
  const more = async () => {
    const page = await get(`/v1/customers?limit=500${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    items = items.concat(page.items);
    cursor = page.next_cursor;
    draw();
  };
  const open = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    const v = q.value.trim();
    if (v && items.some((c) => c.id === v)) location.hash = `#/customers/${enc(v)}`;
    else if (v && /^[A-Za-z0-9_-]+$/.test(v)) location.hash = `#/customers/${enc(v)}`;
  } }, h('div', { class: 'grow' }, h('label', { for: 'customer-search' }, 'Find a customer'), q),
  h('button', { type: 'submit', class: 'primary' }, 'Open'));
  q.addEventListener('input', draw);
  mount(body, panel('Customers', open, results));
  mount(results, loading());
  try { await more(); } catch (e) { mount(results, notice(explain(e), 'error')); }
}

function moneyish(m) {
  if (m && typeof m === 'object') return money(m.minor ?? m.amount_minor, m.currency);
  return m ?? '—';
}

// ---------------------------------------------------------------- reviews

async function reviews(body, rest) {
  if (rest[0]) return reviewCase(body, rest[0]);
  const status = h('select', { id: 'review-status' },
    ['pending', 'approved', 'modified', 'rejected', 'all'].map((s) => h('option', { value: s }, label(s))));
  const list = h('div');
  const load = () => fill(list, async () => {
    const r = await get(`/v1/reviews?status=${status.value}&limit=200`);
    return table([
      { label: 'Case', value: (c) => h('a', { href: `#/reviews/${enc(c.id)}` }, h('code', {}, c.id)) },
      { label: 'Customer', value: (c) => h('a', { href: `#/customers/${enc(c.customer_id)}` }, c.customer_id) },
      { label: 'Reason', value: (c) => describe(c.reason) },
      { label: 'Opened', value: (c) => when(c.created_at) },
      { label: 'Status', value: (c) => badge(label(c.status), c.status === 'pending' ? 'warn' : c.status === 'rejected' ? 'bad' : 'ok') },
    ], r.reviews, { caption: `${r.reviews.length} ${status.value} case(s)`, empty: `No ${status.value} cases.`, onRow: (c) => { location.hash = `#/reviews/${enc(c.id)}`; } });
  });
  status.addEventListener('change', load);
  mount(body, panel('Cases', h('div', { class: 'form-row' }, h('div', {}, h('label', { for: 'review-status' }, 'Status'), status)), list));
  await load();
}

async function reviewCase(body, id) {
  mount(body, loading());
  const c = await get(`/v1/reviews/${enc(id)}`);
  const d = c.decision || {};
  const payload = d.payload || {};
  const out = h('div', { id: 'review-result', 'aria-live': 'polite' });
  const note = h('textarea', { id: 'review-note', name: 'note' });
  const changes = h('textarea', { id: 'review-changes', name: 'changes', placeholder: '{"credit_amount": 15000}' });
  const status = h('span', { id: 'review-status-badge' }, badge(label(c.status), c.status === 'pending' ? 'warn' : 'ok'));
  const outcome = (v, text, checked) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'outcome', value: v, checked }), ` ${text}`);
  const form = h('form', { id: 'review-form', onsubmit: async (e) => {
    e.preventDefault();
    const chosen = form.querySelector('input[name=outcome]:checked').value;
    const req = { outcome: chosen };
    if (note.value.trim()) req.note = note.value.trim();
    if (chosen === 'modify') {
      try { req.changes = JSON.parse(changes.value || '{}'); } catch { mount(out, notice('Changes must be a JSON object.', 'error')); return; }
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const r = await post(`/v1/reviews/${enc(id)}`, req);
      mount(status, badge(label(r.status), r.status === 'rejected' ? 'bad' : 'ok'));
      mount(out, notice(`Case ${r.status}.`, 'ok'), auditEntry(r.audit));
      form.querySelectorAll('input, textarea, button').forEach((el) => { el.disabled = true; });
      out.querySelector('.audit-entry')?.focus();
    } catch (err) {
      btn.disabled = false;
      mount(out, notice(explain(err), 'error'));
    }
  } },
  h('fieldset', {}, h('legend', {}, 'Decision'),
    outcome('approve', 'Approve', true), outcome('modify', 'Modify'), outcome('reject', 'Reject')),
  h('label', { for: 'review-note' }, 'Note (required to modify or reject)'), note,
  h('label', { for: 'review-changes' }, 'Changes (JSON, for modify)'), changes,
  h('p', {}, h('button', { type: 'submit', class: 'primary' }, 'Submit decision')));
  const resolved = c.status !== 'pending';
  const conversation = h('div');
  mount(body,
    h('p', {}, h('a', { href: '#/reviews' }, '← All cases')),
    h('div', { class: 'grid wide' },
      panel('Case',
        facts([
          ['Case', h('code', {}, c.id)],
          ['Customer', h('a', { href: `#/customers/${enc(c.customer_id)}` }, c.customer_id)],
          ['Reason', describe(c.reason)], ['Status', status], ['Opened', when(c.created_at)],
          ['Decision', d.kind ? `${label(d.kind)} (${d.status})` : c.decision_id],
          ...(c.reviewer ? [['Reviewer', c.reviewer], ['Note', c.note || '—'], ['Resolved', when(c.resolved_at)]] : []),
        ])),
      panel('Explanation', explanationOf(payload))),
    payload.conversation_id ? panel('Conversation', conversation) : null,
    panel(resolved ? 'Already resolved' : 'Resolve', resolved ? notice(`This case is ${c.status}.`) : form, out),
    panel('Decision record', h('details', {}, h('summary', {}, 'Full decision (JSON)'), genericView(d))));
  if (payload.conversation_id) {
    fill(conversation, async () => {
      const conv = await get(`/v1/assistant/conversations/${enc(payload.conversation_id)}`);
      return h('div', { class: 'chat' }, (conv.turns || []).map((t) =>
        h('div', { class: `bubble ${t.role === 'customer' || t.role === 'user' ? 'me' : 'bot'}` },
          h('span', { class: 'visually-hidden' }, `${t.role}: `), t.text,
          t.sentiment != null ? h('span', { class: 'small muted' }, ` (sentiment ${num(t.sentiment, 2)})`) : null)));
    });
  }
}

/** What a held decision says: product, explanation, reasons, regulator detail. */
function explanationOf(p) {
  if (!p || typeof p !== 'object') return notice('No explanation stored.');
  const rec = p.recommendation || p;
  if (!rec.product_name && !rec.explanation) {
    // Not an offer (e.g. an assistant hand-off): its fields as facts.
    return facts(Object.entries(p).map(([k, v]) => [label(k), typeof v === 'number' ? num(v, 3) : describe(v)]));
  }
  const reasons = rec.reasons || [];
  return h('div', {},
    rec.product_name ? h('h3', {}, rec.product_name) : null,
    rec.explanation ? h('p', {}, rec.explanation) : null,
    reasons.length ? h('ul', {}, reasons.map((r) => h('li', {}, reasonText(r)))) : null,
    rec.review ? h('p', { class: 'small' }, 'Held because: ', describe(rec.review)) : null,
    rec.propensity !== undefined ? facts([
      ['Propensity', pct(rec.propensity)], ['Confidence', pct(rec.confidence)], ['Value', num(rec.value, 2)],
      ['Channel', p.channel || '—'],
    ]) : null);
}

export function reasonText(r) {
  if (typeof r === 'string') return r;
  if (!r) return '';
  return r.text || r.sentence || r.description || r.label || r.code || JSON.stringify(r);
}

function auditEntry(e) {
  if (!e) return notice('The decision was recorded.');
  return h('div', { class: 'audit-entry', tabindex: '-1', id: 'audit-entry' },
    h('h3', {}, `Audit entry #${e.seq}`),
    facts([['Action', e.action], ['Actor', e.actor], ['Subject (pseudonym)', h('code', {}, e.subject)],
      ['At', when(e.at)], ['Hash', h('code', {}, (e.hash || '').slice(0, 24) + '…')]]),
    h('details', {}, h('summary', {}, 'Details'), genericView(e.details)));
}

// ---------------------------------------------------------------- alerts

async function alertsView(body) {
  const state = h('p', { class: 'muted small', id: 'alert-state' });
  const list = h('ul', { class: 'feed', id: 'alert-feed', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const stored = h('div');
  mount(body,
    panel('Live feed', state, list),
    panel('Stored alerts', stored));
  let reload = () => {};
  const render = (a) => {
    state.textContent = live.state === 'live' ? 'Connected: new alerts appear here as they are raised.' : `Stream ${live.state}…`;
    if (a) { list.prepend(alertItem(a)); reload(); }
    if (!list.children.length) state.textContent += ' None since this page opened.';
  };
  for (const a of live.alerts) list.appendChild(alertItem(a));
  live.listeners.add(render);
  render(null);
  const kind = h('select', { id: 'alert-kind' }, ['all', 'fraud', 'distress', 'opportunity', 'info'].map((k) => h('option', { value: k }, label(k))));
  const box = h('div');
  const load = () => fill(box, async () => {
    const r = await get(`/v1/alerts?limit=50${kind.value !== 'all' ? `&kind=${kind.value}` : ''}`);
    return table([
      { label: 'When', value: (a) => when(a.at) },
      { label: 'Kind', value: (a) => badge(label(a.kind), a.kind) },
      { label: 'Rule', value: (a) => label(a.rule) },
      { label: 'Severity', value: (a) => a.severity || '' },
      { label: 'Customer', value: (a) => h('a', { href: `#/customers/${enc(a.customer_id)}` }, a.customer_id) },
      { label: 'Why', value: (a) => a.reason || '' },
    ], r.alerts, { empty: 'No stored alerts.' });
  });
  reload = () => setTimeout(load, 500);
  kind.addEventListener('change', load);
  mount(stored, h('div', { class: 'form-row' }, h('div', {}, h('label', { for: 'alert-kind' }, 'Kind'), kind)), box);
  await load();
}

// ---------------------------------------------------------------- models and fairness

async function models(body) {
  const r = await get('/v1/models');
  const drift = h('div');
  mount(body,
    panel('Bank models', table([
      { label: 'Model', value: (m) => `${m.name}:${m.version}` },
      { label: 'Promoted', value: (m) => (m.promoted ? badge('serving', 'ok') : '') },
      { label: 'Registered', value: (m) => when(m.created_at) },
      { label: 'Rows', value: (m) => num(m.rows, 0), num: true },
      { label: 'Positives', value: (m) => num(m.positives, 0), num: true },
      { label: 'ROC AUC (CV)', value: (m) => num(metric(m, 'roc_auc'), 3), num: true },
      { label: 'Brier (CV)', value: (m) => num(metric(m, 'brier'), 3), num: true },
      { label: 'Data', value: (m) => h('code', {}, (m.data_hash || '').slice(0, 12)) },
    ], r.models, { empty: 'No bank models registered: sextant model train-bank --target churn --promote.' })),
    panel('Segment models', table([
      { label: 'Version', value: (m) => `v${m.version}` },
      { label: 'Promoted', value: (m) => (m.promoted ? badge('serving', 'ok') : '') },
      { label: 'Trained', value: (m) => when(m.created_at) },
      { label: 'Customers', value: (m) => num(m.trained_on, 0), num: true },
      { label: 'Segments', value: (m) => m.leaves, num: true },
      { label: 'Silhouette', value: (m) => num(m.silhouette, 3), num: true },
    ], r.segment_models, { empty: 'No segment models.' })),
    panel('Drift', drift));
  fill(drift, async () => {
    const d = await optional('/v1/monitor');
    return d ? driftView(d) : notice('Drift monitoring is not available on this server yet.');
  });
}

/** A cross-validated metric from a model card, whatever its exact layout. */
function metric(m, name) {
  const ms = m.metrics;
  if (!ms) return null;
  const models = ms.models || [];
  const named = (n) => models.find((x) => (x.model || x.name) === n);
  const best = named('gbdt_calibrated') || named('gbdt') || models[0];
  const v = best && best.metrics ? best.metrics[name] : ms[name];
  return typeof v === 'number' ? v : (v && typeof v.mean === 'number' ? v.mean : null);
}

async function fairness(body) {
  const r = await get('/v1/models');
  const withAudit = r.models.filter((m) => Array.isArray(m.fairness) && m.fairness.length);
  if (!withAudit.length) {
    mount(body, notice('No stored fairness audit yet: train a bank model (sextant model train-bank) to record one.'));
    return;
  }
  const select = h('select', { id: 'fairness-model' }, withAudit.map((m, i) =>
    h('option', { value: String(i) }, `${m.name}:${m.version}${m.promoted ? ' (serving)' : ''}`)));
  const box = h('div', { class: 'stack' });
  const draw = () => {
    const m = withAudit[Number(select.value)];
    mount(box, ...m.fairness.map((a) => fairnessPanel(a)));
  };
  select.addEventListener('change', draw);
  mount(body, panel('Model', h('label', { for: 'fairness-model' }, 'Fairness audit of'), select,
    h('p', { class: 'muted small' }, 'Computed on the training customers when the model was trained; the favourable outcome is what the customer wants. Intervals are 95 % bootstrap intervals.')), box);
  draw();
}

function estimate(e) {
  if (e === null || e === undefined) return '—';
  if (typeof e === 'number') return num(e, 3);
  if (e.value === null || e.value === undefined) return `undefined${e.undefined_reason ? ` (${e.undefined_reason})` : ''}`;
  const ci = e.ci || {};
  const lo = ci.lower ?? e.ci_low;
  const hi = ci.upper ?? e.ci_high;
  return `${num(e.value, 3)}${lo != null && hi != null ? ` [${num(lo, 3)}, ${num(hi, 3)}]` : ''}`;
}

function fairnessPanel(a) {
  const groups = a.groups || [];
  return panel(`By ${label(a.attribute)}`,
    a.four_fifths_violation ? notice('Disparate impact below the four-fifths rule (0.8).', 'warn') : notice('Within the four-fifths rule.', 'ok'),
    facts([
      ['Demographic parity difference', estimate(a.demographic_parity_difference)],
      ['Disparate impact ratio', estimate(a.disparate_impact_ratio)],
      ['Equal opportunity difference', estimate(a.equal_opportunity_difference)],
      ['Equalized odds difference', estimate(a.equalized_odds_difference)],
    ]),
    hbars(groups.map((g) => ({ label: g.group, values: [g.selection_rate, g.true_positive_rate ?? g.tpr ?? null] })),
      [{ name: 'Selection rate', color: PALETTE[0] }, { name: 'True positive rate', color: PALETTE[2] }],
      { title: `Selection and true positive rates by ${a.attribute}`, format: (v) => pct(v, 0) }),
    table([
      { label: 'Group', value: (g) => g.group },
      { label: 'Count', value: (g) => num(g.count ?? g.n, 0), num: true },
      { label: 'Selection rate', value: (g) => pct(g.selection_rate), num: true },
      { label: 'TPR', value: (g) => pct(g.true_positive_rate ?? g.tpr), num: true },
      { label: 'FPR', value: (g) => pct(g.false_positive_rate ?? g.fpr), num: true },
    ], groups));
}

// ---------------------------------------------------------------- experiments

async function experiments(body) {
  const exp = h('div');
  const arms = h('div');
  mount(body, exp, panel('Bandit arms', arms));
  experimentsView(exp, me);
  fill(arms, async () => {
    const a = await get('/v1/recommendations/arms');
    return h('div', {},
      h('p', { class: 'muted small' }, `Policy: ${a.policy}`),
      table([
        { label: 'Arm (product)', value: (r) => r.arm },
        { label: 'Shown', value: (r) => num(r.pulls, 0), num: true },
        { label: 'Clicks', value: (r) => num(r.clicks, 0), num: true },
        { label: 'Accepts', value: (r) => num(r.accepts, 0), num: true },
        { label: 'Dismisses', value: (r) => num(r.dismisses, 0), num: true },
        { label: 'Acceptance', value: (r) => (r.pulls ? pct(r.accepts / r.pulls) : '—'), num: true },
        { label: 'Mean reward', value: (r) => num(r.mean_reward, 3), num: true },
        { label: '‖θ‖', value: (r) => num(r.theta_norm, 3), num: true },
      ], a.arms, { empty: 'No arms yet.' }));
  });
}

// ---------------------------------------------------------------- audit

async function audit(body) {
  const verifyOut = h('div', { 'aria-live': 'polite', id: 'verify-result' });
  const verifyBtn = h('button', { type: 'button', class: 'primary', id: 'verify-chain', onclick: async () => {
    verifyBtn.disabled = true;
    mount(verifyOut, loading('Verifying the hash chain…'));
    try {
      const v = await get('/v1/audit/verify');
      mount(verifyOut, v.intact
        ? notice(`Chain intact: ${num(v.entries, 0)} entries verified.`, 'ok')
        : notice(`Chain broken at entry ${v.broken_at}: ${v.reason}`, 'error'));
    } catch (e) {
      mount(verifyOut, notice(explain(e), 'error'));
    }
    verifyBtn.disabled = false;
  } }, 'Verify chain');
  const field = (id, text, attrs = {}) => h('div', {}, h('label', { for: id }, text), h('input', { id, name: id, type: 'text', ...attrs }));
  const results = h('div');
  let after = 0;
  const search = async (more = false) => {
    const f = new FormData(form);
    const params = new URLSearchParams({ limit: '100' });
    const from = f.get('from'); const to = f.get('to');
    if (from) params.set('from', `${from}T00:00:00Z`);
    if (to) params.set('to', `${to}T23:59:59Z`);
    for (const k of ['action', 'actor', 'customer_id']) if (f.get(k)) params.set(k, f.get(k).trim());
    if (more) params.set('after', String(after));
    try {
      const page = await get(`/v1/audit?${params}`);
      after = page.next_after || 0;
      const t = table([
        { label: '#', value: (e) => e.seq, num: true },
        { label: 'At', value: (e) => when(e.at) },
        { label: 'Action', value: (e) => e.action },
        { label: 'Actor', value: (e) => e.actor },
        { label: 'Subject', value: (e) => h('code', {}, String(e.subject).slice(0, 16)) },
        { label: 'Details', value: (e) => h('details', {}, h('summary', {}, 'show'), genericView(e.details)) },
      ], page.items, { empty: 'No matching entries.', caption: `${page.items.length} entries` });
      mount(results, t, page.next_after ? h('button', { type: 'button', onclick: () => search(true) }, 'Next page') : null);
    } catch (e) {
      mount(results, notice(explain(e), e.status === 403 ? 'info' : 'error'));
    }
  };
  const form = h('form', { id: 'audit-search', onsubmit: (e) => { e.preventDefault(); search(false); } },
    h('div', { class: 'form-row' },
      field('from', 'From (date)', { type: 'date' }), field('to', 'To (date)', { type: 'date' }),
      field('action', 'Action starts with', { placeholder: 'decision.' }),
      field('actor', 'Actor (key id)'), field('customer_id', 'Customer id')),
    h('p', {}, h('button', { type: 'submit', class: 'primary' }, 'Search')));
  mount(body,
    panel('Integrity', h('p', {}, 'Every entry carries the hash of the one before; verification re-computes the whole chain.'), verifyBtn, verifyOut),
    panel('Search', me.role === 'admin' ? form : notice('Reading audit entries needs an admin key.'), results));
  if (me.role === 'admin') await search(false);
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    me = await whoami();
  } catch (e) {
    mount(main, notice(explain(e), 'error'));
    return;
  }
  if (me.role === 'customer') { location.replace('/app/'); return; }
  document.getElementById('who').textContent = `Signed in: ${me.role} (key ${me.key_id.slice(0, 8)})`;
  if (!location.hash && me.role === 'reviewer') location.hash = '#/reviews';
  startAlerts();
  window.addEventListener('hashchange', () => { shouldFocus = true; show(); });
  await show();
}

start();

// Customer 360: everything the bank knows and decided about one customer, each panel loaded on
// its own so a missing consent or model leaves the others working.

import { get, enc } from './api.js';
import {
  h, mount, panel, notice, table, facts, badge, fill, money, moneyOf, minorOf, pct, num, when, day, label,
} from './ui.js';
import { bars, line, waterfall, donut, meter, importSvg } from './charts.js';

function reasonText(r) {
  if (typeof r === 'string') return r;
  if (!r) return '';
  return r.text || r.sentence || r.description || r.label || r.code || JSON.stringify(r);
}

/** The customer's accounts by kind: what they hold and what they owe, as two donuts. */
export function portfolio(accounts, currency, { you = false } = {}) {
  const held = new Map();
  const owed = new Map();
  for (const a of accounts) {
    if (a.status && a.status !== 'open') continue;
    const v = minorOf(a.balance) || 0;
    const into = v >= 0 ? held : owed;
    into.set(a.kind, (into.get(a.kind) || 0) + Math.abs(v));
  }
  const total = (m) => [...m.values()].reduce((x, y) => x + y, 0);
  const chart = (m, title) => donut([...m].map(([k, v]) => ({ label: label(k), value: v })),
    { title, format: (v) => money(v, currency, 0), centre: money(total(m), currency, 0) });
  return h('div', { class: 'portfolio' },
    h('h3', {}, you ? 'What you hold' : 'Held'), held.size ? chart(held, 'Balances held by account kind') : notice('No positive balances.'),
    owed.size ? h('h3', {}, you ? 'What you owe' : 'Owed') : null, owed.size ? chart(owed, 'Amounts owed by account kind') : null);
}

/** Credit cards: balance owed against limit. */
export function utilisation(accounts, currency) {
  const cards = accounts.filter((a) => minorOf(a.limit) && /card|credit/.test(a.kind) && (!a.status || a.status === 'open'));
  if (!cards.length) return notice('No open credit card.');
  return h('div', {}, cards.map((a) => {
    const owed = Math.max(0, -(minorOf(a.balance) || 0));
    return h('div', {},
      h('p', { class: 'small' }, `${label(a.kind)} ${a.id}`),
      meter(owed, minorOf(a.limit), { title: `Credit utilisation of ${a.id}`, format: (v) => money(v, currency, 0), warn: 0.3, bad: 0.7 }));
  }));
}

/** A goal with its progress meter and roadmap chart (fetched as SVG). */
export function goalCard(g, opts = {}) {
  const chart = h('div', { class: 'chart-box' });
  const card = h('article', { class: 'goal' },
    h('div', { class: 'spread' }, h('h3', {}, g.name || label(g.kind)),
      badge(g.on_track ? 'on track' : 'behind', g.on_track ? 'ok' : 'warn')),
    h('p', { class: 'small muted' }, `${money(g.target_minor, g.currency, 0)} by ${day(g.target_date)} · ${money(g.monthly_contribution_minor, g.currency, 0)} a month`),
    meter(g.saved_minor, g.target_minor, { title: `Saved towards ${g.name || g.kind}`, format: (v) => money(v, g.currency, 0), invert: true, warn: 0.5, bad: 0.85 }),
    chart);
  if (g.roadmap_url && opts.roadmap !== false) {
    fill(chart, async () => {
      const svg = importSvg(await get(g.roadmap_url));
      return svg || notice('The roadmap could not be drawn.');
    });
  }
  return card;
}

export async function renderCustomer(body, id, me, { heading } = {}) {
  const c = await get(`/v1/customers/${enc(id)}`);
  const cur = (c.income && c.income.currency) || 'EUR';
  if (heading) heading.textContent = `${c.name} · ${c.id}`;
  document.title = `${c.name} — Sextant console`;
  const box = () => h('div');
  const b = {
    profile: box(), consents: box(), segment: box(), accounts: box(), tx: box(), insights: box(),
    scores: box(), recs: box(), goals: box(), sentiment: box(), alerts: box(), audit: box(),
  };
  mount(body,
    h('p', {}, h('a', { href: '#/customers' }, '← All customers')),
    h('div', { class: 'grid' },
      panel('Profile', b.profile), panel('Consents', b.consents), panel('Segment', b.segment)),
    h('div', { class: 'grid wide' },
      panel('Scores and explanations', b.scores), panel('Recommendations', b.recs)),
    h('div', { class: 'grid wide' }, panel('Accounts', b.accounts), panel('Insights', b.insights)),
    panel('Transactions', b.tx),
    h('div', { class: 'grid wide' }, panel('Goals', b.goals), panel('Sentiment over time', b.sentiment)),
    h('div', { class: 'grid wide' }, panel('Alerts', b.alerts), panel('Audit trail', b.audit)));

  mount(b.profile, facts([
    ['Customer', c.id], ['Name', c.name], ['Age', c.age], ['Income', moneyOf(c.income)],
    ['Occupation', c.occupation || '—'], ['Customer since', day(c.joined_on)],
    ['Spending habit', label(c.spending_habit)], ['Risk profile', label(c.risk_profile)],
    ['Engagement', label(c.engagement_level)], ['Sentiment score', num(c.sentiment_score, 2)],
  ]));

  fill(b.consents, async () => {
    const v = await get(`/v1/customers/${enc(id)}/consents`);
    const cur = v.current || {};
    const granted = cur.granted || cur.purposes || cur;
    const rows = Object.entries(granted).filter(([, x]) => typeof x === 'boolean');
    return h('div', {},
      rows.length ? h('ul', { class: 'row', id: 'consent-badges' }, rows.map(([k, x]) =>
        h('li', { class: 'plain' }, badge(`${label(k)}: ${x ? 'yes' : 'no'}`, x ? 'ok' : 'bad')))) : h('pre', { class: 'json' }, JSON.stringify(cur, null, 2)),
      h('p', { class: 'small muted' }, `${(v.history || []).length} recorded change(s).`));
  });

  fill(b.segment, async () => {
    const s = await get(`/v1/customers/${enc(id)}/segment`);
    const p = s.persona;
    return h('div', {},
      h('h3', {}, `${p.segment_id} · ${p.name}`),
      h('p', { class: 'small' }, p.description),
      h('p', { class: 'row' }, Object.values(p.tags || {}).map((t) => badge(label(t)))));
  });

  fill(b.accounts, async () => {
    const a = (await get(`/v1/customers/${enc(id)}/accounts`)).items;
    return h('div', {},
      portfolio(a, cur),
      table([
        { label: 'Account', value: (x) => x.id },
        { label: 'Kind', value: (x) => label(x.kind) },
        { label: 'Status', value: (x) => x.status },
        { label: 'Balance', value: (x) => moneyOf(x.balance), num: true },
        { label: 'Limit', value: (x) => (x.limit ? moneyOf(x.limit) : ''), num: true },
      ], a, { caption: 'Accounts, cards and loans' }),
      h('h3', {}, 'Credit utilisation'), utilisation(a, cur));
  });

  const items = [];
  let cursor = null;
  const moreTx = async () => {
    const t = await get(`/v1/customers/${enc(id)}/transactions?limit=25${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    items.push(...(t.items || []));
    cursor = t.next_cursor;
    return h('div', {},
      table([
        { label: 'When', value: (x) => when(x.timestamp) },
        { label: 'Merchant', value: (x) => x.merchant || '—' },
        { label: 'Category', value: (x) => badge(label(x.category)) },
        { label: 'Channel', value: (x) => label(x.channel) },
        { label: 'Amount', value: (x) => moneyOf(x.amount), num: true },
        { label: 'Status', value: (x) => x.status || '' },
      ], items, { caption: `Latest ${items.length} transactions`, empty: 'No transactions.' }),
      cursor ? h('button', {
        type: 'button',
        // Keep keyboard focus on the button (or the table) after the page grows.
        onclick: () => fill(b.tx, moreTx).then(() => (b.tx.querySelector('button') || b.tx.querySelector('.table-wrap'))?.focus()),
      }, 'Show 25 more') : null);
  };
  fill(b.tx, moreTx);

  fill(b.insights, async () => {
    const i = await get(`/v1/customers/${enc(id)}/insights`);
    const spend = (i.breakdown || []).slice(0, 10);
    return h('div', {},
      h('ul', {}, (i.messages || []).slice(0, 6).map((m) => h('li', {}, m))),
      spend.length ? bars(spend.map((s) => ({ label: label(s.category), value: Math.abs(s.trailing_90d_amount) })),
        { title: 'Spending by category, last 90 days', format: (v) => money(v, i.currency, 0) }) : null);
  });

  fill(b.scores, async () => {
    const s = await get(`/v1/customers/${enc(id)}/scores`);
    if (!s.scores.length) return notice('No bank model is promoted yet.');
    return h('div', { class: 'stack', id: 'scores' }, s.scores.map((sc) => h('div', { class: 'score' },
      h('div', { class: 'spread' }, h('h3', {}, `${label(sc.model)} v${sc.version}`),
        h('span', { class: 'stat-value' }, pct(sc.probability))),
      h('ul', { class: 'small' }, (sc.reasons || []).map((r) => h('li', {}, r))),
      waterfall(sc.base_value, (sc.shap || []).map(([f, v, contrib]) => ({ label: label(f), title: `${label(f)} = ${num(v, 3)}`, value: contrib })),
        { title: `Why ${label(sc.model)} is ${pct(sc.probability)}: SHAP contributions to the log-odds`, format: (v) => v.toFixed(2), outputLabel: 'log-odds', total: sc.raw_score }))),
    h('p', { class: 'small muted' }, `Recorded as decision ${s.decision_id}. Red raises the score, green lowers it.`));
  });

  fill(b.recs, async () => {
    const r = await get(`/v1/customers/${enc(id)}/recommendations?channel=advisor&limit=3`);
    const shown = r.recommendations || [];
    return h('div', {},
      shown.length ? shown.map((x) => h('article', { class: 'offer' },
        h('div', { class: 'spread' }, h('h3', {}, x.product_name), x.reviewed ? badge('reviewed', 'ok') : null),
        h('p', {}, x.explanation),
        h('ul', { class: 'small' }, (x.reasons || []).map((q) => h('li', {}, reasonText(q)))),
        facts([['Propensity', pct(x.propensity)], ['Confidence', pct(x.confidence)], ['Score', num(x.score, 3)]]))) : notice('No offer now.'),
      (r.held_for_review || []).length ? h('p', { class: 'small' }, `${r.held_for_review.length} offer(s) held for a reviewer: `,
        r.held_for_review.map((x) => h('a', { href: `#/reviews/${enc(x.review_id)}` }, `${x.product_id} `))) : null,
      (r.blocked || []).length ? h('details', {}, h('summary', {}, `${r.blocked.length} blocked by guardrails`),
        h('ul', { class: 'small' }, r.blocked.map((x) => h('li', {}, `${x.product_id || x.product || ''}: ${reasonText(x.reason || x.guardrail || x)}`)))) : null);
  });

  fill(b.goals, async () => {
    const g = await get(`/v1/customers/${enc(id)}/goals`);
    if (!g.goals.length) return notice('No goals yet.');
    return h('div', {}, g.goals.map((x) => goalCard(x)));
  });

  fill(b.sentiment, async () => {
    const s = await get(`/v1/customers/${enc(id)}/sentiment`);
    if (!s.points.length) return notice('No scored messages.');
    return line([{ name: 'Sentiment', points: s.points.map((p) => ({ x: new Date(p.at), y: p.sentiment })) }],
      { title: 'Message sentiment (−1 to 1)', format: (v) => v.toFixed(1), yMin: -1, yMax: 1 });
  });

  fill(b.alerts, async () => {
    const a = await get(`/v1/alerts?customer_id=${enc(id)}&limit=20`);
    return table([
      { label: 'When', value: (x) => when(x.at) },
      { label: 'Kind', value: (x) => badge(label(x.kind), x.kind) },
      { label: 'Rule', value: (x) => label(x.rule) },
      { label: 'Why', value: (x) => x.reason || '' },
    ], a.alerts, { empty: 'No alerts for this customer.' });
  });

  fill(b.audit, async () => {
    if (me.role !== 'admin') return notice('The audit trail needs an admin key.');
    const a = await get(`/v1/audit?customer_id=${enc(id)}&limit=50`);
    return table([
      { label: '#', value: (e) => e.seq, num: true },
      { label: 'At', value: (e) => when(e.at) },
      { label: 'Action', value: (e) => e.action },
      { label: 'Actor', value: (e) => e.actor },
    ], a.items, { empty: 'No decisions recorded about this customer yet.', caption: 'Decisions and changes about this customer' });
  });
}

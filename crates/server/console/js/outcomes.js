// Experiments and outcomes in the console: KPIs (with the weekly active share), drift per
// promoted model, and experiments — list, create from a JSON spec, analyse, stop.

import { get, post, optional, enc } from './api.js';
import { h, mount, panel, notice, loading, explain, table, stat, badge, pct, num, when, label } from './ui.js';
import { bars, line } from './charts.js';

const money = (minor) => (minor === null || minor === undefined ? '—' : `€${num(minor / 100, 0)}`);
const interval = (i, f = pct) => (i ? `${f(i.lower)} – ${f(i.upper)}` : '—');
/** A p-value for people: four decimals, or "< 0.0001". */
const pv = (p) => (p === null || p === undefined ? '—' : p < 0.0001 ? '< 0.0001' : num(p, 4));

/** KPI report of /v1/kpis: the headline figures, the weekly active share, cohort retention. */
export function kpiView(k) {
  const row = (k.rows || [])[0];
  if (!row) return notice('No customers yet.');
  const out = h('div', { class: 'stack' });
  out.appendChild(h('div', { class: 'stats', id: 'kpi-stats' },
    stat(num(row.customers, 0), 'customers'),
    stat(num(row.engagement_mean, 1), 'engagement score (0–100)', 'kpi-engagement'),
    stat(pct(row.active_30d_share), 'active in 30 days'),
    stat(row.ctr === null ? '—' : pct(row.ctr), 'click-through'),
    stat(row.acceptance_rate === null ? '—' : pct(row.acceptance_rate), 'acceptance'),
    stat(row.nps ? num(row.nps.score, 0) : '—', 'NPS'),
    stat(money(row.ltv_mean_minor), 'lifetime value (mean)')));
  const weekly = (k.weekly_active || []).map(([d, v]) => ({ x: new Date(d), y: v }));
  if (weekly.length > 1) {
    out.appendChild(line([{ name: 'active share', points: weekly }],
      { title: 'Customers active per week', format: (y) => pct(y, 0), yMin: 0 }));
  }
  if (k.definitions) {
    out.appendChild(h('details', {}, h('summary', {}, 'How these are computed'),
      h('dl', { class: 'facts' }, Object.entries(k.definitions).flatMap(([n, d]) => [h('dt', {}, label(n)), h('dd', {}, d)]))));
  }
  return out;
}

/** KPIs by segment (a table), for the overview. */
export function kpiTable(k) {
  return table([
    { label: 'Segment', value: (r) => r.group },
    { label: 'Customers', value: (r) => num(r.customers, 0), num: true },
    { label: 'Engagement', value: (r) => num(r.engagement_mean, 1), num: true },
    { label: 'Active 30 d', value: (r) => pct(r.active_30d_share), num: true },
    { label: 'CTR', value: (r) => (r.ctr === null ? '—' : pct(r.ctr)), num: true },
    { label: 'Acceptance', value: (r) => (r.acceptance_rate === null ? '—' : pct(r.acceptance_rate)), num: true },
    { label: 'NPS', value: (r) => (r.nps ? num(r.nps.score, 0) : '—'), num: true },
  ], k.rows, { caption: 'KPIs by segment', empty: 'No segments assigned yet.' });
}

const levelBadge = (l) => badge(label(l), l === 'Stable' ? 'ok' : l === 'Moderate' ? 'warn' : 'error');

/** Drift report of /v1/monitor. */
export function driftView(d) {
  const out = h('div', { class: 'stack', id: 'drift-report' });
  if (!d.models.length) {
    out.appendChild(notice(d.unmonitored.length
      ? `No drift reference for ${d.unmonitored.join(', ')}: retrain to monitor.`
      : 'No promoted bank model to monitor.'));
    return out;
  }
  out.appendChild(h('p', { class: 'muted small' },
    `${num(d.customers, 0)} customers' current features compared with each model's training data. PSI: stable < ${d.thresholds.moderate} ≤ moderate < ${d.thresholds.major} ≤ major.`));
  if (d.alerts.length) {
    out.appendChild(notice(`${d.alerts.length} inputs or scores drifted past the thresholds.`, 'warn'));
    out.appendChild(h('details', {}, h('summary', {}, 'Drift alerts'),
      h('ul', {}, d.alerts.map((a) => h('li', {}, a)))));
  }
  for (const m of d.models) {
    const top = m.features.slice(0, 8);
    out.appendChild(h('section', { class: 'stack' },
      h('h3', {}, `${label(m.model)} v${m.version}`),
      h('p', {}, 'Score PSI: ', m.score ? [num(m.score.value, 3), ' ', levelBadge(m.score.level)] : '—', ' · ',
        m.decay
          ? `AUC ${num(m.decay.reference_auc, 3)} at training → ${num(m.decay.current_auc, 3)} now${m.decay.decayed ? ' (decayed)' : ''}`
          : (m.decay_note || '')),
      bars(top.map((p) => ({ label: p.name.replace(/^feature:/, ''), value: p.value })),
        { title: `Largest input PSI, ${m.model}`, format: (v) => num(v, 2) }),
      table([
        { label: 'Input', value: (p) => p.name.replace(/^feature:/, '') },
        { label: 'PSI', value: (p) => num(p.value, 3), num: true },
        { label: 'Level', value: (p) => levelBadge(p.level) },
      ], top, { caption: `Inputs of ${m.model} by PSI` })));
  }
  return out;
}

/** The experiments view: list, analysis, create. */
export async function experimentsView(body, me) {
  const list = h('div');
  const detail = h('div', { id: 'experiment-detail', 'aria-live': 'polite' });
  const created = h('div', { 'aria-live': 'polite' });
  const canEdit = ['admin', 'analyst'].includes(me.role);
  const example = JSON.stringify({
    id: 'offer-strategy', name: 'Engine vs popularity vs no offer', kind: 'strategy',
    arms: [
      { name: 'no_offer', weight: 1, config: { strategy: 'none' } },
      { name: 'popularity', weight: 1, config: { strategy: 'popularity' } },
      { name: 'engine', weight: 1, config: { strategy: 'engine' } },
    ],
    holdout: 0.05,
    guardrails: [{ metric: 'unsubscribe_rate', max_increase: 0.02 }],
  }, null, 2);
  const spec = h('textarea', { id: 'experiment-spec', name: 'spec', rows: 14, spellcheck: 'false' });
  spec.value = example;
  const form = h('form', { id: 'experiment-form', class: 'stack' },
    h('label', { for: 'experiment-spec' }, 'Experiment spec (JSON; see docs/experiments.md)'),
    spec,
    h('button', { type: 'submit', class: 'primary' }, 'Create and start'), created);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let v;
    try { v = JSON.parse(spec.value); } catch (err) { mount(created, notice(`Not JSON: ${err.message}`, 'error')); return; }
    try {
      const x = await post('/v1/experiments', v);
      mount(created, notice(`Experiment ${x.id} is running.`, 'ok'));
      load();
    } catch (err) {
      mount(created, notice(err.errors && err.errors.length
        ? err.errors.map((p) => `${p.field}: ${p.reason}`).join('; ') : explain(err), 'error'));
    }
  });
  const show = async (id) => {
    mount(detail, loading('Analysing…'));
    try {
      mount(detail, analysisView(await get(`/v1/experiments/${enc(id)}/analysis`), canEdit, async () => {
        await post(`/v1/experiments/${enc(id)}/stop`);
        load();
        show(id);
      }));
    } catch (err) {
      mount(detail, notice(explain(err), 'error'));
    }
  };
  const load = async () => {
    mount(list, loading());
    try {
      const e = await optional('/v1/experiments');
      if (!e) { mount(list, notice('Experiments are not available on this server.')); return; }
      mount(list, table([
        { label: 'Experiment', value: (x) => x.id },
        { label: 'Name', value: (x) => x.name },
        { label: 'Kind', value: (x) => label(x.kind) },
        { label: 'Status', value: (x) => badge(label(x.status), x.status === 'running' ? 'ok' : '') },
        { label: 'Exposed', value: (x) => Object.entries(x.exposures).map(([a, n]) => `${a} ${n}`).join(' · ') || 'nobody yet' },
        { label: 'Created', value: (x) => when(x.created_at) },
      ], e.items, { caption: 'Experiments (open one to analyse it)', empty: 'No experiments yet.', onRow: (x) => show(x.id) }));
      if (e.items.length && !detail.children.length) show(e.items[0].id);
    } catch (err) {
      mount(list, notice(explain(err), 'error'));
    }
  };
  mount(body, panel('Experiments', list), panel('Analysis', detail),
    canEdit ? panel('New experiment', form) : null);
  load();
}

function analysisView(r, canEdit, stop) {
  const a = r.analysis;
  const arms = a.arms.concat(a.holdout ? [a.holdout] : []);
  const out = h('div', { class: 'stack' },
    h('h3', {}, `${r.experiment.name} `, badge(label(r.experiment.status), r.experiment.status === 'running' ? 'ok' : '')),
    bars(arms.map((s) => ({ label: s.name, value: s.conversion_rate || 0 })),
      { title: 'Conversion rate by arm', format: (v) => pct(v, 1) }),
    table([
      { label: 'Arm', value: (s) => s.name },
      { label: 'Exposed', value: (s) => num(s.exposures, 0), num: true },
      { label: 'Converted', value: (s) => num(s.conversions, 0), num: true },
      { label: 'Rate', value: (s) => (s.conversion_rate === null ? '—' : pct(s.conversion_rate)), num: true },
      { label: `${Math.round((1 - a.alpha) * 100)}% interval`, value: (s) => interval(s.conversion_ci) },
      { label: 'Revenue / exposure', value: (s) => (s.revenue_per_exposure ? num(s.revenue_per_exposure.mean, 2) : '—'), num: true },
    ], arms, { caption: 'Arms' }),
    table([
      { label: 'Comparison', value: (c) => `${c.treatment} vs ${c.control}` },
      { label: 'Difference', value: (c) => (c.difference === null ? '—' : `${c.difference >= 0 ? '+' : ''}${num(100 * c.difference, 2)} pp`), num: true },
      { label: 'Interval', value: (c) => interval(c.difference_ci, (v) => `${num(100 * v, 2)} pp`) },
      { label: 'p', value: (c) => pv(c.p_value), num: true },
      { label: 'Holm p', value: (c) => pv(c.p_value_adjusted), num: true },
      { label: 'Always-valid p', value: (c) => pv(c.sequential.p_value_always_valid), num: true },
      { label: 'Verdict', value: (c) => (c.significant ? badge('significant', 'ok') : badge('not significant')) },
    ], a.comparisons, { caption: 'Against the control (Holm-corrected; the always-valid p may be checked at any time)' }),
    h('p', {}, 'Sample ratio: ', a.srm.p_value === null ? '—' : `χ² p = ${pv(a.srm.p_value)} `,
      a.srm_detected ? badge('mismatch', 'error') : badge('as designed', 'ok')));
  for (const w of a.warnings) out.appendChild(notice(w, 'warn'));
  if (r.bandit) {
    out.appendChild(table([
      { label: 'Bandit arm', value: (b) => b.arm },
      { label: 'Pulls', value: (b) => num(b.pulls, 0), num: true },
      { label: 'Accepts', value: (b) => num(b.accepts, 0), num: true },
      { label: 'Mean reward', value: (b) => num(b.mean_reward, 3), num: true },
    ], r.bandit, { caption: 'Bandit allocation' }));
  }
  if (canEdit && r.experiment.status === 'running') {
    out.appendChild(h('button', { type: 'button', id: 'stop-experiment', onclick: stop }, 'Stop experiment'));
  }
  return out;
}

// The customer app: what a bank would embed for one customer. Insights, budget against actual
// spending, credit utilisation, portfolio, goals with their roadmaps, offers with "why am I
// seeing this?", the assistant, and consent switches that apply at once (offers refresh).
// A customer key is fixed to its own customer; admin and app keys pick a demo customer.

import { get, put, post, whoami, enc } from './api.js';
import { h, mount, panel, notice, loading, explain, fill, money, moneyOf, label, badge } from './ui.js';
import { hbars, importSvg, PALETTE } from './charts.js';
import { portfolio, utilisation, goalCard } from './customer.js';

const main = document.getElementById('main');
const PURPOSES = [
  ['personalization', 'Personalised insights', 'Use my transactions to show me insights and budgets.'],
  ['marketing', 'Offers', 'Show me offers for products that may suit me.'],
  ['profiling', 'Profiling', 'Analyse my profile to tailor scores, segments and plans.'],
  ['automated_decisions', 'Automated decisions', 'Let the bank decide some things automatically (a person reviews otherwise).'],
  ['data_sharing', 'Data sharing', 'Share my data with partners.'],
];

let me;
let customerId;
let conversationId = null;
let currency = 'EUR';
/** The customer's current consents, as last read or changed. */
let consentState = null;
const boxes = {};

async function start() {
  try {
    me = await whoami();
  } catch (e) {
    mount(main, notice(explain(e), 'error'));
    return;
  }
  document.getElementById('who').textContent = me.role === 'customer' ? 'Signed in' : `Demo as ${me.role}`;
  if (me.role === 'customer') {
    customerId = me.customer_id;
    await open();
    return;
  }
  // Staff keys pick a demo customer.
  const picker = h('select', { id: 'customer-picker' });
  const wanted = new URLSearchParams(location.search).get('customer');
  try {
    const page = await get('/v1/customers?limit=100');
    for (const c of page.items) picker.appendChild(h('option', { value: c.id }, `${c.name} (${c.id})`));
    if (wanted && !page.items.some((c) => c.id === wanted)) picker.prepend(h('option', { value: wanted }, wanted));
    picker.value = wanted || (page.items[0] && page.items[0].id) || '';
  } catch (e) {
    mount(main, notice(explain(e), 'error'));
    return;
  }
  picker.addEventListener('change', () => {
    const url = new URL(location.href);
    url.searchParams.set('customer', picker.value);
    history.replaceState(null, '', url);
    customerId = picker.value;
    conversationId = null;
    consentState = null;
    open();
  });
  mount(document.getElementById('picker'), h('label', { for: 'customer-picker' }, 'Customer'), picker);
  customerId = picker.value;
  await open();
}

async function open() {
  if (!customerId) { mount(main, notice('No customer to show.')); return; }
  for (const k of ['insights', 'budget', 'credit', 'portfolio', 'goals', 'offers', 'chat', 'consents']) boxes[k] = h('div');
  const c = await get(`/v1/customers/${enc(customerId)}`).catch((e) => { mount(main, notice(explain(e), 'error')); return null; });
  if (!c) return;
  currency = (c.income && c.income.currency) || 'EUR';
  mount(main,
    h('h1', { tabindex: '-1', id: 'hello' }, `Hello, ${c.name.split(' ')[0]}`),
    h('div', { class: 'grid' },
      panel('Your insights', boxes.insights),
      panel('Offers for you', boxes.offers)),
    h('div', { class: 'grid wide' },
      panel('Budget vs actual', boxes.budget),
      panel('Portfolio', boxes.portfolio)),
    h('div', { class: 'grid wide' },
      panel('Credit utilisation', boxes.credit),
      panel('Your goals', boxes.goals)),
    h('div', { class: 'grid wide' },
      panel('Ask the assistant', boxes.chat),
      panel('Privacy and consent', boxes.consents)));
  loadInsights();
  loadOffers();
  loadAccounts();
  loadGoals();
  chat();
  consents();
}

async function loadInsights() {
  mount(boxes.insights, loading());
  mount(boxes.budget, loading());
  let i;
  try {
    i = await get(`/v1/customers/${enc(customerId)}/insights`);
  } catch (e) {
    mount(boxes.insights, notice(explain(e), e.status === 403 ? 'info' : 'error'));
    mount(boxes.budget, notice(explain(e), e.status === 403 ? 'info' : 'error'));
    return;
  }
  const b = i.budget;
  const opp = i.savings_opportunities || [];
  const limits = (b.variable_limits || []).filter((x) => x.limit > 0 || x.average_monthly > 0);
  mount(boxes.budget,
    h('p', { class: 'small' }, `Monthly income ${money(b.monthly_income, i.currency, 0)}, fixed costs ${money(b.fixed_costs, i.currency, 0)}, saving ${money(b.savings_per_month, i.currency, 0)} a month.`),
    limits.length ? hbars(limits.map((x) => ({ label: label(x.category), values: [x.limit, x.average_monthly] })),
      [{ name: 'Budget', color: PALETTE[0] }, { name: 'Actual (monthly average)', color: PALETTE[1] }],
      { title: 'Budget against actual spending by category', format: (v) => money(v, i.currency, 0) }) : notice('Not enough spending to budget yet.'),
    b.shortfall > 0 ? notice(`Spending is ${money(b.shortfall, i.currency, 0)} a month above this budget.`, 'warn') : null,
    h('details', {}, h('summary', {}, 'How is this budget made?'), h('p', { class: 'small' }, b.rule)));
  mount(boxes.insights,
    h('ul', { id: 'insight-messages' }, (i.messages || []).slice(0, 6).map((m) => h('li', {}, m))),
    opp.length ? h('h3', {}, 'Ways to save') : null,
    opp.length ? h('ul', {}, opp.slice(0, 4).map((o) => h('li', {}, o.text))) : null,
    i.forecast && i.forecast.low_balance_warning
      ? notice(`Your balance may fall to ${money(i.forecast.low_balance_warning.projected_balance, i.currency, 0)} around ${i.forecast.low_balance_warning.date}.`, 'warn')
      : null);
}

function loadOffers() {
  return fill(boxes.offers, async () => {
    const r = await get(`/v1/customers/${enc(customerId)}/recommendations?channel=app&limit=3`);
    const list = r.recommendations || [];
    if (!list.length && consentState && consentState.marketing === false) {
      return notice('You have turned offers off. Switch “Offers” on under Privacy and consent to see them again.', 'info');
    }
    if (!list.length) return notice('No offers for you right now.', 'info');
    return h('div', { id: 'offers' }, list.map((x) => h('article', { class: 'offer', dataset: { product: x.product_id } },
      h('h3', {}, x.product_name),
      h('details', {}, h('summary', {}, 'Why am I seeing this?'),
        h('p', {}, x.explanation),
        h('ul', { class: 'small' }, (x.reasons || []).map((q) => h('li', {}, typeof q === 'string' ? q : q.text || q.code || JSON.stringify(q))))),
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: (e) => feedback(x, 'accept', e.currentTarget) }, 'Interested'),
        h('button', { type: 'button', onclick: (e) => feedback(x, 'dismiss', e.currentTarget) }, 'Not for me')))));
  });
}

async function feedback(offer, kind, button) {
  button.disabled = true;
  try {
    await post('/v1/feedback', { decision_id: offer.decision_id, kind });
    button.textContent = kind === 'accept' ? 'Thanks — we will be in touch' : 'Hidden';
  } catch (e) {
    button.disabled = false;
    button.parentElement.appendChild(notice(explain(e), 'error'));
  }
}

function loadAccounts() {
  fill(boxes.portfolio, async () => {
    const a = (await get(`/v1/customers/${enc(customerId)}/accounts`)).items;
    fill(boxes.credit, async () => utilisation(a, currency));
    return h('div', {},
      portfolio(a, currency, { you: true }),
      h('ul', { class: 'small' }, a.map((x) => h('li', {}, `${label(x.kind)} ${x.id}: ${moneyOf(x.balance)}${x.status !== 'open' ? ` (${x.status})` : ''}`))));
  });
}

function loadGoals() {
  return fill(boxes.goals, async () => {
    const g = await get(`/v1/customers/${enc(customerId)}/goals`);
    if (!g.goals.length) return notice('No goals yet: ask the assistant, e.g. “I want to save for a house in 3 years”.');
    return h('div', {}, g.goals.map((x) => goalCard(x)));
  });
}

function chat() {
  const log = h('div', { class: 'chat', id: 'chat-log', 'aria-live': 'polite', role: 'log' });
  const input = h('input', { id: 'chat-input', type: 'text', autocomplete: 'off', placeholder: 'I want to save for a house in 3 years' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const form = h('form', { class: 'chat-form', id: 'chat-form', onsubmit: async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    log.appendChild(h('div', { class: 'bubble me' }, text));
    const pending = h('div', { class: 'bubble bot', 'aria-busy': 'true' }, '…');
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    send.disabled = true;
    try {
      const r = await post('/v1/assistant/messages', {
        customer_id: customerId, conversation_id: conversationId, channel: 'app', text,
      });
      conversationId = r.conversation_id;
      mount(pending, r.text);
      pending.removeAttribute('aria-busy');
      if (r.citations && r.citations.length) {
        pending.appendChild(h('p', { class: 'small muted' }, 'Sources: ', r.citations.map((c) => `${c.title} › ${c.section}`).join('; ')));
      }
      if (r.offers && r.offers.length) {
        pending.appendChild(h('ul', { class: 'small' }, r.offers.map((o) => h('li', {}, `${o.product_name}: ${o.explanation}`))));
      }
      if (r.handoff) pending.appendChild(h('p', { class: 'small' }, badge('A colleague will get back to you', 'info')));
      if (r.goal && r.goal.roadmap_url) {
        const svgText = await get(r.goal.roadmap_url);
        const svg = importSvg(svgText);
        if (svg) {
          svg.setAttribute('aria-label', `Roadmap for ${r.goal.name || 'your goal'}`);
          pending.appendChild(svg);
        }
        loadGoals();
      }
    } catch (err) {
      mount(pending, notice(explain(err), 'error'));
    }
    send.disabled = false;
    log.scrollTop = log.scrollHeight;
    input.focus();
  } }, h('label', { for: 'chat-input', class: 'visually-hidden' }, 'Message to the assistant'), input, send);
  mount(boxes.chat, log, form);
}

function consents() {
  fill(boxes.consents, async () => {
    const v = await get(`/v1/customers/${enc(customerId)}/consents`);
    consentState = v.current;
    const status = h('p', { class: 'small', id: 'consent-status', 'aria-live': 'polite' });
    const switches = PURPOSES.map(([key, name, hint]) => {
      const box = h('input', { type: 'checkbox', id: `consent-${key}`, name: key, checked: !!v.current[key], 'aria-describedby': `hint-${key}` });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          const r = await put(`/v1/customers/${enc(customerId)}/consents`, { consents: { [key]: box.checked } });
          box.checked = !!r.current[key];
          consentState = r.current;
          status.textContent = `${name} ${box.checked ? 'allowed' : 'withdrawn'}; this applies now.`;
          loadOffers();
          loadInsights();
        } catch (e) {
          box.checked = !box.checked;
          status.textContent = explain(e);
        }
        box.disabled = false;
      });
      return h('div', {},
        h('label', { class: 'switch', for: `consent-${key}` }, box, name),
        h('p', { class: 'small muted', id: `hint-${key}` }, hint));
    });
    return h('form', { id: 'consents', onsubmit: (e) => e.preventDefault() },
      h('fieldset', {}, h('legend', {}, 'What may the bank use your data for?'), switches), status);
  });
}

start();

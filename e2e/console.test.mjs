// End-to-end tests of the console and the customer app in Debian's headless Chromium, against
// the real binary serving a fresh 200-customer demo bank. Run: node --test e2e/
// (scripts/setup-browser.sh installs Chromium and playwright-core if missing).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startBrowser, shot, signIn } from './harness.mjs';

let server;
let browser;
let page;
/** A customer with profiling and marketing consent, scores and offers. */
let subject;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  page = await browser.context.newPage();
  // Find a customer whose scores (profiling consent) and offers (marketing consent) exist.
  const list = await server.api('GET', '/v1/customers?limit=100');
  for (const c of list.items) {
    const consents = await server.api('GET', `/v1/customers/${c.id}/consents`);
    if (!consents.current.profiling || !consents.current.marketing || !consents.current.personalization) continue;
    const recs = await server.api('GET', `/v1/customers/${c.id}/recommendations?channel=app&limit=3`);
    if (recs.recommendations.length) { subject = c.id; break; }
  }
  assert.ok(subject, 'a demo customer with consents and offers');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('sign in with a key opens the console', async () => {
  await page.goto(`${server.base}/login`);
  assert.deepEqual(await page.evaluate(accessibilityProblems), [], 'the login form');
  await signIn(page, server.base, server.key);
  assert.match(new URL(page.url()).pathname, /^\/console\/$/);
  await page.waitForSelector('h1:has-text("Overview")');
  await page.waitForFunction(() => /\d/.test(document.getElementById('customer-count')?.textContent || ''));
  const count = await page.textContent('#customer-count');
  assert.match(count, /^[\d,]+$/);
  // Keyboard: the skip link is the first stop and moves focus to the content.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await shot(page, '01-overview');
});

test('a customer key opens only its own app', async () => {
  const key = await server.createKey('customer', subject);
  // One cookie jar per browser context: sign in as the customer, then back as admin.
  await browser.context.clearCookies();
  const p = await browser.context.newPage();
  await signIn(p, server.base, key, '/console/');
  assert.equal(new URL(p.url()).pathname, '/app/');
  await p.waitForSelector('#hello');
  assert.equal(await p.locator('#customer-picker').count(), 0, 'no customer picker for a customer key');
  const someoneElse = subject === '1' ? '2' : '1';
  const status = await p.evaluate(async (id) => (await fetch(`/v1/customers/${id}`)).status, someoneElse);
  assert.equal(status, 403);
  await shot(p, '02b-app-as-customer');
  await browser.context.clearCookies();
  await p.close();
  // Back to the admin session for the next tests.
  await signIn(page, server.base, server.key);
});

test('customer 360 shows scores with a SHAP waterfall', async () => {
  // Found from the list with the keyboard: search, focus the row, Enter.
  await page.goto(`${server.base}/console/#/customers`);
  await page.fill('#customer-search', subject);
  const row = page.locator(`tr.clickable:has(a[href="#/customers/${subject}"])`);
  await row.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.hash === `#/customers/${subject}`);
  await page.waitForSelector('#scores svg.waterfall', { timeout: 30_000 });
  const bars = await page.locator('#scores svg.waterfall rect.wf-bar').count();
  assert.ok(bars >= 3, `waterfall bars: ${bars}`);
  const text = await page.textContent('#scores');
  assert.match(text, /Churn|Credit default/i);
  await page.waitForSelector('.offer h3');
  await shot(page, '02-customer-360');
});

test('approving a review case shows its audit entry', async () => {
  // A complaint to the assistant is handed to a person: a pending review case.
  const reply = await server.api('POST', '/v1/assistant/messages', {
    customer_id: subject, channel: 'app',
    text: 'I was charged twice for the same payment and nobody has fixed it. This is unacceptable, I want to make a complaint.',
  });
  const reviewId = reply.handoff && reply.handoff.review_id;
  assert.ok(reviewId, `a hand-off review case: ${JSON.stringify(reply).slice(0, 300)}`);
  await page.goto(`${server.base}/console/#/reviews`);
  const row = page.locator(`a[href="#/reviews/${reviewId}"]`);
  await row.waitFor();
  await row.click();
  await page.waitForSelector('#review-form');
  await page.check('input[name=outcome][value=approve]');
  await page.fill('#review-note', 'Refund arranged; customer called back.');
  await shot(page, '03-review-case');
  await page.click('#review-form button[type=submit]');
  const entry = page.locator('#audit-entry');
  await entry.waitFor();
  const text = await entry.textContent();
  assert.match(text, /Audit entry #\d+/);
  assert.match(text, /review/i);
  await shot(page, '04-review-audit-entry');
  // The same entry is in the audit log.
  const seq = Number(text.match(/#(\d+)/)[1]);
  const log = await server.api('GET', `/v1/audit?after=${seq - 1}&limit=1`);
  assert.equal(log.items[0].seq, seq);
});

test('turning marketing consent off removes the offers', async () => {
  await page.goto(`${server.base}/app/?customer=${subject}`);
  await page.waitForSelector('#offers .offer');
  // "Why am I seeing this?" opens with the keyboard.
  await page.focus('#offers details summary');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('#offers details').first().getAttribute('open'), '');
  await shot(page, '05-app-offers');
  const box = page.locator('#consent-marketing');
  assert.equal(await box.isChecked(), true);
  await box.uncheck();
  await page.waitForFunction(() => document.getElementById('consent-status')?.textContent.includes('withdrawn'));
  await page.waitForSelector('text=You have turned offers off');
  assert.equal(await page.locator('#offers .offer').count(), 0);
  const consents = await server.api('GET', `/v1/customers/${subject}/consents`);
  assert.equal(consents.current.marketing, false);
  await shot(page, '06-app-marketing-off');
  // And back on: offers return.
  await box.check();
  await page.waitForSelector('#offers .offer');
});

test('the assistant answers a house-saving plan with a roadmap chart', async () => {
  await page.goto(`${server.base}/app/?customer=${subject}`);
  await page.waitForSelector('#chat-input');
  await page.fill('#chat-input', 'I want to save for a house in 3 years');
  await page.press('#chat-input', 'Enter');
  await page.waitForSelector('#chat-log .bubble.bot svg', { timeout: 30_000 });
  const reply = await page.textContent('#chat-log .bubble.bot');
  assert.ok(reply.length > 20, reply);
  await page.waitForSelector('.goal svg');
  await shot(page, '07-app-assistant-roadmap');
});

test('a live alert appears after posting events', async () => {
  await page.goto(`${server.base}/console/#/alerts`);
  await page.waitForFunction(() => document.getElementById('alert-state')?.textContent.startsWith('Connected'));
  // Nine card debits within ten minutes: the demo velocity rule fires.
  const now = Date.now();
  const events = Array.from({ length: 9 }, (_, i) => ({
    event_id: `e2e-${now}-${i}`, type: 'transaction', customer_id: subject,
    timestamp: new Date(now - (9 - i) * 30_000).toISOString(), transaction_id: `e2e-t-${now}-${i}`,
    account_id: 'unknown', amount_minor: -1500, currency: 'EUR', merchant: 'Kiosk', category: 'shopping',
    channel: 'card_present', country: 'DE', status: 'approved',
  }));
  const accounts = await server.api('GET', `/v1/customers/${subject}/accounts`);
  for (const e of events) e.account_id = accounts.items[0].id;
  const r = await server.api('POST', '/v1/events', { events });
  assert.equal(r.accepted ?? events.length, events.length, JSON.stringify(r));
  await page.waitForSelector('#alert-feed li', { timeout: 20_000 });
  const text = await page.textContent('#alert-feed li');
  assert.ok(text.includes(subject), text);
  await shot(page, '08-live-alert');
});

/** In the page: every form control is labelled and text meets WCAG AA contrast (4.5:1, 3:1 large). */
function accessibilityProblems() {
  const problems = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) {
      problems.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
    }
  }
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { const x = v / 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || seen.has(el) || !walker.currentNode.textContent.trim()) continue;
    seen.add(el);
    if (el.closest('svg, .visually-hidden, [disabled], option, .skip-link')) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none' || !el.getClientRects().length) continue;
    const fg = rgb(st.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`${ratio.toFixed(2)}:1 "${walker.currentNode.textContent.trim().slice(0, 30)}" (${el.tagName.toLowerCase()}.${el.className})`);
  }
  return problems;
}

test('the demo experiment is analysed, a new one is created, and KPIs and drift are visible', async () => {
  await page.goto(`${server.base}/console/#/experiments`);
  await page.waitForSelector('#experiment-detail table', { timeout: 30_000 });
  const text = await page.textContent('#experiment-detail');
  assert.match(text, /engine vs no_offer/);
  assert.match(text, /significant/);
  assert.match(text, /as designed/);
  await shot(page, '09-experiment-analysis');
  // The form names a bad field, then starts a valid experiment.
  await page.fill('#experiment-spec', JSON.stringify({
    id: 'Bad Id', name: 'x', kind: 'strategy', arms: [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }],
  }));
  await page.click('#experiment-form button[type=submit]');
  await page.waitForSelector('#experiment-form .notice.error');
  assert.match(await page.textContent('#experiment-form .notice.error'), /^id: /);
  await page.fill('#experiment-spec', JSON.stringify({
    id: 'aa-ui', name: 'A/A from the console', kind: 'strategy',
    arms: [{ name: 'a1', weight: 1, config: { strategy: 'engine' } }, { name: 'a2', weight: 1, config: { strategy: 'engine' } }],
  }));
  await page.click('#experiment-form button[type=submit]');
  await page.waitForSelector('#experiment-form .notice.ok');
  const row = page.locator('tr.clickable', { hasText: 'aa-ui' });
  await row.waitFor();
  await row.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#stop-experiment');
  await page.click('#stop-experiment');
  await page.waitForFunction(() => !document.getElementById('stop-experiment')
    && /Stopped/.test(document.getElementById('experiment-detail')?.textContent || ''));
  // The overview: KPIs over time and drift of the promoted models.
  await page.goto(`${server.base}/console/#/`);
  await page.waitForSelector('#kpi-engagement', { timeout: 30_000 });
  await page.waitForSelector('#drift-report', { timeout: 30_000 });
  assert.match(await page.textContent('#drift-report'), /Churn v\d/);
  await shot(page, '10-overview-kpis-drift');
});

test('controls are labelled and text meets WCAG AA contrast', async () => {
  for (const [path, ready] of [
    ['/console/', '#customer-count'],
    [`/console/#/customers/${subject}`, '#scores svg'],
    ['/console/#/audit', '#audit-search'],
    ['/console/#/reviews', '#review-status'],
    [`/app/?customer=${subject}`, '#consents'],
  ]) {
    await page.goto(`${server.base}${path}`);
    await page.waitForSelector(ready, { timeout: 30_000 });
    await page.waitForLoadState('networkidle').catch(() => {});
    const problems = await page.evaluate(accessibilityProblems);
    assert.deepEqual(problems, [], path);
  }
});

test('at 360 px wide nothing scrolls sideways', async () => {
  await page.setViewportSize({ width: 360, height: 780 });
  const pages = [
    ['/console/', 'h1:has-text("Overview")', '09-narrow-overview'],
    [`/console/#/customers/${subject}`, '#scores svg', '10-narrow-customer'],
    ['/console/#/segments', '.card', '11-narrow-segments'],
    [`/app/?customer=${subject}`, '#offers .offer, #offers + *', '12-narrow-app'],
  ];
  for (const [path, ready, name] of pages) {
    await page.goto(`${server.base}${path}`);
    await page.waitForSelector(ready, { timeout: 30_000 });
    await page.waitForLoadState('networkidle').catch(() => {});
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    }));
    await shot(page, name);
    assert.ok(scroll <= client, `${path}: scrollWidth ${scroll} > ${client}`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
});

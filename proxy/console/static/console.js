// The gateway console. Plain ES module, no build step, no dependency.
// Every value from the gateway reaches the page through textContent or an SVG attribute:
// never innerHTML, so a prompt holding markup is shown as text and never runs.
'use strict';

const KEY_STORE = 'gateway-console-admin-key';
const MAX_ROWS = 500; // rows kept in the page
const SHOWN_ROWS = 300; // rows drawn in the table
const state = {
  key: sessionStorage.getItem(KEY_STORE) || '',
  info: null,
  rows: new Map(), // request id -> row, oldest first
  paused: false,
  feed: null, // AbortController of the live feed
  selected: null,
  healthTimer: null,
  configs: null,
  snippetLang: 'curl',
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function headers(json) {
  const h = { 'x-gateway-console': '1' };
  if (state.key) h['x-portkey-admin-key'] = state.key;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function api(path, body) {
  const init = { headers: headers(body !== undefined), credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    init.method = 'POST';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// Server-sent events over fetch, so the admin key travels in a header, not in the URL.
async function sse(path, signal, onEvent) {
  const resp = await fetch(path, { headers: headers(false), credentials: 'omit', cache: 'no-store', signal });
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(resp.status, data);
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onEvent(event, JSON.parse(data.join('\n')));
    }
  }
}

// ---------------------------------------------------------------- formatting

const fmtMs = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(2) + ' ms' : v < 1000 ? v.toFixed(1) + ' ms' : (v / 1000).toFixed(2) + ' s');
const fmtCost = (v) => (v === null || v === undefined ? '–' : '$' + (v < 0.01 ? v.toPrecision(3) : v.toFixed(4)));
const fmtPct = (v) => (v === null || v === undefined ? '–' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%');
const fmtNum = (v) => (v === null || v === undefined ? '–' : v >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : v >= 1e4 ? (v / 1e3).toFixed(1) + 'k' : String(v));
const fmtTime = (ts) => new Date(ts * 1000).toLocaleTimeString([], { hour12: false });

function tokens(row) {
  if (row.tokens_in === undefined && row.tokens_out === undefined) return '–';
  return `${fmtNum(row.tokens_in || 0)} → ${fmtNum(row.tokens_out || 0)}${row.estimated ? ' ~' : ''}`;
}

// ---------------------------------------------------------------- tabs

const TABS = ['live', 'health', 'playground', 'try'];

function selectTab(name, focus) {
  for (const t of TABS) {
    const tab = $('tab-' + t);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $('view-' + t).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'health') startHealth();
  else stopHealth();
  if (name === 'playground' || name === 'try') loadConfigs();
  if (history.replaceState) history.replaceState(null, '', '#' + name);
}

function tablistKeys(list, onSelect) {
  list.addEventListener('keydown', (ev) => {
    const tabs = [...list.querySelectorAll('[role=tab]')];
    const i = tabs.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = tabs.length - 1;
    if (j === null) return;
    ev.preventDefault();
    onSelect(tabs[j]);
  });
}

// ---------------------------------------------------------------- live table

function filters() {
  const out = {};
  for (const name of ['provider', 'model', 'status', 'key']) {
    const v = $('f-' + name).value;
    if (v) out[name] = v;
  }
  return out;
}

function keep(row, f) {
  return (!f.provider || row.provider === f.provider)
    && (!f.model || row.model === f.model)
    && (!f.key || row.key === f.key)
    && (!f.status || Math.floor(row.status / 100) === Number(f.status[0]));
}

function addOption(select, value) {
  if (value === null || value === undefined || value === '') return;
  for (const o of select.options) if (o.value === value) return;
  select.append(el('option', { value }, value));
}

function addRows(rows, fresh) {
  for (const row of rows) {
    state.rows.delete(row.id);
    state.rows.set(row.id, row);
    addOption($('f-provider'), row.provider);
    addOption($('f-model'), row.model);
    addOption($('f-key'), row.key);
  }
  while (state.rows.size > MAX_ROWS) state.rows.delete(state.rows.keys().next().value);
  renderRows(fresh ? new Set(rows.map((r) => r.id)) : new Set());
}

function cell(text, cls) {
  return el('td', { class: cls }, text);
}

function renderRows(fresh) {
  const f = filters();
  const body = $('rows');
  const shown = [...state.rows.values()].filter((r) => keep(r, f)).slice(-SHOWN_ROWS).reverse();
  const frag = document.createDocumentFragment();
  for (const row of shown) {
    const retries = row.retries ? `${row.retries} retr${row.retries > 1 ? 'ies' : 'y'}` : '';
    const index = row.index ? row.index.replace(/^config\.?/, '') || 'config' : '';
    const tr = el('tr', { tabindex: 0, 'data-id': row.id, 'aria-selected': row.id === state.selected ? 'true' : 'false', class: fresh.has(row.id) ? 'fresh' : null },
      cell(fmtTime(row.ts)),
      cell(row.endpoint),
      cell(row.provider || '–'),
      cell(row.model || '–'),
      cell(String(row.status) + (row.error ? ' ' + row.error : ''), 's' + Math.floor(row.status / 100)),
      cell(fmtMs(row.latency_ms), 'num'),
      cell(fmtMs(row.ttfb_ms), 'num'),
      cell(tokens(row), 'num'),
      cell(fmtCost(row.cost), 'num'),
      cell(row.cache || '–'),
      cell([retries, index].filter(Boolean).join(' · ') || (row.attempts > 1 ? row.attempts + ' attempts' : '–')),
      cell(row.guardrail || '–', row.guardrail ? 'v-' + row.guardrail : null),
      cell(row.trace_id, 'mono'),
    );
    frag.append(tr);
  }
  clear(body);
  body.append(frag);
  $('empty').hidden = shown.length > 0;
}

function connectFeed() {
  if (state.feed) state.feed.abort();
  const ctl = new AbortController();
  state.feed = ctl;
  const q = new URLSearchParams(filters()).toString();
  const status = $('live-state');
  let delay = 1000;
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        status.textContent = 'connecting…';
        await sse('/console/api/live' + (q ? '?' + q : ''), ctl.signal, (event, data) => {
          delay = 1000;
          if (event === 'hello') {
            status.textContent = 'live';
            $('live-state').dataset.pid = data.pid;
            showWorker(data.pid, 'live table');
          } else if (event === 'rows' && !state.paused) {
            if (data.skipped) status.textContent = `live (${data.skipped} rows skipped: too many to show)`;
            addRows(data.rows, true);
          }
        });
      } catch (err) {
        if (ctl.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return askKey(err.message);
        status.textContent = `disconnected (${err.message}); retrying`;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  run();
}

// ---------------------------------------------------------------- detail

function dl(node, pairs) {
  clear(node);
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === '') continue;
    node.append(el('dt', null, k), el('dd', null, v));
  }
}

async function openDetail(id) {
  state.selected = id;
  for (const tr of $('rows').querySelectorAll('tr')) tr.setAttribute('aria-selected', String(tr.dataset.id === id));
  const aside = $('detail');
  aside.hidden = false;
  $('detail-title').textContent = 'Request ' + id.slice(0, 12) + '…';
  let d;
  try {
    d = await api('/console/api/requests/' + encodeURIComponent(id));
  } catch (err) {
    dl($('detail-summary'), [['error', err.message]]);
    return;
  }
  const r = d.row;
  dl($('detail-summary'), [
    ['request id', r.id], ['trace id', r.trace_id], ['time', new Date(r.ts * 1000).toISOString()],
    ['endpoint', r.endpoint], ['provider', r.provider], ['model', r.model],
    ['status', String(r.status) + (r.error ? ' ' + r.error : '')], ['stream', r.stream ? 'yes' : 'no'],
    ['latency', fmtMs(r.latency_ms)], ['TTFB', r.ttfb_ms === undefined ? null : fmtMs(r.ttfb_ms)],
    ['tokens', tokens(r)], ['cost', fmtCost(r.cost)], ['cache', r.cache], ['gateway key', r.key],
    ['last option index', r.index],
  ]);
  const tb = $('detail-attempts');
  clear(tb);
  d.attempts.forEach((a, i) => {
    tb.append(el('tr', { class: a.outcome === 'ok' ? 'attempt-ok' : 'attempt-failed' },
      cell(String(i + 1)), cell(a.option, 'mono'), cell(a.config || '–'), cell(a.provider || '–'),
      cell(a.status === null ? '–' : String(a.status), a.status ? 's' + Math.floor(a.status / 100) : null),
      cell(a.outcome), cell(a.ms === null ? '–' : a.ms.toFixed(1), 'num')));
  });
  if (!d.attempts.length) tb.append(el('tr', null, el('td', { colspan: 7, class: 'muted' }, 'no upstream attempt (answered by the gateway: cache, guardrail or an error before routing)')));
  const hooks = $('detail-hooks');
  clear(hooks);
  if (!d.hooks.length) hooks.append(el('p', { class: 'muted' }, 'no guardrail ran'));
  for (const h of d.hooks) {
    const verdict = h.deny ? 'deny' : h.verdict ? 'pass' : 'fail';
    const list = el('ul');
    for (const c of h.checks) list.append(el('li', null, `${c.id}: ${c.verdict ? 'pass' : 'fail'}`, c.explanation ? ` — ${c.explanation}` : '', c.error ? ` (error: ${c.error})` : ''));
    hooks.append(el('div', { class: 'hook' }, el('strong', { class: 'v-' + verdict }, `${h.phase} · ${h.id}: ${verdict}`), h.ms !== null ? ` (${h.ms} ms)` : '', list));
  }
  const off = 'not captured (console.capture_bodies is off)';
  $('detail-request').textContent = d.bodies === 'captured' ? d.request_body ?? '(none)' : off;
  $('detail-answer').textContent = d.bodies === 'captured' ? d.answer_body ?? '(none)' : off;
  $('detail-title').focus();
}

function closeDetail() {
  $('detail').hidden = true;
  const id = state.selected;
  state.selected = null;
  const tr = id && $('rows').querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  if (tr) { tr.setAttribute('aria-selected', 'false'); tr.focus(); }
}

// ---------------------------------------------------------------- health

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

// Bars: requests per bucket (errors in red on top); lines: p50 and p95 latency.
function chart(points, label) {
  const W = 300, H = 56, n = points.length;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label, preserveAspectRatio: 'none' });
  root.append(svg('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'axis' }));
  const maxN = Math.max(1, ...points.map((p) => p[1]));
  const bw = W / n;
  points.forEach((p, i) => {
    if (!p[1]) return;
    const h = (p[1] / maxN) * (H - 4);
    root.append(svg('rect', { x: i * bw + 0.5, y: H - h, width: Math.max(1, bw - 1), height: h, class: 'bar' }));
    if (p[2]) {
      const e = (p[2] / maxN) * (H - 4);
      root.append(svg('rect', { x: i * bw + 0.5, y: H - e, width: Math.max(1, bw - 1), height: e, class: 'err' }));
    }
  });
  const maxL = Math.max(1, ...points.map((p) => p[4] || 0));
  for (const [k, cls] of [[3, 'p50'], [4, 'p95']]) {
    const pts = points.map((p, i) => (p[k] === null ? null : `${(i + 0.5) * bw},${H - 2 - (p[k] / maxL) * (H - 6)}`)).filter(Boolean);
    if (pts.length) root.append(svg('polyline', { points: pts.join(' '), class: cls }));
  }
  return root;
}

function stat(name, value) {
  return el('div', null, el('span', null, name), value);
}

function renderHealth(h) {
  const cards = $('health-providers');
  clear(cards);
  const names = Object.keys(h.providers);
  if (!names.length) cards.append(el('p', { class: 'muted' }, 'No traffic in the last five minutes.'));
  for (const name of names) {
    const s = h.providers[name];
    cards.append(el('article', { class: 'card', 'data-provider': name },
      el('h3', null, name),
      el('div', { class: 'stats' },
        stat('requests/s', s.rps.toFixed(2)), stat('errors', fmtPct(s.error_rate)), stat('cache hits', fmtPct(s.cache_hit_ratio)),
        stat('p50 / p95', `${fmtMs(s.p50_ms)} / ${fmtMs(s.p95_ms)}`), stat('TTFB p50 / p95', `${fmtMs(s.ttfb_p50_ms)} / ${fmtMs(s.ttfb_p95_ms)}`),
        stat('tokens in → out', `${fmtNum(s.tokens_in)} → ${fmtNum(s.tokens_out)}`), stat('cost', fmtCost(s.cost_usd))),
      chart(s.points, `${name}: requests, errors and latency per ${h.bucket_s} s over five minutes`),
      el('div', { class: 'chart-label' }, `requests per ${h.bucket_s} s (errors red), p50 — and p95 - - latency`)));
  }
  const tb = $('health-targets');
  clear(tb);
  const targets = Object.entries(h.targets);
  if (!targets.length) tb.append(el('tr', null, el('td', { colspan: 8, class: 'muted' }, 'No config target tried yet.')));
  for (const [name, s] of targets) {
    const td = el('td');
    td.append(chart(s.points, `${name}: attempts and latency`));
    tb.append(el('tr', null, cell(name, 'mono'), cell(s.provider || '–'),
      cell(s.breaker || '–', s.breaker ? 'breaker-' + s.breaker : null), cell(s.rps.toFixed(2), 'num'),
      cell(fmtPct(s.error_rate), 'num'), cell(fmtMs(s.p50_ms), 'num'), cell(fmtMs(s.p95_ms), 'num'), td));
  }
  showWorker(h.pid, 'health');
}

async function refreshHealth() {
  try {
    renderHealth(await api('/console/api/health?window=300'));
  } catch (err) {
    $('health-note').textContent = 'health unavailable: ' + err.message;
  }
}

function startHealth() {
  if (state.healthTimer) return;
  refreshHealth();
  state.healthTimer = setInterval(refreshHealth, 2000);
}

function stopHealth() {
  clearInterval(state.healthTimer);
  state.healthTimer = null;
}

// ---------------------------------------------------------------- playground

async function loadConfigs() {
  if (state.configs) return state.configs;
  try {
    state.configs = await api('/console/api/configs');
  } catch (err) {
    return null;
  }
  const c = state.configs;
  for (const id of Object.keys(c.configs)) {
    addOption($('pg-pick'), id);
    addOption($('try-config'), id);
  }
  const list = $('try-providers');
  for (const slug of Object.keys(c.slugs)) list.append(el('option', { value: '@' + slug }, `settings slug → ${c.slugs[slug].provider}`));
  for (const p of c.providers) list.append(el('option', { value: p }));
  return c;
}

function pgInput() {
  let request;
  try {
    request = JSON.parse($('pg-request').value || '{}');
  } catch (err) {
    throw new Error('sample request: not valid JSON');
  }
  const pick = $('pg-pick').value;
  const text = $('pg-config').value.trim();
  const body = { config: pick && !text ? pick : text, request };
  const provider = $('pg-provider').value.trim();
  if (provider) body.provider = provider;
  return body;
}

function pgStatus(text, ok) {
  const s = $('pg-status');
  s.textContent = text;
  s.className = 'status ' + (ok ? 'ok' : 'bad');
}

function apiErrorText(err) {
  const e = (err.body && err.body.error) || {};
  return `${err.status} ${e.code || ''}: ${err.message}`;
}

async function pgValidate() {
  try {
    const body = pgInput();
    const r = await api('/console/api/validate', { config: body.config });
    pgStatus(`valid (${r.config}, ${r.mode})`, true);
    return true;
  } catch (err) {
    pgStatus(err instanceof ApiError ? apiErrorText(err) : err.message, false);
    return false;
  }
}

function targetText(t) {
  if (!t) return '';
  if (t.error && !t.provider) return `unusable: ${t.error.status} ${t.error.code}: ${t.error.message}`;
  const parts = [`${t.slug ? '@' + t.slug + ' → ' : ''}${t.provider}${t.model ? ' · ' + t.model : ''}`];
  if (t.retries) parts.push(`retries ${t.retries} on ${t.retry_on.join(', ')}`);
  if (t.timeout_ms) parts.push(`timeout ${t.timeout_ms} ms`);
  if (t.custom_host) parts.push(`host ${t.custom_host}`);
  return parts.join(' · ');
}

function nodeText(n) {
  let head = n.index + (n.name ? ` (${n.name})` : '');
  if (n.share !== undefined) head += ` — weight share ${(n.share * 100).toFixed(0)}%`;
  if (n.mode === 'target') head += ': ' + targetText(n.target);
  else if (n.mode === 'fallback') head += ': fallback, in order; moves on ' + (n.on_status_codes ? 'on ' + n.on_status_codes.join(', ') : 'on any failure');
  else if (n.mode === 'loadbalance') head += ': loadbalance, one target drawn by weight';
  else if (n.mode === 'conditional') head += ': conditional';
  else head += ': single (first target)';
  if (n.why) head += ` [${n.why}]`;
  if (n.guardrails) {
    for (const [phase, names] of Object.entries(n.guardrails)) head += ` · ${phase} guardrails: ${names.join(', ')}`;
  }
  if (n.breaker) head += ` · circuit breaker (threshold ${n.breaker.failure_threshold ?? n.breaker.failure_threshold_percentage + '%'}, cool-down ${n.breaker.cooldown_ms} ms)`;
  if (n.error) head += ` · ${n.error}`;
  return head;
}

function treeList(n) {
  const li = el('li', { class: n.chosen === false ? 'skipped' : n.chosen ? 'chosen' : null }, nodeText(n));
  if (n.children && n.children.length) {
    const list = el(n.mode === 'fallback' ? 'ol' : 'ul');
    for (const c of n.children) list.append(treeList(c));
    li.append(list);
  }
  return li;
}

// The order a request would take: fallback children one after another, a load balancer's
// draw as one step with its odds, a conditional's chosen branch.
function steps(n) {
  if (n.mode === 'target') return [`${n.index}: ${targetText(n.target)}`];
  const kids = n.children || [];
  if (n.mode === 'fallback') return kids.flatMap(steps);
  if (n.mode === 'loadbalance') {
    return ['one of: ' + kids.map((c) => `${steps(c).join(' then ')} (${(c.share * 100).toFixed(0)}%)`).join(' | ')];
  }
  if (n.mode === 'conditional') {
    const chosen = kids.find((c) => c.chosen);
    return chosen ? steps(chosen) : [n.error || 'no target'];
  }
  return kids.length ? steps(kids[0]) : [];
}

async function pgRun() {
  clear($('pg-order'));
  clear($('pg-tree'));
  let r;
  try {
    r = await api('/console/api/dryrun', pgInput());
  } catch (err) {
    pgStatus(err instanceof ApiError ? apiErrorText(err) : err.message, false);
    return;
  }
  pgStatus(r.note || `valid (${r.config}); dry run below`, true);
  for (const s of steps(r.tree)) $('pg-order').append(el('li', null, s));
  $('pg-tree').append(el('ul', null, treeList(r.tree)));
}

function debounce(fn, ms) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}

// ---------------------------------------------------------------- try it

function tryRequest() {
  const provider = $('try-provider').value.trim();
  let model = $('try-model').value.trim() || 'gpt-4o-mini';
  const h = { 'content-type': 'application/json' };
  if (provider.startsWith('@')) model = `${provider}/${model.replace(/^@[^/]*\//, '')}`;
  else if (provider) h['x-portkey-provider'] = provider;
  const config = $('try-config').value;
  if (config) h['x-portkey-config'] = config;
  const body = { model, messages: [{ role: 'user', content: $('try-message').value }], stream: $('try-stream').checked };
  return { h, body };
}

function snippet(lang) {
  const { h, body } = tryRequest();
  const base = location.origin + '/v1';
  const provider = h['x-portkey-provider'];
  const config = h['x-portkey-config'];
  const msg = JSON.stringify(body.messages[0].content);
  if (lang === 'curl') {
    const lines = [`curl ${base}/chat/completions \\`, '  -H "content-type: application/json" \\'];
    if (provider) lines.push(`  -H "x-portkey-provider: ${provider}" \\`);
    if (config) lines.push(`  -H "x-portkey-config: ${config}" \\`);
    lines.push('  -H "Authorization: Bearer $PROVIDER_API_KEY" \\');
    lines.push(`  -d '${JSON.stringify(body).replace(/'/g, "'\\''")}'`);
    return lines.join('\n');
  }
  const hdrs = Object.entries({ 'x-portkey-provider': provider, 'x-portkey-config': config }).filter(([, v]) => v);
  if (lang === 'python') {
    const dh = hdrs.length ? `,\n    default_headers={${hdrs.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}` : '';
    const out = [
      'import os', 'from openai import OpenAI', '',
      `client = OpenAI(\n    base_url=${JSON.stringify(base)},\n    api_key=os.environ["PROVIDER_API_KEY"]${dh},\n)`,
      `${body.stream ? 'stream' : 'reply'} = client.chat.completions.create(`,
      `    model=${JSON.stringify(body.model)},`,
      `    messages=[{"role": "user", "content": ${msg}}],`,
      body.stream ? '    stream=True,\n)\nfor chunk in stream:\n    if chunk.choices:\n        print(chunk.choices[0].delta.content or "", end="")' : ')\nprint(reply.choices[0].message.content)',
    ];
    return out.join('\n');
  }
  const dh = hdrs.length ? `,\n  defaultHeaders: { ${hdrs.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')} }` : '';
  return [
    "import OpenAI from 'openai';", '',
    `const client = new OpenAI({\n  baseURL: ${JSON.stringify(base)},\n  apiKey: process.env.PROVIDER_API_KEY${dh},\n});`,
    `const ${body.stream ? 'stream' : 'reply'} = await client.chat.completions.create({`,
    `  model: ${JSON.stringify(body.model)},`,
    `  messages: [{ role: 'user', content: ${msg} }],`,
    body.stream ? '  stream: true,\n});\nfor await (const chunk of stream) {\n  process.stdout.write(chunk.choices[0]?.delta?.content ?? \'\');\n}' : '});\nconsole.log(reply.choices[0].message.content);',
  ].join('\n');
}

function renderSnippet() {
  $('snippet').textContent = snippet(state.snippetLang);
}

async function sendTry(ev) {
  ev.preventDefault();
  const { h, body } = tryRequest();
  const key = $('try-key').value;
  const gwKey = $('try-gwkey').value;
  if (gwKey) h['x-portkey-api-key'] = gwKey;
  if (key) h.authorization = 'Bearer ' + key;
  const out = $('try-output');
  const status = $('try-status');
  out.textContent = '';
  status.textContent = 'sending…';
  status.className = 'status';
  const t0 = performance.now();
  let resp;
  try {
    resp = await fetch('/v1/chat/completions', { method: 'POST', headers: h, body: JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch (err) {
    status.textContent = 'failed: ' + err.message;
    status.className = 'status bad';
    return;
  }
  const meta = `${resp.status} · trace ${resp.headers.get('x-portkey-trace-id') || '–'} · provider ${resp.headers.get('x-portkey-provider') || '–'}`;
  if (!resp.ok || !body.stream || !(resp.headers.get('content-type') || '').startsWith('text/event-stream')) {
    const text = await resp.text();
    let shown = text;
    try {
      const data = JSON.parse(text);
      shown = data.choices ? data.choices.map((c) => (c.message && c.message.content) || '').join('\n') : JSON.stringify(data, null, 2);
    } catch (_) { /* as is */ }
    out.textContent = shown;
    status.textContent = `${meta} · ${(performance.now() - t0).toFixed(0)} ms`;
    status.className = 'status ' + (resp.ok ? 'ok' : 'bad');
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let first = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of frame.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        try {
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) { out.textContent += `\n[error] ${chunk.error.message}`; continue; }
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) {
            if (first === null) first = performance.now() - t0;
            out.textContent += delta.content;
          }
        } catch (_) { /* not JSON */ }
      }
    }
  }
  status.textContent = `${meta} · first token ${first === null ? '–' : first.toFixed(0) + ' ms'} · ${(performance.now() - t0).toFixed(0)} ms`;
  status.className = 'status ok';
}

async function copySnippet() {
  const text = $('snippet').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('copy-state').textContent = 'copied';
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents($('snippet'));
    const sel = getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    $('copy-state').textContent = 'selected: press Ctrl+C to copy';
  }
}

// ---------------------------------------------------------------- start

function showWorker(pid, what) {
  const info = state.info;
  if (!info) return;
  const w = $('worker');
  if (info.workers > 1) {
    w.textContent = `${info.workers} worker processes: the ${what} shows worker ${pid} only (each connection may reach another worker). Ring: ${info.ring_size} requests per worker.`;
  } else {
    w.textContent = `Worker ${pid}: the whole gateway. Ring: last ${info.ring_size} requests${info.capture_bodies ? ', bodies captured (masked)' : ''}.${info.fed ? '' : ' The observability middleware is not in the chain: nothing is recorded.'}`;
  }
}

function askKey(message) {
  $('main').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = state.key ? message || 'that key was refused' : '';
  $('login-key').focus();
}

async function start() {
  try {
    state.info = await api('/console/api/info');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return askKey(err.message);
    $('worker').textContent = 'console unavailable: ' + err.message;
    return;
  }
  $('login').hidden = true;
  $('main').hidden = false;
  showWorker(state.info.pid, 'page');
  connectFeed();
  const tab = (location.hash || '#live').slice(1);
  selectTab(TABS.includes(tab) ? tab : 'live', false);
}

function wire() {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.key = $('login-key').value;
    $('login-key').value = ''; // the key lives in script memory and this tab's storage only
    sessionStorage.setItem(KEY_STORE, state.key);
    start();
  });
  for (const t of TABS) $('tab-' + t).addEventListener('click', () => selectTab(t, false));
  tablistKeys($('tabs'), (tab) => selectTab(tab.id.slice(4), true));
  for (const name of ['provider', 'model', 'status', 'key']) {
    $('f-' + name).addEventListener('change', () => { renderRows(new Set()); connectFeed(); });
  }
  $('pause').addEventListener('click', () => {
    state.paused = !state.paused;
    $('pause').setAttribute('aria-pressed', String(state.paused));
    $('pause').textContent = state.paused ? 'Resume' : 'Pause';
  });
  const rows = $('rows');
  rows.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (tr) openDetail(tr.dataset.id);
  });
  rows.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-id]');
    if (!tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openDetail(tr.dataset.id); }
    else if (ev.key === 'ArrowDown' && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
    else if (ev.key === 'ArrowUp' && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
  });
  $('detail-close').addEventListener('click', closeDetail);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !$('detail').hidden) closeDetail();
  });
  $('pg-request').value = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], metadata: {} }, null, 2);
  $('pg-pick').addEventListener('change', () => {
    // a picked id runs the settings' own config; its text (credentials masked) is shown
    // as the placeholder, and typing over it makes a pasted, inline config instead
    const id = $('pg-pick').value;
    $('pg-config').value = '';
    $('pg-config').placeholder = id && state.configs ? JSON.stringify(state.configs.configs[id], null, 2) : '';
    pgValidate();
  });
  $('pg-config').addEventListener('input', debounce(pgValidate, 400));
  $('pg-validate').addEventListener('click', pgValidate);
  $('pg-run').addEventListener('click', pgRun);
  $('try-form').addEventListener('submit', sendTry);
  for (const id of ['try-provider', 'try-model', 'try-config', 'try-message', 'try-stream']) {
    $(id).addEventListener('input', renderSnippet);
    $(id).addEventListener('change', renderSnippet);
  }
  for (const b of $('snip-tabs').querySelectorAll('[role=tab]')) {
    b.addEventListener('click', () => selectSnippet(b, false));
  }
  tablistKeys($('snip-tabs'), (b) => selectSnippet(b, true));
  $('copy').addEventListener('click', copySnippet);
  renderSnippet();
}

function selectSnippet(button, focus) {
  for (const b of $('snip-tabs').querySelectorAll('[role=tab]')) {
    const on = b === button;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
  }
  state.snippetLang = button.dataset.lang;
  if (focus) button.focus();
  renderSnippet();
}

wire();
start();

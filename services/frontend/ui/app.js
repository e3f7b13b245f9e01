// Waymark's web UI: one page that reads and steers the server through its public HTTP API
// (/api/v1), with the user's API key when the server needs one. No framework and no build
// step: the binary serves this file as it is. Lists refresh while "Live" is on; a workflow's
// history and an activity's state are long-polled, so they change as the server writes them.
'use strict';

const KEY = 'waymark.apiKey';
const LIST_REFRESH_MS = 500;
const QUEUE_REFRESH_MS = 2000;
const PAGE_SIZE = 50;
const CHART_SAMPLES = 60;

const STATUS_PREFIXES = ['WORKFLOW_EXECUTION_STATUS_', 'ACTIVITY_EXECUTION_STATUS_',
  'PENDING_ACTIVITY_STATE_', 'PENDING_WORKFLOW_TASK_STATE_', 'EVENT_TYPE_'];

const WORKFLOW_VIEWS = [
  ['All', ''],
  ['Running', "ExecutionStatus='Running'"],
  // Running, and an activity is past its first attempt (Waymark's `Attempt` attribute).
  ['Retrying', "ExecutionStatus='Running' AND Attempt > 1"],
  ['Completed', "ExecutionStatus='Completed'"],
  ['Failed', "ExecutionStatus='Failed'"],
  ['Timed out', "ExecutionStatus='TimedOut'"],
  ['Canceled', "ExecutionStatus='Canceled'"],
  ['Terminated', "ExecutionStatus='Terminated'"],
];

// --- Small helpers ------------------------------------------------------------------------

/** An element: `h('a', {href}, 'text', child)`. Text is always text, never HTML. `need`
 * ('write' or 'admin') hides it from a key that may not do that. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'need') el.hidden = !can(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

const short = (s) => {
  if (typeof s !== 'string') return s;
  const p = STATUS_PREFIXES.find((p) => s.startsWith(p));
  return p ? s.slice(p.length) : s;
};

function statusCell(status) {
  const s = short(status || '');
  return h('span', { class: `status s-${s}` }, s);
}

function time(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  const secs = Math.round((Date.now() - d.getTime()) / 1000);
  const ago = Math.abs(secs) < 60 ? `${Math.abs(secs)}s` : Math.abs(secs) < 3600
    ? `${Math.round(Math.abs(secs) / 60)}m` : `${Math.round(Math.abs(secs) / 3600)}h`;
  return h('time', { datetime: ts, title: ts }, `${d.toLocaleString()} (${secs >= 0 ? ago + ' ago' : 'in ' + ago})`);
}

const json = (v) => h('pre', { class: 'mono' }, JSON.stringify(v, null, 2));
const compact = (v) => (v === undefined ? '' : JSON.stringify(v));
const enc = encodeURIComponent;

function toast(text, error) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = error ? 'show error' : 'show';
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 4000);
}

function failureText(f) {
  if (!f) return '';
  let text = f.message || '';
  const type = f.applicationFailureInfo && f.applicationFailureInfo.type;
  if (type) text += ` (${type})`;
  if (f.timeoutFailureInfo) text += ` (${short(f.timeoutFailureInfo.timeoutType)})`;
  return f.cause ? `${text}: caused by ${failureText(f.cause)}` : text;
}

// --- The API --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
  }
}

/** One call of the HTTP API; `wait` makes it a long poll of that many seconds. */
async function api(method, path, body, { wait, signal } = {}) {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (wait) headers['Grpc-Timeout'] = `${wait}S`;
  const r = await fetch(`/api/v1${path}`, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let answer = {};
  try { answer = text ? JSON.parse(text) : {}; } catch (e) { answer = { message: text }; }
  if (!r.ok) {
    if (r.status === 401) askForKey(answer.message);
    throw new ApiError(r.status, answer);
  }
  return answer;
}

const nsPath = (rest) => `/namespaces/${enc(state.ns)}${rest}`;

/** The namespace and role of the API key in use (a key may describe itself): none when there
 * is no key, or it is not an API key (a JWT). */
async function loadGrant() {
  state.grant = null;
  const id = /^wmk_([0-9a-f]{16})_/.exec(sessionStorage.getItem(KEY) || '');
  if (!id) return;
  try {
    const mine = await api('GET', `/api-keys/${id[1]}`);
    state.grant = { namespace: mine.namespace, role: mine.role };
  } catch (e) {
    // Unknown: every button shows, and the server refuses what the key may not do.
  }
}

/** Whether the key may `action` ('write' or 'admin') in the namespace shown. */
function can(action) {
  const g = state.grant;
  if (!g || g.role === 'system:admin') return true;
  if (g.namespace !== state.ns) return false;
  return action === 'write' ? g.role === 'writer' || g.role === 'admin' : g.role === 'admin';
}

async function act(what, method, path, body) {
  try {
    await api(method, nsPath(path), body);
    toast(`${what}: done`);
    return true;
  } catch (e) {
    toast(`${what}: ${e.message}`, true);
    return false;
  }
}

function askForKey(why) {
  if (document.getElementById('key-form')) return;
  const input = h('input', { type: 'password', 'aria-label': 'API key', placeholder: 'wmk_…', autocomplete: 'off', size: 50 });
  const form = h('form', { id: 'key-form', class: 'bar', onsubmit: async (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    await loadGrant();
    route();
  } },
  h('span', {}, why ? `The server needs an API key (${why}).` : 'The API key this UI sends:'),
  input, h('button', { class: 'primary', type: 'submit' }, 'Use key'));
  const main = document.getElementById('main');
  main.prepend(form);
  input.focus();
}

// --- Page state and routing -------------------------------------------------------------------

const state = { ns: 'default', stop: null, grant: null };

/** A page registers what stops its refreshes and long polls when the user leaves it. */
function onLeave(stop) {
  const previous = state.stop;
  state.stop = () => { if (previous) previous(); stop(); };
}

function go(path) {
  history.pushState(null, '', path);
  route();
}

function link(path, ...text) {
  return h('a', { href: path, onclick: (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    go(path);
  } }, ...text);
}

const ui = (rest) => `/ui/namespaces/${enc(state.ns)}${rest}`;

function route() {
  if (state.stop) state.stop();
  state.stop = null;
  const parts = location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // /ui/namespaces/{ns}/{section}/{id}/{runId}
  if (parts[1] !== 'namespaces' || !parts[2]) {
    history.replaceState(null, '', `/ui/namespaces/${enc(state.ns)}/workflows`);
    return route();
  }
  state.ns = parts[2];
  const [section, id, runId] = parts.slice(3);
  renderNav(section || 'overview');
  const main = document.getElementById('main');
  main.replaceChildren();
  const page = {
    undefined: () => overview(main),
    workflows: () => (id ? workflowPage(main, id, runId || '') : workflowList(main)),
    activities: () => (id ? activityPage(main, id) : activityList(main)),
    'task-queues': () => taskQueuePage(main, id),
  }[section];
  (page || (() => main.append(h('p', {}, 'No such page.'))))();
  main.focus({ preventScroll: true });
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...[['overview', 'Overview', ''], ['workflows', 'Workflows', '/workflows'],
    ['activities', 'Activities', '/activities'], ['task-queues', 'Task queues', '/task-queues']]
    .map(([name, text, rest]) => {
      const a = link(ui(rest), text);
      if (name === current) a.setAttribute('aria-current', 'page');
      return a;
    }));
  loadNamespaces();
}

async function loadNamespaces() {
  const select = document.getElementById('namespace');
  if (!select.dataset.loaded) {
    select.dataset.loaded = 'yes';
    select.addEventListener('change', () => go(`/ui/namespaces/${enc(select.value)}/workflows`));
    try {
      const answer = await api('GET', '/namespaces');
      const names = (answer.namespaces || []).map((n) => n.namespaceInfo.name);
      select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    } catch (e) {
      select.dataset.loaded = '';
    }
  }
  if (![...select.options].some((o) => o.value === state.ns)) select.append(h('option', { value: state.ns }, state.ns));
  select.value = state.ns;
}

/** Runs `tick` now and every `ms` while the page is shown and `live()` says so. */
function every(ms, tick, live = () => true) {
  let stopped = false;
  let timer;
  const loop = async () => {
    if (stopped) return;
    if (live() && !document.hidden) {
      try { await tick(); } catch (e) { if (!stopped) toast(e.message, true); }
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  loop();
  onLeave(() => { stopped = true; clearTimeout(timer); });
}

function liveToggle(initial) {
  const button = h('button', { type: 'button', class: 'live', 'aria-pressed': String(initial), 'data-on': String(initial) },
    h('span', { class: 'dot' }), 'Live');
  button.addEventListener('click', () => {
    const on = button.dataset.on !== 'true';
    button.dataset.on = String(on);
    button.setAttribute('aria-pressed', String(on));
    button.dispatchEvent(new Event('toggle'));
  });
  button.isOn = () => button.dataset.on === 'true';
  return button;
}

function table(columns, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, columns.map(([title, , cls]) => h('th', { class: cls }, title)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([, cell, cls]) => h('td', { class: cls }, cell(r))))))));
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== '' && v !== null)
    .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// --- Overview ---------------------------------------------------------------------------------

function overview(main) {
  main.append(h('h1', {}, `Namespace ${state.ns}`));
  const statuses = ['Running', 'Completed', 'Failed', 'TimedOut', 'Canceled', 'Terminated'];
  const workflows = h('div', { class: 'cards' });
  const activities = h('div', { class: 'cards' });
  const closes = h('div', {});
  const waits = h('div', {});
  main.append(h('h2', {}, 'Workflows'), workflows, h('h2', {}, 'Standalone activities'), activities,
    h('h2', {}, 'Activities in the last hour'), h('div', { class: 'charts' }, closes, waits));
  const card = (count, label, list, query) => h('a', { class: 'card', href: ui(`/${list}?query=${enc(query)}`) },
    h('b', {}, count || '0'), label);
  const counts = async (path, into, list) => {
    const retrying = "ExecutionStatus='Running' AND Attempt > 1";
    const [answer, retries] = await Promise.all([
      api('GET', nsPath(`/${path}?query=${enc('GROUP BY ExecutionStatus')}`)),
      api('GET', nsPath(`/${path}?query=${enc(retrying)}`)),
    ]);
    const by = Object.fromEntries((answer.groups || []).map((g) => [short(g.groupValues[0]), g.count]));
    into.replaceChildren(...statuses.map((s) => {
      const upper = s.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
      return card(by[upper] || by[s], s.replace('TimedOut', 'Timed out'), list, `ExecutionStatus='${s}'`);
    }), card(retries.count, 'Retrying', list, retrying));
  };
  every(QUEUE_REFRESH_MS, () => Promise.all([
    counts('workflow-count', workflows, 'workflows'),
    counts('activity-count', activities, 'activities'),
    lastHour(closes, waits),
  ]));
}

/** The namespace's activity throughput and schedule-to-start, a point a minute, from the server. */
async function lastHour(closes, waits) {
  const answer = await api('GET', nsPath('/activity-throughput'));
  const byMinute = new Map((answer.minutes || []).map((m) => [Date.parse(m.startTime), m]));
  const now = Math.floor(Date.now() / 60000) * 60000;
  const seconds = (d) => (d ? parseFloat(d) : 0);
  const minutes = Array.from({ length: 60 }, (_, i) => {
    const m = byMinute.get(now - (59 - i) * 60000) || {};
    return { completed: Number(m.completed || 0), other: Number(m.notCompleted || 0), started: Number(m.started || 0),
      average: seconds(m.scheduleToStartAverage) * 1000, max: seconds(m.scheduleToStartMax) * 1000 };
  });
  const sum = (key) => minutes.reduce((n, m) => n + m[key], 0);
  const started = sum('started');
  const average = started ? minutes.reduce((n, m) => n + m.average * m.started, 0) / started : 0;
  const longest = Math.max(0, ...minutes.map((m) => m.max));
  closes.replaceChildren(lineChart(minutes, 60, [
    ['completed', '#2b8a3e', `${sum('completed')} completed`],
    ['other', '#c92a2a', `${sum('other')} failed, timed out or canceled`],
  ], 'closed a minute', true));
  waits.replaceChildren(lineChart(minutes, 60, [
    ['average', '#3b5bdb', `schedule-to-start ${average.toFixed(1)} ms on average`],
    ['max', '#e67700', `longest ${longest.toFixed(1)} ms`],
  ], `${started} attempts started`, true));
}

// --- Lists ------------------------------------------------------------------------------------

/** A list page: query box, views, a table of `columns`, keyset paging and live refresh. */
function listPage(main, { title, path, views, columns, empty }) {
  const params = new URLSearchParams(location.search);
  const input = h('input', { type: 'search', 'aria-label': 'Visibility query', value: params.get('query') || '',
    placeholder: "e.g. ExecutionStatus='Running' AND StartTime > '2026-01-01T00:00:00Z'" });
  const live = liveToggle(true);
  const body = h('div', {});
  const pager = h('div', { class: 'bar' });
  const tokens = ['']; // the page tokens seen, for Previous
  let page = 0;
  const load = async () => {
    const q = `?pageSize=${PAGE_SIZE}&query=${enc(input.value)}&nextPageToken=${enc(tokens[page])}`;
    const answer = await api('GET', nsPath(path + q));
    const rows = answer.executions || [];
    body.replaceChildren(table(columns, rows, empty));
    tokens[page + 1] = answer.nextPageToken || '';
    pager.replaceChildren(
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page -= 1; load(); } }, 'Previous'),
      h('span', { class: 'muted' }, `Page ${page + 1}`),
      h('button', { type: 'button', disabled: !answer.nextPageToken, onclick: () => { page += 1; load(); } }, 'Next'));
  };
  const search = (query) => {
    input.value = query;
    page = 0;
    tokens.length = 1;
    history.replaceState(null, '', query ? `?query=${enc(query)}` : location.pathname);
    viewButtons.forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.query === query)));
    load().catch((e) => toast(e.message, true));
  };
  const viewButtons = views.map(([name, query]) => h('button', { type: 'button', 'data-query': query,
    'aria-pressed': String(query === input.value), onclick: () => search(query) }, name));
  main.append(h('h1', {}, title),
    h('form', { class: 'bar', role: 'search', onsubmit: (e) => { e.preventDefault(); search(input.value); } },
      input, h('button', { class: 'primary', type: 'submit' }, 'Search'), live),
    h('div', { class: 'bar views', role: 'group', 'aria-label': 'Views' }, viewButtons),
    body, pager);
  // Only the first page follows changes: a later page would shift under the reader.
  const following = () => live.isOn() && page === 0;
  load().catch((e) => toast(e.message, true));
  live.addEventListener('toggle', () => following() && load().catch((e) => toast(e.message, true)));
  onNamespaceChange(load, following);
}

/**
 * Runs `changed` when an execution of the namespace starts, changes or closes, while `live()`
 * holds: a long poll on the namespace's changes, and at most one run per LIST_REFRESH_MS.
 */
function onNamespaceChange(changed, live) {
  const controller = new AbortController();
  onLeave(() => controller.abort());
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  (async () => {
    let token = '';
    while (!controller.signal.aborted) {
      try {
        const r = await api('GET', nsPath(`/changes?after=${enc(token)}`), undefined,
          { wait: token ? 20 : undefined, signal: controller.signal });
        const moved = token && r.token !== token;
        token = r.token;
        if (moved && live()) {
          await changed();
          await pause(LIST_REFRESH_MS);
        }
      } catch (e) {
        if (controller.signal.aborted) return;
        await pause(2000);
      }
    }
  })();
}

function workflowList(main) {
  listPage(main, {
    title: 'Workflows',
    path: '/workflows',
    views: WORKFLOW_VIEWS,
    empty: 'No workflows match.',
    columns: [
      ['Status', (r) => statusCell(r.status)],
      ['Workflow ID', (r) => link(ui(`/workflows/${enc(r.execution.workflowId)}/${enc(r.execution.runId)}`), r.execution.workflowId), 'mono'],
      ['Type', (r) => (r.type || {}).name],
      ['Start', (r) => time(r.startTime), 'wide'],
      ['Close', (r) => time(r.closeTime), 'wide'],
      ['Task queue', (r) => link(ui(`/task-queues/${enc(r.taskQueue)}`), r.taskQueue), 'wide'],
    ],
  });
}

function activityList(main) {
  listPage(main, {
    title: 'Standalone activities',
    path: '/activities',
    views: WORKFLOW_VIEWS,
    empty: 'No activities match.',
    columns: [
      ['Status', (r) => statusCell(r.status)],
      ['Activity ID', (r) => link(ui(`/activities/${enc(r.activityId)}`), r.activityId), 'mono'],
      ['Type', (r) => (r.activityType || {}).name],
      ['Scheduled', (r) => time(r.scheduleTime), 'wide'],
      ['Closed', (r) => time(r.closeTime), 'wide'],
      ['Task queue', (r) => link(ui(`/task-queues/${enc(r.taskQueue)}`), r.taskQueue), 'wide'],
    ],
  });
}

// --- A workflow -------------------------------------------------------------------------------

function attributesOf(event) {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes'));
  return key ? event[key] : {};
}

function workflowPage(main, id, runId) {
  const summary = h('div', {});
  const pending = h('div', {});
  const timeline = h('div', {});
  const historyBody = h('div', {});
  const live = liveToggle(true);
  const filter = h('select', { 'aria-label': 'Event type' }, h('option', { value: '' }, 'All events'));
  const view = h('select', { 'aria-label': 'History view' },
    h('option', { value: 'feed' }, 'Feed'), h('option', { value: 'compact' }, 'Compact'), h('option', { value: 'json' }, 'JSON'));
  const events = [];
  let described = null;
  const runQuery = runId ? `?execution.runId=${enc(runId)}` : '';

  const actions = h('div', { class: 'actions' },
    h('button', { type: 'button', need: 'write', onclick: () => signal() }, 'Signal'),
    h('button', { type: 'button', onclick: () => query() }, 'Query'),
    h('button', { type: 'button', need: 'write', class: 'danger', onclick: () => cancel() }, 'Cancel'),
    h('button', { type: 'button', need: 'write', class: 'danger', onclick: () => terminate() }, 'Terminate'),
    h('button', { type: 'button', onclick: () => download() }, 'Download history'));
  const execution = () => ({ workflowId: id, runId: described ? described.workflowExecutionInfo.execution.runId : runId });
  const signal = async () => {
    const name = prompt('Signal name');
    if (!name) return;
    const input = prompt('Input as JSON (empty for none)', '');
    let args;
    try { args = input ? [JSON.parse(input)] : undefined; } catch (e) { return toast(`Not JSON: ${e.message}`, true); }
    if (confirm(`Send signal ${name} to ${id}?`)) {
      await act('Signal', 'POST', `/workflows/${enc(id)}/signal/${enc(name)}`, { workflowExecution: execution(), input: args });
    }
  };
  const answer = h('div', {});
  const query = async () => {
    const type = prompt('Query type');
    if (!type) return;
    const input = prompt('Argument as JSON (empty for none)', '');
    let args;
    try { args = input ? [JSON.parse(input)] : undefined; } catch (e) { return toast(`Not JSON: ${e.message}`, true); }
    try {
      // A worker answers: wait for it up to 10 s.
      const r = await api('POST', nsPath(`/workflows/${enc(id)}/query/${enc(type)}`),
        { execution: execution(), query: { queryType: type, queryArgs: args } }, { wait: 10 });
      answer.replaceChildren(h('h2', {}, `Query ${type}`), r.queryRejected
        ? h('p', {}, `Rejected: the workflow is ${short(r.queryRejected.status)}`) : json(r.queryResult));
    } catch (e) {
      toast(`Query: ${e.message}`, true);
    }
  };
  const cancel = async () => {
    if (confirm(`Request cancellation of workflow ${id}?`)) {
      await act('Cancel', 'POST', `/workflows/${enc(id)}/cancel`, { workflowExecution: execution(), reason: 'cancelled from the web UI' });
    }
  };
  const terminate = async () => {
    const reason = prompt(`Terminate workflow ${id}? Reason:`, 'terminated from the web UI');
    if (reason !== null) {
      await act('Terminate', 'POST', `/workflows/${enc(id)}/terminate`, { workflowExecution: execution(), reason });
    }
  };
  const download = () => {
    const blob = new Blob([JSON.stringify({ history: { events } }, null, 2)], { type: 'application/json' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `${id}-history.json` });
    a.click();
    URL.revokeObjectURL(a.href);
  };

  main.append(h('h1', {}, `Workflow ${id}`), actions, answer, summary,
    h('h2', {}, 'Pending activities'), pending,
    h('h2', {}, 'Timeline'), timeline,
    h('h2', {}, 'Event history'), h('div', { class: 'bar' }, filter, view, live), historyBody);

  const renderSummary = () => {
    const info = described.workflowExecutionInfo;
    const started = events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    const closing = info.closeTime ? events[events.length - 1] : null;
    const close = closing ? attributesOf(closing) : {};
    summary.replaceChildren(kv([
      ['Status', statusCell(info.status)],
      ['Run ID', h('span', { class: 'mono' }, info.execution.runId)],
      ['Type', (info.type || {}).name],
      ['Task queue', link(ui(`/task-queues/${enc(info.taskQueue)}`), info.taskQueue)],
      ['Started', time(info.startTime)],
      ['Closed', time(info.closeTime)],
      ['History', `${info.historyLength} events`],
      ['Input', started && attributesOf(started).input ? json(attributesOf(started).input) : undefined],
      ['Result', close.result ? json(close.result) : undefined],
      ['Failure', close.failure ? failureText(close.failure) : undefined],
      ['Reason', close.reason],
    ]));
    const acts = described.pendingActivities || [];
    const controls = (a) => activityButtons(`/workflows/${enc(id)}/activities/${enc(a.activityId)}`,
      `activity ${a.activityId}`, {
        extra: { runId: info.execution.runId },
        after: () => refresh().catch((e) => toast(e.message, true)),
        only: [a.paused ? 'unpause' : 'pause', 'reset', 'options'],
      });
    pending.replaceChildren(table([
      ['Activity', (a) => h('span', { class: 'mono' }, a.activityId)],
      ['Type', (a) => (a.activityType || {}).name],
      ['State', (a) => [statusCell(a.state),
        a.pauseInfo ? h('span', { class: 'muted' }, ` ${(a.pauseInfo.manual || {}).reason || ''}`) : '']],
      ['Attempt', (a) => a.attempt],
      ['Last failure', (a) => failureText(a.lastFailure)],
      ['Heartbeat', (a) => [compact(a.heartbeatDetails), ' ', time(a.lastHeartbeatTime)]],
      ['Next attempt', (a) => time(a.nextAttemptScheduleTime)],
      ['', (a) => h('span', { class: 'actions' }, ...controls(a))],
    ], acts, 'None.'));
    actions.querySelectorAll('button.danger').forEach((b) => { b.disabled = Boolean(info.closeTime); });
  };

  const renderHistory = () => {
    const types = [...new Set(events.map((e) => e.eventType))];
    const chosen = filter.value;
    filter.replaceChildren(h('option', { value: '' }, 'All events'), ...types.map((t) => h('option', { value: t }, short(t))));
    filter.value = chosen;
    const shown = events.filter((e) => !chosen || e.eventType === chosen);
    if (view.value === 'json') {
      historyBody.replaceChildren(json(shown));
      return;
    }
    const details = (e) => (view.value === 'compact'
      ? h('span', { class: 'mono' }, compact(attributesOf(e)))
      : h('details', {}, h('summary', {}, summaryOf(e)), json(attributesOf(e))));
    historyBody.replaceChildren(table([
      ['ID', (e) => e.eventId],
      ['Time', (e) => time(e.eventTime), 'wide'],
      ['Type', (e) => statusCell(e.eventType)],
      ['Details', details],
    ], shown.slice().reverse(), 'No events yet.'));
  };
  filter.addEventListener('change', renderHistory);
  view.addEventListener('change', renderHistory);

  // Describe follows what writes no event (an attempt's retry, a pause) every few seconds.
  const refresh = async () => {
    described = await api('GET', nsPath(`/workflows/${enc(id)}${runQuery}`));
    renderSummary();
    timeline.replaceChildren(gantt(events, described.pendingActivities || []));
  };
  every(QUEUE_REFRESH_MS, () => refresh(), () => live.isOn() && described && !described.workflowExecutionInfo.closeTime);

  // The history, then each new event as it is written (a long poll per batch).
  const controller = new AbortController();
  onLeave(() => controller.abort());
  const follow = async () => {
    let token = '';
    const run = runId || '';
    for (;;) {
      if (controller.signal.aborted) return;
      if (!live.isOn() && token) {
        await new Promise((r) => live.addEventListener('toggle', r, { once: true }));
        continue;
      }
      // The first page comes at once; with its token, the next waits for new events.
      const q = `?execution.runId=${enc(run)}&nextPageToken=${enc(token)}&waitNewEvent=true`;
      let page;
      try {
        page = await api('GET', nsPath(`/workflows/${enc(id)}/history${q}`), undefined,
          { wait: token ? 20 : undefined, signal: controller.signal });
      } catch (e) {
        if (controller.signal.aborted) return;
        summary.replaceChildren(h('p', { class: 'muted' }, e.message));
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      const fresh = (page.history && page.history.events) || [];
      events.push(...fresh);
      if (fresh.length || !described) {
        renderHistory();
        await refresh().catch((e) => toast(e.message, true));
      }
      if (!page.nextPageToken) return; // the run closed
      token = page.nextPageToken;
    }
  };
  follow();
}

/** One line about an event: the attributes people look for first. */
function summaryOf(e) {
  const a = attributesOf(e);
  const parts = [];
  if (a.activityType) parts.push(a.activityType.name);
  if (a.activityId) parts.push(`id ${a.activityId}`);
  if (a.attempt > 1) parts.push(`attempt ${a.attempt}`);
  if (a.signalName) parts.push(a.signalName);
  if (a.timerId) parts.push(`timer ${a.timerId}`);
  if (a.failure) parts.push(failureText(a.failure));
  if (a.result) parts.push(`result ${compact(a.result)}`);
  if (a.reason) parts.push(a.reason);
  return parts.join(' · ') || 'details';
}

/** A Gantt of the run's activities, timers and workflow tasks, from its events. */
/**
 * The run's activities, timers and workflow tasks on one time axis. A pending activity past its
 * first attempt also shows its failed attempts and its retry backoff (from describe: the history
 * records only an activity's last attempt).
 */
function gantt(events, pending = []) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events yet.');
  const bars = new Map();
  const open = (id, label, kind, t, activityId) => bars.set(id, { label, kind, from: t, to: null, activityId });
  for (const e of events) {
    const a = attributesOf(e);
    const t = Date.parse(e.eventTime);
    const type = short(e.eventType);
    if (type === 'ACTIVITY_TASK_SCHEDULED') open(`a${e.eventId}`, `${a.activityType.name} ${a.activityId}`, 'activity', t, a.activityId);
    else if (type === 'TIMER_STARTED') open(`t${a.timerId}`, `timer ${a.timerId}`, 'timer', t);
    else if (type === 'WORKFLOW_TASK_SCHEDULED') open(`w${e.eventId}`, 'workflow task', 'task', t);
    else if (type.startsWith('ACTIVITY_TASK_') && a.scheduledEventId && type !== 'ACTIVITY_TASK_STARTED' && type !== 'ACTIVITY_TASK_CANCEL_REQUESTED') {
      const bar = bars.get(`a${a.scheduledEventId}`);
      if (bar) { bar.to = t; bar.end = type; }
    } else if (type === 'ACTIVITY_TASK_STARTED') {
      const bar = bars.get(`a${a.scheduledEventId}`);
      if (bar) { bar.started = t; bar.attempt = a.attempt; }
    } else if (type.startsWith('TIMER_') && a.timerId) {
      const bar = bars.get(`t${a.timerId}`);
      if (bar) bar.to = t;
    } else if (type.startsWith('WORKFLOW_TASK_') && a.scheduledEventId) {
      const bar = bars.get(`w${a.scheduledEventId}`);
      if (bar && type !== 'WORKFLOW_TASK_STARTED') bar.to = t;
    }
  }
  for (const p of pending) {
    const bar = [...bars.values()].find((b) => b.activityId === p.activityId && !b.to);
    if (!bar) continue;
    bar.attempt = p.attempt;
    bar.started = p.lastStartedTime ? Date.parse(p.lastStartedTime) : undefined;
    if (p.attempt > 1 && p.lastAttemptCompleteTime) {
      const failedUntil = Date.parse(p.lastAttemptCompleteTime);
      bar.retry = { failedUntil, backoffUntil: Date.parse(p.nextAttemptScheduleTime || p.scheduledTime || p.lastAttemptCompleteTime),
        failure: (p.lastFailure || {}).message || '' };
    }
  }
  const list = [...bars.values()].slice(-40);
  const start = Math.min(...list.map((b) => b.from));
  const end = Math.max(Date.now(), ...list.map((b) => b.to || b.from));
  const span = Math.max(end - start, 1);
  const row = 20;
  const width = 1000;
  const x = (t) => 200 + ((t - start) / span) * (width - 210);
  const colour = { activity: '#3b5bdb', timer: '#e67700', task: '#868e96' };
  const chart = svg('svg', { class: 'gantt', viewBox: `0 0 ${width} ${list.length * row + 10}`, role: 'img',
    'aria-label': 'Timeline of activities, timers and workflow tasks' });
  list.forEach((b, i) => {
    const y = 5 + i * row;
    const to = b.to || Date.now();
    chart.append(svg('text', { x: 4, y: y + 13, 'font-size': 11, fill: '#1d2330' }, b.label.slice(0, 30)));
    if (b.started) {
      chart.append(svg('rect', { x: x(b.from), y: y + 4, width: Math.max(x(b.started) - x(b.from), 1), height: 8, fill: '#ced4da' }));
    }
    chart.append(svg('rect', { x: x(b.started || b.from), y: y + 2, width: Math.max(x(to) - x(b.started || b.from), 2),
      height: 12, rx: 2, fill: b.end && b.end !== 'ACTIVITY_TASK_COMPLETED' ? '#c92a2a' : colour[b.kind],
      opacity: b.to ? 1 : 0.5 }, svg('title', {}, `${b.label}: ${Math.round((to - b.from))} ms${b.attempt ? `, attempt ${b.attempt}` : ''}`)));
    if (b.retry) {
      const { failedUntil, backoffUntil, failure } = b.retry;
      chart.append(svg('rect', { x: x(b.from), y: y + 2, width: Math.max(x(failedUntil) - x(b.from), 2), height: 12, fill: '#ffa8a8' },
        svg('title', {}, `attempts 1–${b.attempt - 1} failed${failure ? `: ${failure}` : ''}`)));
      chart.append(svg('rect', { x: x(failedUntil), y: y + 2, width: Math.max(x(backoffUntil) - x(failedUntil), 2), height: 12, fill: '#ffd8a8' },
        svg('title', {}, `retry backoff before attempt ${b.attempt}: ${Math.round(backoffUntil - failedUntil)} ms`)));
    }
  });
  return h('div', {}, h('div', { class: 'legend' },
    'activities (grey: waiting for a worker; pink: failed attempts; orange: retry backoff) · timers · workflow tasks · red: did not complete'), chart);
}

// --- A standalone activity ----------------------------------------------------------------------

/** The leaf paths of an options object, as an update mask: `retryPolicy.maximumAttempts`. */
function maskOf(o, prefix = '') {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v)
    ? maskOf(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

/**
 * The operator's buttons for the activity at `base` (a standalone activity's path or a workflow's
 * activity's), each confirmed; `extra` joins every body, `after` runs after a success. `only`
 * picks some of cancel, terminate, pause, unpause, reset and options.
 */
function activityButtons(base, label, { extra = {}, after = () => {}, only } = {}) {
  const send = async (verb, body) => {
    const requestId = crypto.randomUUID ? crypto.randomUUID() : String(Math.random());
    if (await act(`${verb} ${label}`, 'POST', `${base}/${verb}`, { identity: 'waymark-ui', requestId, ...extra, ...body })) after();
  };
  const confirmed = (verb, body = {}) => () => {
    if (confirm(`${verb[0].toUpperCase()}${verb.slice(1)} ${label}?`)) send(verb, body);
  };
  const options = () => {
    const text = prompt(`New options for ${label} as JSON, e.g. {"startToCloseTimeout": "30s", "retryPolicy": {"maximumAttempts": 5}}`, '');
    if (!text) return;
    let activityOptions;
    try { activityOptions = JSON.parse(text); } catch (e) { return toast(`Not JSON: ${e.message}`, true); }
    const updateMask = maskOf(activityOptions).join(',');
    if (confirm(`Update ${updateMask} of ${label}?`)) send('update-options', { activityOptions, updateMask });
  };
  const buttons = {
    cancel: h('button', { type: 'button', need: 'write', class: 'danger', onclick: confirmed('cancel', { reason: 'cancelled from the web UI' }) }, 'Cancel'),
    terminate: h('button', { type: 'button', need: 'write', class: 'danger', onclick: confirmed('terminate', { reason: 'terminated from the web UI' }) }, 'Terminate'),
    pause: h('button', { type: 'button', need: 'write', onclick: confirmed('pause', { reason: 'paused from the web UI' }) }, 'Pause'),
    unpause: h('button', { type: 'button', need: 'write', onclick: confirmed('unpause') }, 'Unpause'),
    reset: h('button', { type: 'button', need: 'write', onclick: confirmed('reset') }, 'Reset'),
    options: h('button', { type: 'button', need: 'write', onclick: options }, 'Options'),
  };
  return (only || Object.keys(buttons)).map((k) => buttons[k]);
}

function activityPage(main, id) {
  const body = h('div', {});
  main.append(h('h1', {}, `Activity ${id}`),
    h('div', { class: 'actions' }, ...activityButtons(`/activities/${enc(id)}`, `activity ${id}`)), body);
  const controller = new AbortController();
  onLeave(() => controller.abort());
  const follow = async () => {
    let token = '';
    let run = '';
    for (;;) {
      // After the first answer, each waits until the activity changes (its long-poll token).
      const poll = token ? `&runId=${enc(run)}&longPollToken=${enc(token)}` : '';
      const q = `?includeInput=true&includeOutcome=true&includeHeartbeatDetails=true&includeLastFailure=true${poll}`;
      let d;
      try {
        d = await api('GET', nsPath(`/activities/${enc(id)}${q}`), undefined, { wait: token ? 20 : undefined, signal: controller.signal });
      } catch (e) {
        if (controller.signal.aborted) return;
        body.replaceChildren(h('p', { class: 'muted' }, e.message));
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      if (d.info) renderActivity(body, d);
      token = d.longPollToken || token;
      run = d.runId || (d.info && d.info.runId) || run;
      if (d.info && d.info.closeTime) return;
    }
  };
  follow();
}

function renderActivity(body, d) {
  const i = d.info;
  const outcome = d.outcome || {};
  body.replaceChildren(kv([
    ['Status', statusCell(i.status)],
    ['State', i.runState ? statusCell(i.runState) : undefined],
    ['Run ID', h('span', { class: 'mono' }, i.runId)],
    ['Type', (i.activityType || {}).name],
    ['Task queue', link(ui(`/task-queues/${enc(i.taskQueue)}`), i.taskQueue)],
    ['Attempt', i.attempt],
    ['Scheduled', time(i.scheduleTime)],
    ['Last started', time(i.lastStartedTime)],
    ['Closed', time(i.closeTime)],
    ['Next attempt', time(i.nextAttemptScheduleTime)],
    ['Heartbeat details', i.heartbeatDetails ? json(i.heartbeatDetails) : undefined],
    ['Last heartbeat', time(i.lastHeartbeatTime)],
    ['Last failure', i.lastFailure ? failureText(i.lastFailure) : undefined],
    ['Input', d.input ? json(d.input) : undefined],
    ['Result', outcome.result ? json(outcome.result) : undefined],
    ['Failure', outcome.failure ? failureText(outcome.failure) : undefined],
    ['Timeouts', `schedule-to-close ${i.scheduleToCloseTimeout || '∞'}, schedule-to-start ${i.scheduleToStartTimeout || '∞'}, start-to-close ${i.startToCloseTimeout || '∞'}, heartbeat ${i.heartbeatTimeout || 'none'}`],
  ]));
}

// --- A task queue ---------------------------------------------------------------------------------

function taskQueuePage(main, name) {
  if (!name) {
    const input = h('input', { type: 'text', 'aria-label': 'Task queue name', placeholder: 'task queue name' });
    main.append(h('h1', {}, 'Task queues'), h('form', { class: 'bar', onsubmit: (e) => {
      e.preventDefault();
      if (input.value) go(ui(`/task-queues/${enc(input.value)}`));
    } }, input, h('button', { class: 'primary', type: 'submit' }, 'Open')));
    const list = h('div', {});
    main.append(h('h2', {}, 'Used in the last five minutes'), list);
    input.focus();
    every(QUEUE_REFRESH_MS, async () => {
      const answer = await api('GET', nsPath('/task-queues'));
      list.replaceChildren(table([
        ['Task queue', (q) => link(ui(`/task-queues/${enc(q.name)}`), q.name), 'mono'],
        ['Type', (q) => short(q.taskQueueType)],
        ['Backlog', (q) => (q.stats || {}).approximateBacklogCount || '0'],
        ['Oldest', (q) => (q.stats || {}).approximateBacklogAge || '0s'],
        ['Pollers', (q) => q.pollerCount || 0],
        ['Last used', (q) => time(q.lastAccessTime), 'wide'],
      ], answer.taskQueues || [], 'No task queue was used in the last five minutes.'));
    });
    return;
  }
  const pollers = h('div', {});
  const stats = h('div', {});
  const chart = h('div', {});
  const rate = h('input', { type: 'number', min: 0, step: 'any', 'aria-label': 'Rate limit (tasks a second)', placeholder: 'no limit' });
  const samples = [];
  main.append(h('h1', {}, `Task queue ${name}`), h('h2', {}, 'Pollers'), pollers,
    h('h2', {}, 'Backlog and rates'), stats, chart,
    h('h2', { need: 'admin' }, 'Rate limit of activity tasks'),
    h('form', { class: 'bar', need: 'admin', onsubmit: async (e) => {
      e.preventDefault();
      const limit = rate.value === '' ? undefined : { requestsPerSecond: Number(rate.value) };
      if (!confirm(limit ? `Limit ${name} to ${rate.value} tasks a second?` : `Remove the rate limit of ${name}?`)) return;
      await act('Rate limit', 'POST', `/task-queues/${enc(name)}/update-config`, {
        taskQueue: name, taskQueueType: 'TASK_QUEUE_TYPE_ACTIVITY', identity: 'waymark-ui',
        updateQueueRateLimit: { rateLimit: limit, reason: 'set from the web UI' } });
    } }, rate, h('button', { class: 'primary', type: 'submit' }, 'Save')));
  let rateShown = false;
  every(QUEUE_REFRESH_MS, async () => {
    const types = ['TASK_QUEUE_TYPE_WORKFLOW', 'TASK_QUEUE_TYPE_ACTIVITY'];
    const [wf, act] = await Promise.all(types.map((t) => api('GET',
      nsPath(`/task-queues/${enc(name)}?taskQueueType=${t}&reportStats=true&reportConfig=true`))));
    const all = [...(wf.pollers || []).map((p) => ({ ...p, type: 'workflow' })),
      ...(act.pollers || []).map((p) => ({ ...p, type: 'activity' }))];
    pollers.replaceChildren(table([
      ['Type', (p) => p.type],
      ['Identity', (p) => p.identity, 'mono'],
      ['Last seen', (p) => time(p.lastAccessTime)],
    ], all, 'No worker has polled recently.'));
    const row = (label, d) => [label, (d.stats || {}).approximateBacklogCount || '0', (d.stats || {}).approximateBacklogAge || '0s',
      Number((d.stats || {}).tasksAddRate || 0).toFixed(2), Number((d.stats || {}).tasksDispatchRate || 0).toFixed(2),
      (((d.config || {}).queueRateLimit || {}).rateLimit || {}).requestsPerSecond ?? 'none'];
    stats.replaceChildren(table([
      ['Tasks', (r) => r[0]], ['Backlog', (r) => r[1]], ['Oldest', (r) => r[2]],
      ['Added /s', (r) => r[3]], ['Dispatched /s', (r) => r[4]], ['Rate limit /s', (r) => r[5]],
    ], [row('workflow', wf), row('activity', act)], ''));
    if (!rateShown) {
      const limit = (((act.config || {}).queueRateLimit || {}).rateLimit || {}).requestsPerSecond;
      if (limit !== undefined) rate.value = limit;
      rateShown = true;
    }
    samples.push({
      backlog: Number((act.stats || {}).approximateBacklogCount || 0) + Number((wf.stats || {}).approximateBacklogCount || 0),
      dispatch: Number((act.stats || {}).tasksDispatchRate || 0) + Number((wf.stats || {}).tasksDispatchRate || 0),
    });
    if (samples.length > CHART_SAMPLES) samples.shift();
    const last = samples[samples.length - 1];
    chart.replaceChildren(lineChart(samples, CHART_SAMPLES, [
      ['backlog', '#3b5bdb', `backlog ${last.backlog}`],
      ['dispatch', '#2b8a3e', `dispatched ${last.dispatch.toFixed(2)}/s`],
    ], 'last 2 minutes'));
  });
}

/**
 * Lines over `slots` samples: `series` is [key, colour, legend text] (the legend's colour is the
 * CSS class `l-<key>`). `shared`: one scale for all lines (else each line has its own).
 */
function lineChart(samples, slots, series, label, shared = false) {
  const width = 600;
  const height = 120;
  const top = Math.max(1, ...samples.flatMap((s) => series.map(([key]) => s[key])));
  const line = ([key, colour]) => {
    const max = shared ? top : Math.max(1, ...samples.map((s) => s[key]));
    const points = samples.map((s, i) => `${(i / (slots - 1)) * width},${height - 5 - (s[key] / max) * (height - 10)}`);
    return svg('polyline', { points: points.join(' '), fill: 'none', stroke: colour, 'stroke-width': 2 });
  };
  return h('div', {},
    h('div', { class: 'legend' }, ...series.map(([key, , text]) => h('span', { class: `l-${key}` }, text)), label),
    svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label }, ...series.map(line)));
}

// --- Start --------------------------------------------------------------------------------------

window.addEventListener('popstate', route);
document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('key').addEventListener('click', () => askForKey());
  await loadGrant();
  route();
});

// edgeflow's page. Vanilla JS, no build step: what is here is what runs.
// Everything goes through the local API (the one the command line uses).
// DOM is built from text nodes only, never parsed as HTML, so a connection
// named "<script>" stays a name. The API token lives in sessionStorage and
// in request headers, never in the DOM.
'use strict';
(function () {
  const $ = (sel, el) => (el || document).querySelector(sel);
  const view = $('#view');
  const TOKEN = 'edgeflow.token';
  const CAYENNE_URL = 'https://lora.mydevices.com/v1/networks/actility/uplink';
  const HTTP = 'actility-http-iot', MQTT = 'actility-mqtt-iot';
  // Fields the API reports about a connection's delivery; they are not
  // configuration, so they are left out of a PUT.
  const STATUS_FIELDS = ['state', 'reason', 'startupTime', 'lastDelivery', 'lastError', 'lastErrorTime', 'backlog',
    'backlogBytes', 'delivered', 'deadLetters', 'oldestAge'];
  // SECRET names keys whose values are credentials, as the API's masking
  // does; the page masks them again, whatever the API sends.
  const SECRET = /pass|secret|token|auth|key|cookie|credential|signature/i;

  // h builds an element: h('a', {href: '#/x', onclick: f}, 'text', child…).
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    return fill(el, kids, true);
  }
  // fill sets (or, with add, appends) an element's children: nested lists
  // are flattened, null and false skipped, anything else becomes text.
  function fill(el, kids, add) {
    const nodes = [kids].flat(Infinity).filter((k) => k !== undefined && k !== null && k !== false)
      .map((k) => (k instanceof Node ? k : document.createTextNode(String(k))));
    if (add) return el.append(...nodes), el;
    el.replaceChildren(...nodes);
    label(el.tagName === 'TBODY' ? el.parentNode : el);
    return el;
  }
  // label gives each table cell its column's name, so that on a phone a
  // row can stack as a card with the names beside the values (app.css).
  function label(root) {
    for (const t of root.tagName === 'TABLE' ? [root] : root.querySelectorAll('table')) {
      const cols = [...t.querySelectorAll(':scope > thead th')].map((th) => th.textContent);
      t.classList.add('stack');
      for (const tr of t.tBodies[0] ? t.tBodies[0].rows : []) [...tr.cells].forEach((td, i) => { td.dataset.label = cols[i] || ''; });
    }
  }
  const render = (...kids) => fill(view, kids);

  // ---- API ----------------------------------------------------------------
  class APIError extends Error {
    constructor(status, body) {
      super((body && body.error) || 'HTTP ' + status);
      this.status = status; this.problems = (body && body.problems) || [];
    }
  }
  const token = () => sessionStorage.getItem(TOKEN) || '';
  function headers(extra) {
    const hd = Object.assign({ Accept: 'application/json' }, extra);
    if (token()) hd.Authorization = 'Bearer ' + token();
    return hd;
  }
  async function api(method, path, body) {
    const init = { method, headers: headers(), cache: 'no-store' };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, init); } catch (e) { throw new APIError(0, { error: 'the agent does not answer (' + e.message + ')' }); }
    const text = await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; } }
    if (res.status === 401) { login(); throw new APIError(401, { error: 'the API token is needed' }); }
    if (!res.ok) throw new APIError(res.status, data || { error: res.statusText });
    return { data, res };
  }
  const get = async (path) => (await api('GET', path)).data;

  // ---- small helpers --------------------------------------------------------
  function ago(t) {
    if (!t) return h('span', { class: 'muted' }, 'never');
    const d = new Date(t);
    if (isNaN(d)) return String(t);
    const s = Math.round((Date.now() - d) / 1000);
    let txt;
    if (s < 5) txt = 'just now';
    else if (s < 90) txt = s + ' s ago';
    else if (s < 5400) txt = Math.round(s / 60) + ' min ago';
    else if (s < 172800) txt = Math.round(s / 3600) + ' h ago';
    else txt = d.toLocaleString();
    return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, txt);
  }
  // COLOURS are IoT Flow's health colours for connection states, and the
  // same sense for sources (listening, upstream up, broker connected);
  // anything else is a failure, red.
  const COLOURS = { OPENED: 'green', OPENING: 'orange', AUTHENTICATING: 'orange', DEACTIVATED: 'grey',
    LISTENING: 'green', UP: 'green', CONNECTED: 'green' };
  function badge(state) {
    state = state || 'UNKNOWN';
    return h('span', { class: 'badge ' + (COLOURS[state.toUpperCase()] || 'red'), title: state }, state);
  }
  const stateOf = (c) => c.state || (c.active === false ? 'DEACTIVATED' : '');
  function typeOf(c) {
    if (c.brand) return c.brand === 'CAYENNE' ? 'Cayenne' : c.brand;
    return c.connectorId === HTTP ? 'HTTP' : c.connectorId === MQTT ? 'MQTT' : c.connectorId;
  }
  const masked = (k, v) => (SECRET.test(k) && v !== '' && v !== null && v !== undefined ? '*****' : v);
  function toast(msg, kind) {
    const t = h('div', { class: 'toast ' + (kind || '') }, msg);
    $('#toasts').append(t);
    setTimeout(() => t.remove(), kind ? 8000 : 4000);
  }
  function fail(e) {
    if (e.status !== 401) toast(e.message, 'error');
  }
  // confirmBox asks in a modal dialog; resolves true on Confirm.
  function confirmBox(text, ok) {
    const dlg = $('#confirm');
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = ok || 'Confirm';
    dlg.returnValue = '';
    dlg.showModal();
    return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
  }
  // clearProblem takes a field's error away once the field is edited.
  function clearProblem(ev) {
    const input = ev.target;
    if (!input.hasAttribute('aria-invalid')) return;
    input.removeAttribute('aria-invalid');
    const err = document.getElementById('err-' + input.id);
    if (err) err.remove();
  }
  function showProblems(form, problems, fallback) {
    form.querySelectorAll('.field-error').forEach((e) => e.remove());
    form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    const general = [];
    for (const p of problems) {
      // "connections[0].configuration.destinationURL" → "configuration.destinationURL"
      const path = String(p.path || '').replace(/^connections\[\d+\]\.?/, '');
      const input = [...form.querySelectorAll('[data-path]')].find((i) => path === i.dataset.path || path.startsWith(i.dataset.path + '.'));
      if (!input) { general.push(p.message); continue; }
      input.setAttribute('aria-invalid', 'true');
      const id = 'err-' + input.id;
      if (!document.getElementById(id)) input.after(h('div', { class: 'field-error', id }, p.message));
      else document.getElementById(id).append('; ' + p.message);
      input.setAttribute('aria-describedby', id);
    }
    if (!problems.length && fallback) general.push(fallback);
    const box = $('.form-error', form);
    if (box) fill(box, [...general.map((m) => h('div', {}, m))]);
  }

  // ---- routing --------------------------------------------------------------
  let gen = 0; // bumps on every navigation: a late answer never paints over a newer page
  let timer = 0;
  const current = (g) => g === gen;
  // every runs fn now and then every few seconds while the page is shown,
  // but not while a dialog is open or someone types: a redraw would take
  // their focus away.
  function every(g, fn) {
    fn();
    const busy = () => $('#confirm').open || /^(INPUT|TEXTAREA|SELECT)$/.test((document.activeElement || {}).tagName);
    timer = setInterval(() => { if (current(g) && !document.hidden && !busy()) fn(); }, 5000);
  }
  const routes = [
    [/^#\/connections\/?$/, connectionsPage],
    [/^#\/connections\/([^/]+)$/, connectionPage],
    [/^#\/create(?:\/(\w+))?$/, createPage],
    [/^#\/devices$/, devicesPage],
    [/^#\/live$/, livePage],
    [/^#\/gateway$/, gatewayPage],
    [/^#\/charts$/, chartsPage],
  ];
  function route() {
    gen++; clearInterval(timer);
    const hash = location.hash || '#/connections';
    const top = hash.split('/')[1] === 'create' ? 'connections' : hash.split('/')[1];
    document.querySelectorAll('[data-nav]').forEach((a) => {
      a.classList.toggle('active', a.dataset.nav === top);
      if (a.dataset.nav === top) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    $('#logout').hidden = !token();
    for (const [re, page] of routes) {
      const m = hash.match(re);
      if (m) { page(gen, ...m.slice(1).map((s) => s && decodeURIComponent(s))); return; }
    }
    render(h('p', {}, 'No such page. ', h('a', { href: '#/connections' }, 'Connections')));
  }

  // ---- login ----------------------------------------------------------------
  // login is shown when the API answers 401: the agent listens beyond
  // loopback and wants its token. The token is kept for this tab only.
  function login(refused) {
    gen++; clearInterval(timer);
    const input = h('input', { id: 'token', type: 'password', autocomplete: 'current-password', required: true });
    const form = h('form', { class: 'card login', onsubmit: async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      input.value = '';
      if (!t) return;
      sessionStorage.setItem(TOKEN, t);
      try { await api('GET', '/status'); route(); } catch (e) {
        if (e.status === 401) { sessionStorage.removeItem(TOKEN); login(true); } else fail(e);
      }
    } },
    h('h1', {}, 'API token'),
    h('p', { class: 'muted' }, 'This agent is reached over the network, so it asks for the token of its configuration (api.token).'),
    h('label', { for: 'token' }, 'Token', h('span', { class: 'req', title: 'mandatory' }, '*')), input,
    refused ? h('div', { class: 'field-error' }, 'The agent refused this token.') : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Log in')));
    render(form);
    input.focus();
  }

  // ---- connections ------------------------------------------------------------
  function connectionsPage(g) {
    const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    render(h('h1', {}, 'Connections', h('span', { class: 'spacer' }), h('a', { class: 'button', href: '#/create' }, 'Create')), body);
    every(g, async () => {
      let list;
      try { list = await get('/connections'); } catch (e) { if (current(g)) fill(body, [h('p', { class: 'err' }, e.message)]); return; }
      if (!current(g)) return;
      if (!list || !list.length) {
        fill(body, [h('div', { class: 'card empty' }, 'No connection yet: uplinks go nowhere. ', h('a', { href: '#/create' }, 'Create one'))]);
        return;
      }
      fill(body, [h('div', { class: 'scroll' }, h('table', { id: 'connections' },
        h('thead', {}, h('tr', {}, ['Name', 'Type', 'State', 'Last delivery', 'Last error', 'Backlog', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, list.map((c) => h('tr', { 'data-id': c.id },
          h('td', {}, h('a', { href: '#/connections/' + encodeURIComponent(c.id) }, c.name || c.id)),
          h('td', {}, typeOf(c)),
          h('td', {}, badge(stateOf(c)), c.reason ? h('div', { class: 'muted' }, c.reason) : ''),
          h('td', {}, ago(c.lastDelivery)),
          h('td', { class: 'wrap err' }, c.lastError || ''),
          h('td', {}, c.backlog == null ? '' : String(c.backlog)),
          h('td', {}, activeButton(c, () => route()), ' ', deleteButton(c)))))))]);
    });
  }

  // putConnection reads the connection afresh, lets change() edit it and
  // PUTs the whole object back, as IoT Flow wants.
  async function putConnection(id, change) {
    const c = await get('/connections/' + encodeURIComponent(id));
    for (const f of STATUS_FIELDS) delete c[f];
    c.configuration = c.configuration || {};
    change(c);
    const { data, res } = await api('PUT', '/connections/' + encodeURIComponent(id), c);
    noteChange(res);
    return data;
  }
  // noteChange tells what the API says beside an accepted change: warnings
  // (a Cayenne connection pointed elsewhere), or that it is not on file.
  function noteChange(res) {
    const w = res.headers.get('X-Edgeflow-Warning');
    if (w) toast('Accepted with a warning: ' + w, 'warn');
    if (res.headers.get('X-Edgeflow-Saved') === 'memory') {
      toast('Kept in memory only: the agent runs on built-in defaults, so this change lasts until it stops.', 'warn');
    }
  }
  function activeButton(c, after) {
    const on = c.active !== false;
    return h('button', { type: 'button', class: 'secondary', 'data-action': on ? 'deactivate' : 'activate', onclick: async () => {
      const q = on ? `Deactivate “${c.name}”? It stops delivering until it is activated again.` : `Activate “${c.name}”?`;
      if (!(await confirmBox(q, on ? 'Deactivate' : 'Activate'))) return;
      try {
        await putConnection(c.id, (x) => { x.active = !on; });
        toast(`“${c.name}” ${on ? 'deactivated' : 'activated'}`);
        after();
      } catch (e) { fail(e); }
    } }, on ? 'Deactivate' : 'Activate');
  }
  function deleteButton(c) {
    return h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: async () => {
      if (!(await confirmBox(`Delete “${c.name}”? Uplinks still waiting for it are dropped.`, 'Delete'))) return;
      try {
        await api('DELETE', '/connections/' + encodeURIComponent(c.id));
        toast(`“${c.name}” deleted`);
        if (location.hash === '#/connections') route(); else location.hash = '#/connections';
      } catch (e) { fail(e); }
    } }, 'Delete');
  }

  function connectionPage(g, id) {
    const head = h('h1', {}, 'Connection');
    const status = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
    const params = h('div', {});
    const dead = h('div', {});
    render(h('p', {}, h('a', { href: '#/connections' }, '← Connections')), head, status, h('h2', {}, 'Parameters'), params,
      h('h2', {}, 'Dead letters'), dead);
    let shown = false;
    let deadCount = -1;
    every(g, async () => {
      let c;
      try { c = await get('/connections/' + encodeURIComponent(id)); } catch (e) {
        if (current(g)) fill(status, [h('p', { class: 'err' }, e.status === 404 ? 'No such connection.' : e.message)]);
        return;
      }
      if (!current(g)) return;
      fill(head, [c.name || c.id, badge(stateOf(c)), h('span', { class: 'spacer' }),
        activeButton(c, () => route()), deleteButton(c)]);
      const cfg = c.configuration || {};
      fill(status, [h('dl', { class: 'kv' },
        h('dt', {}, 'Type'), h('dd', {}, typeOf(c), h('span', { class: 'muted mono' }, ' ' + (c.connectorId || ''))),
        h('dt', {}, 'Destination'), h('dd', { class: 'mono' }, destination(c)),
        h('dt', {}, 'State'), h('dd', {}, badge(stateOf(c)), c.reason ? h('span', { class: 'muted' }, ' ' + c.reason) : ''),
        h('dt', {}, 'Started'), h('dd', {}, ago(c.startupTime)),
        h('dt', {}, 'Last delivery'), h('dd', {}, ago(c.lastDelivery)),
        h('dt', {}, 'Last error'), h('dd', { class: 'err' }, c.lastError || h('span', { class: 'muted' }, 'none')),
        h('dt', {}, 'Backlog'), h('dd', {}, c.backlog == null ? '—' : String(c.backlog)),
        h('dt', {}, 'ID'), h('dd', { class: 'mono' }, c.id))]);
      // The parameters are drawn once, and again only after an edit, so a
      // refresh never throws away what someone is typing.
      if (!shown) { shown = true; fill(params, [paramTable(c, () => { shown = false; route(); })]); }
      if (c.deadLetters !== deadCount) { deadCount = c.deadLetters; deadLetters(g, c, dead); }
    });
  }
  function destination(c) {
    const cfg = c.configuration || {};
    if (c.connectorId === MQTT) return `${(cfg.protocol || 'TCP').toLowerCase()}://${cfg.hostName || '?'} → ${cfg.uplinkTopicPattern || 'mqtt/things/{DevEUI}/uplink'}`;
    return cfg.destinationURL || (c.brand === 'CAYENNE' ? CAYENNE_URL : '—');
  }

  // deadLetters lists the uplinks the endpoint refused (a 4xx), which the
  // agent keeps aside, and offers to send them again.
  async function deadLetters(g, c, box) {
    if (!c.deadLetters) { fill(box, [h('p', { class: 'muted' }, 'None: the endpoint has refused no uplink.')]); return; }
    let list;
    try { list = await get('/connections/' + encodeURIComponent(c.id) + '/deadletters'); } catch (e) { fill(box, [h('p', { class: 'err' }, e.message)]); return; }
    if (!current(g)) return;
    const replay = h('button', { type: 'button', class: 'secondary', id: 'replay', onclick: async () => {
      if (!(await confirmBox(`Send the ${list.length} refused uplinks of “${c.name}” again? They go behind the backlog, marked late.`, 'Replay'))) return;
      try {
        const { data } = await api('POST', '/connections/' + encodeURIComponent(c.id) + '/deadletters/replay', {});
        const n = data ? data.replayed : 0;
        toast(`${n} refused uplink${n === 1 ? '' : 's'} sent again`);
        route();
      } catch (e) { fail(e); }
    } }, 'Replay all');
    fill(box, [h('div', { class: 'scroll' }, h('table', { id: 'deadletters' },
      h('thead', {}, h('tr', {}, ['Received', 'Set aside', 'DevEUI', 'FCnt', 'FPort', 'Reason'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((d) => h('tr', {}, h('td', {}, ago(d.time)), h('td', {}, ago(d.at)), h('td', { class: 'mono' }, d.devEUI || ''),
        h('td', {}, num(d.fCnt)), h('td', {}, num(d.fPort)), h('td', { class: 'err' }, d.reason)))))),
    h('div', { class: 'actions' }, replay)]);
  }

  // paramRows lists what can be edited in place: the name and every plain
  // value of the configuration, with the usual HTTP keys even when unset.
  function paramRows(c) {
    const rows = [['name', c.name]];
    const cfg = c.configuration || {};
    const seen = new Set();
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj)) {
        const p = prefix + k;
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, p + '.');
        else { rows.push(['configuration.' + p, v]); seen.add(p); }
      }
    };
    walk(cfg, '');
    const usual = c.connectorId === MQTT ? ['hostName', 'protocol', 'username', 'password', 'uplinkTopicPattern', 'description', 'uplinkTimeValidity']
      : ['destinationURL', 'description', 'uplinkTimeValidity'];
    for (const k of usual) if (!seen.has(k)) rows.push(['configuration.' + k, undefined]);
    return rows;
  }
  function paramTable(c, after) {
    return h('div', { class: 'scroll' }, h('table', { class: 'params', id: 'params' }, h('tbody', {}, paramRows(c).map(([path, v]) => {
      const key = path.split('.').pop();
      const cell = h('td', { class: 'wrap mono' });
      const show = () => {
        let txt = v === undefined ? '' : Array.isArray(v) ? JSON.stringify(v) : String(masked(key, v));
        if (v === undefined && key === 'destinationURL' && c.brand === 'CAYENNE') txt = CAYENNE_URL + ' (fixed for Cayenne)';
        fill(cell, [txt === '' ? h('span', { class: 'muted' }, 'not set') : txt]);
        if (!Array.isArray(v)) cell.append(' ', h('button', { type: 'button', class: 'link', 'data-edit': path, onclick: edit }, 'Edit'));
      };
      const edit = () => {
        // A secret is never put back on screen, not even masked in an
        // input: left empty, it stays as it is.
        const secret = SECRET.test(key) && v !== undefined && v !== '';
        const input = h('input', { id: 'edit-' + path.replace(/\W/g, '-'), 'data-path': path, type: SECRET.test(key) ? 'password' : 'text',
          'aria-label': path, autocomplete: 'off', placeholder: secret ? 'unchanged: type a new value' : undefined });
        input.value = v === undefined || secret ? '' : String(v);
        const form = h('form', { class: 'inline-edit', oninput: clearProblem, onsubmit: async (ev) => {
          ev.preventDefault();
          const raw = input.value.trim();
          if (path === 'name' && !raw) { showProblems(form, [{ path, message: 'A name is mandatory.' }]); return; }
          if (secret && !raw) { show(); return; }
          if (!(await confirmBox(`Set ${path} of “${c.name}” to ${raw === '' ? 'nothing' : SECRET.test(key) ? 'the new value' : '“' + raw + '”'}?`))) return;
          try {
            await putConnection(c.id, (x) => setPath(x, path, raw === '' ? undefined : typed(raw, v)));
            toast(`${path} saved`);
            after();
          } catch (e) { showProblems(form, e.problems, e.message); fail(e); }
        } }, input, h('button', { type: 'submit' }, 'Confirm'), h('button', { type: 'button', class: 'secondary', onclick: show }, 'Cancel'),
        h('div', { class: 'form-error' }));
        fill(cell, [form]);
        input.focus();
      };
      show();
      return h('tr', {}, h('td', { class: 'mono' }, path), cell);
    }))));
  }
  // typed keeps a number a number and a boolean a boolean.
  function typed(raw, old) {
    if (typeof old === 'number' && raw !== '' && !isNaN(Number(raw))) return Number(raw);
    if (typeof old === 'boolean' && (raw === 'true' || raw === 'false')) return raw === 'true';
    return raw;
  }
  function setPath(obj, path, value) {
    const parts = path.split('.');
    const last = parts.pop();
    for (const p of parts) obj = obj[p] = obj[p] && typeof obj[p] === 'object' ? obj[p] : {};
    if (value === undefined) delete obj[last]; else obj[last] = value;
  }

  // ---- create -----------------------------------------------------------------
  // TYPES are the connections the page creates, each with only the fields
  // it needs (name and description are common); the API checks the rest,
  // and its problems land on these fields by their path.
  const TYPES = {
    cayenne: { title: 'Cayenne', text: 'myDevices Cayenne, through its Actility endpoint. Only a name is needed.', brand: 'CAYENNE', fields: [] },
    http: { title: 'HTTP', text: 'Each uplink POSTed as a DevEUI_uplink document to a URL of yours.', fields: [
      { id: 'f-url', path: 'configuration.destinationURL', label: 'Destination URL', required: true, type: 'url', placeholder: 'https://…' },
      { id: 'f-headers', path: 'configuration.headers', label: 'Headers', textarea: true, placeholder: 'X-Api-Key: …', hint: 'Optional, one "Name: value" a line.' },
    ] },
    mqtt: { title: 'MQTT', text: 'Each uplink published as a DevEUI_uplink document to a topic of your broker.', connector: MQTT, fields: [
      { id: 'f-host', path: 'configuration.hostName', label: 'Broker', required: true, placeholder: 'broker.example.com:8883', hint: 'host:port, without a scheme.' },
      { id: 'f-protocol', path: 'configuration.protocol', label: 'Protocol', options: ['TCP', 'SSL', 'WSS'] },
      { id: 'f-username', path: 'configuration.username', label: 'User name' },
      { id: 'f-password', path: 'configuration.password', label: 'Password', type: 'password' },
      { id: 'f-topic', path: 'configuration.uplinkTopicPattern', label: 'Uplink topic', placeholder: 'mqtt/things/{DevEUI}/uplink', hint: 'Optional.' },
    ] },
  };
  const DESCRIPTION = { id: 'f-description', path: 'configuration.description', label: 'Description' };
  function field(f) {
    const attrs = { id: f.id, name: f.id, 'data-path': f.path, placeholder: f.placeholder, 'aria-required': f.required ? 'true' : undefined };
    const input = f.options ? h('select', attrs, f.options.map((o) => h('option', { value: o }, o)))
      : f.textarea ? h('textarea', Object.assign(attrs, { rows: 3 }))
        : h('input', Object.assign(attrs, { type: f.type || 'text', autocomplete: f.type === 'password' ? 'new-password' : 'off' }));
    return [h('label', { for: f.id }, f.label, f.required ? h('span', { class: 'req', title: 'mandatory' }, '*') : null), input,
      f.hint ? h('div', { class: 'hint' }, f.hint) : null];
  }
  function createPage(g, type) {
    const t = TYPES[type];
    if (!t) {
      render(h('p', {}, h('a', { href: '#/connections' }, '← Connections')), h('h1', {}, 'Create a connection'),
        h('p', { class: 'muted' }, 'Choose the type of connection.'),
        h('div', { class: 'types' }, Object.entries(TYPES).map(([k, x]) => h('button', { type: 'button', class: 'type', 'data-type': k,
          onclick: () => { location.hash = '#/create/' + k; } }, h('strong', {}, x.title), h('span', {}, x.text)))));
      return;
    }
    const form = h('form', { class: 'card fields', id: 'create', novalidate: true, oninput: clearProblem, onsubmit: (ev) => { ev.preventDefault(); submit(form, t); } },
      field({ id: 'f-name', path: 'name', label: 'Name', required: true, placeholder: t.brand === 'CAYENNE' ? 'Actility To Cayenne' : 'My endpoint' }),
      t.brand === 'CAYENNE' ? [h('label', {}, 'Destination'), h('div', { class: 'mono' }, CAYENNE_URL), h('div', { class: 'hint' }, 'Fixed for Cayenne.')] : null,
      t.fields.map(field), field(DESCRIPTION), h('div', { class: 'form-error' }),
      h('p', { class: 'hint' }, h('span', { class: 'req' }, '*'), ' mandatory'),
      h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '#/create' }, 'Back'), h('button', { type: 'submit' }, 'Create')));
    render(h('p', {}, h('a', { href: '#/create' }, '← Type')), h('h1', {}, 'New ' + t.title + ' connection'), form);
    $('#f-name').focus();
  }
  async function submit(form, t) {
    const body = { name: '', connectorId: t.connector || HTTP, configuration: {} };
    if (t.brand) body.brand = t.brand;
    const problems = [];
    for (const f of [{ id: 'f-name', path: 'name', label: 'A name' }, ...t.fields, DESCRIPTION]) {
      const v = form.querySelector('#' + f.id).value.trim();
      if (!v) {
        if (f.required || f.path === 'name') problems.push({ path: f.path, message: (f.path === 'name' ? 'A name' : f.label) + ' is mandatory.' });
        continue;
      }
      if (f.path === 'configuration.headers') {
        const hdrs = {};
        for (const line of v.split('\n').filter((l) => l.trim())) {
          const i = line.indexOf(':');
          if (i <= 0) problems.push({ path: f.path, message: `"${line.trim()}" is not "Name: value".` });
          else hdrs[line.slice(0, i).trim()] = line.slice(i + 1).trim();
        }
        body.configuration.headers = hdrs;
        continue;
      }
      if (f.type === 'url' && !/^https?:\/\/[^/]/i.test(v)) problems.push({ path: f.path, message: 'An http:// or https:// URL is needed.' });
      setPath(body, f.path, v);
    }
    showProblems(form, problems);
    if (problems.length) { form.querySelector('[aria-invalid]').focus(); return; }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      const { data, res } = await api('POST', '/connections', body);
      const loc = res.headers.get('Location') || '';
      const id = (data && data.id) || decodeURIComponent(loc.split('/').pop());
      toast(`Connection “${body.name}” created`);
      noteChange(res);
      location.hash = '#/connections/' + encodeURIComponent(id);
    } catch (e) {
      btn.disabled = false;
      showProblems(form, e.problems, e.message);
      if (e.status !== 401 && !e.problems.length) fail(e);
    }
  }

  // ---- devices ------------------------------------------------------------------
  function devicesPage(g) {
    const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    render(h('h1', {}, 'Devices', h('span', { class: 'spacer' }), h('a', { class: 'button secondary', href: '#/live' }, 'Live uplinks')), body);
    every(g, async () => {
      let list, unknown;
      try { [list, unknown] = await Promise.all([get('/devices'), get('/devices/unknown')]); } catch (e) { if (current(g)) fill(body, [h('p', { class: 'err' }, e.message)]); return; }
      if (!current(g)) return;
      fill(body, [
        !list || !list.length ? h('div', { class: 'card empty' }, 'No device in the configuration: every uplink is dropped until devices are listed under devices: in the configuration file.')
          : h('div', { class: 'scroll' }, h('table', { id: 'devices' },
            h('thead', {}, h('tr', {}, ['DevEUI', 'DevAddr', 'Name', 'Session', 'Last uplink', 'FCnt', 'RSSI / SNR', 'Last payload'].map((t) => h('th', {}, t)))),
            h('tbody', {}, list.map((d) => h('tr', { 'data-deveui': d.devEUI, class: d.lastRejection && d.lastRejection.count ? 'rejected' : null },
              h('td', { class: 'mono' }, d.devEUI), h('td', { class: 'mono' }, d.devAddr || '—'), h('td', {}, d.name || ''),
              h('td', {}, d.sessionKnown ? h('span', { class: 'badge green' }, 'known')
                : h('span', { class: 'badge grey', title: 'no session yet: waiting for a join' }, 'unknown'), ' ', h('span', { class: 'muted' }, d.activation || '')),
              // A refused frame shows under the last uplink: that is where one looks when nothing arrives.
              h('td', { class: d.lastRejection ? 'wrap' : null }, ago(d.lastUplink), rejection(d.lastRejection)), h('td', {}, num(d.fCnt)), h('td', {}, radio(d.rssi, d.snr)),
              payloadCell(d.readings, d.payloadHex, d.payloadNote)))))),
        unknownView(unknown || [])]);
    });
  }
  const REASONS = { mic_failure: 'MIC failure', fcnt_replay: 'counter went back' };
  // rejection is a device's last refused frame: red while no good frame
  // followed it, grey once one did.
  function rejection(r) {
    if (!r) return null;
    const open = r.count > 0;
    return h('div', { class: 'rejection', 'data-reason': r.reason },
      h('span', { class: 'badge ' + (open ? 'red' : 'grey') }, (REASONS[r.reason] || r.reason) + (open ? ' ×' + r.count : '')), ' ', ago(r.time),
      open ? h('div', { class: 'hint' }, r.hint) : h('div', { class: 'muted' }, 'good frames since'));
  }
  function unknownView(list) {
    if (!list.length) return null;
    return [h('h2', {}, 'Addresses heard that no device has'),
      h('p', { class: 'muted' }, 'Other networks\' devices, or one of yours with a wrong devAddr (or whose OTAA join was not seen).'),
      h('div', { class: 'scroll' }, h('table', { id: 'unknown' },
        h('thead', {}, h('tr', {}, ['DevAddr', 'Frames', 'Last heard', 'Best RSSI', 'Gateway'].map((t) => h('th', {}, t)))),
        h('tbody', {}, list.map((u) => h('tr', { 'data-devaddr': u.devAddr },
          h('td', { class: 'mono' }, u.devAddr), h('td', {}, num(u.count)), h('td', {}, ago(u.lastHeard)),
          h('td', {}, u.bestRSSI + ' dBm'), h('td', { class: 'mono' }, u.gatewayEUI || '—'))))))];
  }
  const num = (n) => (n === undefined || n === null ? '—' : String(n));
  const radio = (rssi, snr) => (rssi === undefined || rssi === null ? '—' : `${rssi} dBm / ${snr} dB`);
  // payloadCell shows a payload's Cayenne LPP readings ("temperature 23.7 °C"),
  // the hex under them, or the hex alone; a name on two channels gets its channel.
  function payloadCell(readings, hex, note) {
    const rs = readings || [], n = (r) => rs.filter((x) => x.name === r.name && x.channel !== r.channel).length;
    return h('td', { class: 'wrap payload' }, h('div', {}, rs.length ? h('span', { class: 'readings' }, rs.map((r) => r.text + (n(r) ? ` (ch ${r.channel})` : '')).join(', ')) : null,
      hex ? h('span', { class: rs.length ? 'mono muted hex' : 'mono' }, hex) : (rs.length ? null : '—'), note ? h('span', { class: 'muted hex' }, note) : null));
  }

  // ---- live ---------------------------------------------------------------------
  // The event stream is read with fetch, not EventSource, because
  // EventSource cannot send the Authorization header. Once opened it keeps
  // running, so the list is there when one comes back to the page.
  // failing holds the connections whose last attempt failed: an uplink
  // that arrives meanwhile waits in their backlog, and shows ✗ queued
  // until its own outcome comes.
  const live = { rows: [], byKey: new Map(), failing: new Map(), state: 'connecting', started: false, paint: 0, missed: 0 };
  const MAX_ROWS = 200;
  async function stream() {
    for (;;) {
      try {
        const res = await fetch('/events', { headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store' });
        if (res.status === 401) { live.started = false; setLive('needs the token'); login(); return; }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        setLive('connected');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf = (buf + value).replace(/\r\n/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) { dispatch(buf.slice(0, i)); buf = buf.slice(i + 2); }
        }
      } catch (e) { /* reconnect below */ }
      setLive('reconnecting');
      await new Promise((r) => setTimeout(r, 2000 + Math.random() * 1000));
    }
  }
  function dispatch(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line[0] === ':') continue;
      const c = line.indexOf(':');
      const f = c < 0 ? line : line.slice(0, c);
      let v = c < 0 ? '' : line.slice(c + 1);
      if (v[0] === ' ') v = v.slice(1);
      if (f === 'event') event = v; else if (f === 'data') data.push(v);
    }
    if (!data.length) return;
    let ev;
    try { ev = JSON.parse(data.join('\n')); } catch (e) { return; }
    if (event === 'missed') { live.missed += ev.missed || 0; schedule(); return; }
    const key = (ev.devEUI || '').toUpperCase() + '/' + ev.fCnt;
    if (event === 'uplink') {
      if (live.byKey.has(key)) return; // sent again when the stream (re)opened
      const row = { up: ev, deliveries: [...live.failing.values()].map((f) => Object.assign({}, f, { queued: true })) };
      live.rows.unshift(row); live.byKey.set(key, row);
      trimLive();
    } else if (event === 'rejected') {
      live.rows.unshift({ rej: ev, deliveries: [] });
      trimLive();
    } else if (event === 'delivery') {
      const conn = ev.connectionId || ev.connection;
      if (ev.ok) live.failing.delete(conn);
      else live.failing.set(conn, { connectionId: ev.connectionId, connection: ev.connection, ok: false, error: ev.error });
      const row = live.byKey.get(key);
      if (!row) return; // an uplink from before the page was opened
      row.deliveries = row.deliveries.filter((d) => (d.connectionId || d.connection) !== conn);
      row.deliveries.push(ev);
    } else return;
    schedule();
  }
  function trimLive() {
    while (live.rows.length > MAX_ROWS) { const old = live.rows.pop(); if (old.up) live.byKey.delete((old.up.devEUI || '').toUpperCase() + '/' + old.up.fCnt); }
  }
  // rejectedRow is a frame of a configured device that was refused: shown
  // among the uplinks, so that pressing a device's button shows something.
  function rejectedRow(r) {
    return h('tr', { class: 'live-row rejected', 'data-deveui': r.devEUI, 'data-rejected': r.reason },
      h('td', {}, ago(r.time)), h('td', { class: 'mono' }, r.devEUI), h('td', {}, num(r.fCnt16)), h('td', {}, '—'),
      h('td', {}, radio(r.rssi, r.snr)), h('td', { class: 'wrap' }, h('div', { class: 'hint err' }, r.hint)), h('td', { class: 'mono' }, r.gateway || ''),
      h('td', {}, h('span', { class: 'badge red', title: r.hint }, 'refused: ' + (REASONS[r.reason] || r.reason))));
  }
  function setLive(s) { live.state = s; schedule(); }
  // schedule repaints at most once a frame however fast uplinks come.
  function schedule() { if (!live.paint) live.paint = requestAnimationFrame(() => { live.paint = 0; paintLive(); }); }
  function paintLive() {
    const tbody = $('#live tbody'), st = $('#live-state');
    if (!tbody) return;
    st.textContent = live.state;
    st.className = 'badge ' + (live.state === 'connected' ? 'green' : 'orange');
    // The agent drops events for a browser that lags rather than slow uplinks down.
    $('#live-missed').textContent = live.missed ? `${live.missed} events were missed while this page lagged behind.` : '';
    fill(tbody, [...live.rows.map(({ up, rej, deliveries }) => rej ? rejectedRow(rej) : h('tr', { class: 'live-row', 'data-deveui': up.devEUI, 'data-fcnt': up.fCnt },
      h('td', {}, ago(up.time)), h('td', { class: 'mono' }, up.devEUI), h('td', {}, num(up.fCnt)), h('td', {}, num(up.fPort)),
      h('td', {}, radio(up.rssi, up.snr)), payloadCell(up.readings, up.payloadHex), h('td', { class: 'mono' }, up.gateway || ''),
      h('td', {}, h('div', { class: 'deliveries' }, deliveries.length ? deliveries.map((d) => h('span', {
        class: 'badge ' + (d.ok ? (d.late ? 'orange' : 'green') : 'red'), 'data-delivery': d.ok ? 'ok' : 'failed',
        title: d.ok ? (d.late ? 'delivered late, from the backlog' : 'delivered')
          : d.queued ? 'not delivered yet: the connection is failing (' + (d.error || 'no answer') + '); the uplink waits in its backlog' : d.error || 'failed',
      }, (d.connection || d.connectionId) + (d.ok ? (d.late ? ' ✓ late' : ' ✓') : d.queued ? ' ✗ queued' : ' ✗'))) : h('span', { class: 'muted' }, 'waiting')))))]);
  }
  function livePage(g) {
    render(h('h1', {}, 'Live uplinks', h('span', { class: 'badge orange', id: 'live-state' }, live.state)),
      h('p', { class: 'muted' }, 'Uplinks as the agent decodes them, newest first, with where each one was delivered.'),
      h('p', { class: 'err', id: 'live-missed' }),
      h('div', { class: 'scroll' }, h('table', { id: 'live' },
        h('thead', {}, h('tr', {}, ['Time', 'DevEUI', 'FCnt', 'FPort', 'RSSI / SNR', 'Payload', 'Gateway', 'Delivered to'].map((t) => h('th', {}, t)))),
        h('tbody', {}))));
    if (!live.started) { live.started = true; stream(); }
    every(g, paintLive); // and again now and then, so "x s ago" stays true
  }

  // ---- charts ---------------------------------------------------------------------
  // The charts themselves are charts.js; the page gives them the API.
  function chartsPage(g) {
    const body = h('div', {});
    render(h('h1', {}, 'Charts'), body);
    const charts = window.edgeflowCharts.view(body, (minutes) => get('/history?minutes=' + minutes));
    every(g, () => charts.refresh());
  }

  // ---- gateway --------------------------------------------------------------------
  // gatewayPage draws what /status says about the agent, its packet
  // forwarders, relay upstreams and buffer. Parts it does not know by name
  // are drawn as they come, so a new field shows up without a page change.
  const KNOWN = ['version', 'config', 'started', 'uptime', 'connections', 'devices', 'unknownDevAddrs', 'lastReload', 'gateways'];
  const TITLES = { gateways: 'Packet forwarders', sources: 'Sources and relay upstreams', buffer: 'Buffer' };
  function gatewayPage(g) {
    const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
    render(h('h1', {}, 'Gateway'), body);
    every(g, async () => {
      let s;
      try { s = await get('/status'); } catch (e) { if (current(g)) fill(body, [h('p', { class: 'err' }, e.message)]); return; }
      if (!current(g)) return;
      const conns = s.connections || [];
      fill(body, [
        h('div', { class: 'card', id: 'agent' },
          h('span', { class: 'stat' }, 'Version', h('b', {}, s.version || '—')),
          h('span', { class: 'stat' }, 'Uptime', h('b', {}, s.uptime || '—')),
          s.config ? h('span', { class: 'stat' }, 'Configuration', h('b', { class: 'mono' }, s.config)) : null,
          h('span', { class: 'stat' }, 'Connections', h('b', {}, String(conns.length))),
          h('span', { class: 'stat' }, 'Devices', h('b', {}, String((s.devices || []).length)))),
        reloadView(s.lastReload),
        h('section', { 'data-section': 'gateways' }, h('h2', {}, 'Packet forwarders'), forwarders(s.gateways || [])),
        Object.entries(s).filter(([k]) => !KNOWN.includes(k)).map(([k, v]) => h('section', { 'data-section': k }, h('h2', {}, TITLES[k] || title(k)), k === 'buffer' ? bufferView(v) : value(v, k))),
        conns.length ? [h('h2', {}, 'Connections'), h('div', { class: 'scroll' }, h('table', {},
          h('thead', {}, h('tr', {}, ['Name', 'State', 'Last delivery', 'Backlog'].map((t) => h('th', {}, t)))),
          h('tbody', {}, conns.map((c) => h('tr', {}, h('td', {}, h('a', { href: '#/connections/' + encodeURIComponent(c.id) }, c.name || c.id)),
            h('td', {}, badge(c.state)), h('td', {}, ago(c.lastDelivery)), h('td', {}, num(c.backlog)))))))] : null]);
    });
  }
  // reloadView tells whether the last reload from the file took: an init
  // script's reload prints nothing of it.
  function reloadView(r) {
    if (!r) return null;
    return h('div', { class: 'card', id: 'reload', 'data-ok': String(!!r.ok) },
      h('b', {}, 'Last reload '), ago(r.time), r.trigger ? ' (' + r.trigger + ') ' : ' ',
      r.ok ? h('span', { class: 'badge green' }, 'applied')
        : [h('span', { class: 'badge red' }, 'refused'), h('p', {}, 'The configuration in force is the one before it. Fix these lines and save the file again:'),
          h('ul', { class: 'problems' }, (r.problems || []).map((p) => h('li', { class: 'mono wrap' }, p)))]);
  }
  // forwarders is the packet forwarders' table, narrow enough for a
  // phone: where each one sends from and its counts go in one cell.
  function forwarders(list) {
    if (!list.length) return h('p', { class: 'muted' }, 'No packet forwarder heard yet.');
    return h('div', { class: 'scroll' }, h('table', { id: 'gateways' },
      h('thead', {}, h('tr', {}, ['Gateway EUI', 'Last PUSH_DATA', 'Last PULL_DATA', 'Datagrams', 'Position'].map((t) => h('th', {}, t)))),
      h('tbody', {}, list.map((gw) => h('tr', {},
        h('td', { class: 'mono' }, gw.gatewayEUI), h('td', {}, ago(gw.lastPushData), gw.pushAddr ? h('div', { class: 'muted mono' }, gw.pushAddr) : null),
        h('td', {}, ago(gw.lastPullData), gw.pullAddr ? h('div', { class: 'muted mono' }, gw.pullAddr) : null),
        h('td', {}, `${num(gw.pushData)} push, ${num(gw.pullData)} pull, ${num(gw.rxpk)} rxpk`),
        h('td', { class: 'wrap' }, gw.position ? `${gw.position.latitude.toFixed(5)}, ${gw.position.longitude.toFixed(5)}, ${gw.position.altitude} m` : h('span', { class: 'muted' }, '—')))))));
  }
  const title = (k) => k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;
  // value draws any JSON: lists of objects as tables, objects as key/value
  // lists, times as "x ago"; secret-looking keys are masked whatever comes.
  function value(v, k) {
    if (v === null || v === undefined || v === '') return h('span', { class: 'muted' }, '—');
    if (SECRET.test(k || '')) return '*****';
    if (Array.isArray(v)) {
      if (!v.length) return h('span', { class: 'muted' }, 'none');
      if (typeof v[0] !== 'object') return v.join(', ');
      const cols = [...new Set(v.flatMap((o) => Object.keys(o || {})))];
      return h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, title(c))))),
        h('tbody', {}, v.map((o) => h('tr', {}, cols.map((c) => h('td', {}, cell(o[c], c))))))));
    }
    if (typeof v === 'object') {
      return h('div', { class: 'card' }, h('dl', { class: 'kv' }, Object.entries(v).flatMap(([kk, vv]) => [h('dt', {}, title(kk)), h('dd', {}, cell(vv, kk))])));
    }
    return cell(v, k);
  }
  function bytes(n) {
    const u = ['B', 'KB', 'MB', 'GB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function cell(v, k) {
    if (SECRET.test(k || '') && v) return '*****';
    if (typeof v === 'number' && /size|bytes/i.test(k || '')) return bytes(v);
    if (k === 'state' && typeof v === 'string') return badge(v);
    if (typeof v === 'string' && ISO.test(v)) return ago(v);
    if (v && typeof v === 'object') return Array.isArray(v) && typeof v[0] !== 'object' ? v.join(', ') : value(v, k);
    if (v === null || v === undefined || v === '') return h('span', { class: 'muted' }, '—');
    return String(v);
  }
  function bufferView(b) {
    if (!b || typeof b !== 'object') return value(b);
    const used = b.size, max = b.maxSize;
    if (typeof used !== 'number' || typeof max !== 'number' || max <= 0) return value(b);
    // Width through CSSOM: the CSP forbids style attributes.
    const bar = h('span');
    bar.style.width = Math.min(100, 100 * used / max) + '%';
    return [h('p', {}, `${bytes(used)} of ${bytes(max)} (${Math.round(100 * used / max)} %)`), h('div', { class: 'meter' }, bar), value(b)];
  }

  // ---- start ----------------------------------------------------------------------
  $('#logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN); location.hash = '#/connections'; location.reload(); });
  window.addEventListener('hashchange', route);
  if (!location.hash) history.replaceState(null, '', '#/connections');
  route();
})();

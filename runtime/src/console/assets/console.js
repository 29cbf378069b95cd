// wari's operator console: login, the live view fed by Server-Sent Events (a snapshot,
// then deltas), hang-up, the applications view and a test call with a keypad. Plain
// browser JavaScript: every text goes in with textContent, nothing is fetched from
// anywhere but this wari.
'use strict';
(() => {
  const $ = (selector) => document.querySelector(selector);
  const session = { csrf: '', readOnly: true, user: '' };
  const channels = new Map();
  const bridges = new Map();
  let clockOffset = 0; // server time minus browser time, in ms
  let feed = null;
  let testChannel = null;
  // What the other scripts of the page (one per view, see `assets.rs`) hook in.
  const hooks = { show: new Map(), row: [], render: [] };

  // A request to the console's API; rejects with the server's message.
  async function api(method, path, body) {
    const headers = {};
    if (method !== 'GET') headers['X-Wari-Csrf'] = session.csrf;
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = { message: text }; }
    }
    if (!response.ok) {
      const error = new Error((data && data.message) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function notice(text) { $('#notice').textContent = text || ''; }

  function cell(row, text, label, cls) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (label) td.dataset.label = label;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function party(p) {
    if (!p) return '';
    return [p.name, p.number].filter(Boolean).join(' ');
  }

  function duration(createdMs) {
    let s = Math.max(0, Math.floor((Date.now() + clockOffset - createdMs) / 1000));
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const two = (n) => String(n).padStart(2, '0');
    return (h ? h + ':' + two(m) : String(m)) + ':' + two(s);
  }

  // ---- live calls ----
  function renderCalls() {
    const filter = $('#search').value.trim().toLowerCase();
    const body = $('#channels tbody');
    const rows = [];
    const sorted = [...channels.values()].sort((a, b) => a.created_ms - b.created_ms || (a.id < b.id ? -1 : 1));
    for (const c of sorted) {
      const app = c.app ? c.app + (c.app_kind ? ' (' + (c.app_kind === 'wasm' ? 'WebAssembly' : 'WebSocket') + ')' : '') : '';
      const bridge = c.bridge ? (bridges.get(c.bridge) || {}).name || c.bridge : '';
      const text = [c.name, c.state, c.technology, party(c.caller), party(c.connected), app, bridge, c.id].join(' ').toLowerCase();
      if (filter && !text.includes(filter)) continue;
      const tr = document.createElement('tr');
      tr.dataset.id = c.id;
      const name = cell(tr, c.name, 'Channel', 'mono');
      const small = document.createElement('small');
      small.textContent = c.id;
      name.appendChild(small);
      cell(tr, c.state, 'State', 'state state-' + c.state.replace(/[^A-Za-z]/g, ''));
      cell(tr, c.technology, 'Tech');
      cell(tr, party(c.caller), 'Caller');
      cell(tr, party(c.connected), 'Connected');
      cell(tr, app, 'Application', 'app');
      cell(tr, bridge, 'Bridge', 'mono bridge');
      const d = cell(tr, duration(c.created_ms), 'Duration', 'duration');
      d.dataset.created = c.created_ms;
      if (!session.readOnly) {
        const td = cell(tr, '', null, 'writer');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'hangup danger';
        button.textContent = 'Hang up';
        button.setAttribute('aria-label', 'Hang up ' + c.name);
        button.addEventListener('click', () => hangUp(c.id, button));
        td.appendChild(button);
      }
      for (const hook of hooks.row) hook(tr, c);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $('#count').textContent = String(channels.size);
    $('#no-calls').hidden = rows.length > 0;

    const bridgeRows = [];
    for (const b of [...bridges.values()].sort((x, y) => x.created_ms - y.created_ms)) {
      const tr = document.createElement('tr');
      tr.dataset.id = b.id;
      const name = cell(tr, b.name || b.id, 'Bridge', 'mono');
      if (b.name) {
        const small = document.createElement('small');
        small.textContent = b.id;
        name.appendChild(small);
      }
      cell(tr, b.bridge_type, 'Type');
      cell(tr, b.technology, 'Technology');
      cell(tr, b.members.map((id) => (channels.get(id) || { name: id }).name).join(', '), 'Members', 'mono members');
      const d = cell(tr, duration(b.created_ms), 'Duration', 'duration');
      d.dataset.created = b.created_ms;
      bridgeRows.push(tr);
    }
    $('#bridges tbody').replaceChildren(...bridgeRows);
    $('#no-bridges').hidden = bridgeRows.length > 0;
    renderTestState();
    for (const hook of hooks.render) hook();
  }

  function tickDurations() {
    for (const td of document.querySelectorAll('td.duration')) {
      td.textContent = duration(Number(td.dataset.created));
    }
  }

  async function hangUp(id, button) {
    button.disabled = true;
    try {
      await api('DELETE', 'api/ari/channels/' + encodeURIComponent(id));
      notice('');
    } catch (e) {
      notice('Hang up refused: ' + e.message);
      button.disabled = false;
    }
  }

  function applyMessage(kind, data) {
    if (typeof data.now_ms === 'number') clockOffset = data.now_ms - Date.now();
    if (kind === 'snapshot') {
      channels.clear();
      bridges.clear();
      for (const c of data.channels) channels.set(c.id, c);
      for (const b of data.bridges) bridges.set(b.id, b);
    } else {
      for (const c of data.channels.upsert) channels.set(c.id, c);
      for (const id of data.channels.remove) channels.delete(id);
      for (const b of data.bridges.upsert) bridges.set(b.id, b);
      for (const id of data.bridges.remove) bridges.delete(id);
    }
    renderCalls();
  }

  function feedState(on, text) {
    const badge = $('#feed-state');
    badge.textContent = text;
    badge.className = 'badge ' + (on ? 'on' : 'off');
  }

  function openFeed() {
    if (feed) feed.close();
    feed = new EventSource('api/feed');
    const handle = (kind) => (event) => {
      try { applyMessage(kind, JSON.parse(event.data)); } catch (e) { notice('Bad feed message: ' + e.message); }
    };
    feed.addEventListener('open', () => feedState(true, 'live'));
    feed.addEventListener('snapshot', handle('snapshot'));
    feed.addEventListener('delta', handle('delta'));
    feed.addEventListener('ended', () => { feed.close(); feed = null; loggedOut('Your session has ended: log in again.'); });
    feed.addEventListener('error', () => {
      feedState(false, 'reconnecting');
      if (feed && feed.readyState === EventSource.CLOSED) {
        feed = null;
        // Refused (logged out, or too many connections): check the session, then retry.
        setTimeout(() => start('retry'), 2000);
      }
    });
  }

  // ---- applications ----
  async function loadApps() {
    let apps = [];
    let wasm = [];
    try { apps = await api('GET', 'api/ari/applications'); } catch (e) { notice('Applications: ' + e.message); }
    try { wasm = await api('GET', 'api/ari/wasm'); } catch (_) { wasm = []; }
    const wasmNames = new Set(wasm.map((w) => w.name));
    const list = (ids) => (ids || []).join(', ');
    const rows = apps.map((a) => {
      const tr = document.createElement('tr');
      tr.dataset.name = a.name;
      cell(tr, a.name, 'Name', 'mono');
      cell(tr, wasmNames.has(a.name) ? 'WebAssembly' : 'WebSocket', 'Handler');
      cell(tr, list(a.channel_ids), 'Channels', 'mono');
      cell(tr, list(a.bridge_ids), 'Bridges', 'mono');
      cell(tr, list(a.endpoint_ids), 'Endpoints', 'mono');
      cell(tr, list(a.device_names), 'Devices', 'mono');
      return tr;
    });
    $('#apps tbody').replaceChildren(...rows);
    $('#no-apps').hidden = rows.length > 0;
    const wasmRows = wasm.map((w) => {
      const tr = document.createElement('tr');
      tr.dataset.name = w.name;
      cell(tr, w.name, 'Name', 'mono');
      cell(tr, w.owner || '', 'Owner');
      const sha = cell(tr, (w.sha256 || '').slice(0, 16), 'sha256', 'mono');
      sha.title = w.sha256 || '';
      cell(tr, Array.isArray(w.versions) ? w.versions.length : '', 'Versions');
      cell(tr, (w.sessions_live ?? 0) + ' live / ' + (w.sessions_started ?? 0) + ' started', 'Sessions');
      const f = w.failures || {};
      cell(tr, (f.total ?? 0) + ' (traps ' + (f.traps ?? 0) + ', timeouts ' + (f.timeouts ?? 0) + ', limits ' + (f.limits ?? 0) + ')', 'Failures');
      const last = f.last;
      cell(tr, last ? (last.message || JSON.stringify(last)) : '', 'Last failure', 'last-failure');
      return tr;
    });
    $('#wasm tbody').replaceChildren(...wasmRows);
    $('#no-wasm').hidden = wasmRows.length > 0;
    const options = apps.map((a) => {
      const o = document.createElement('option');
      o.value = a.name;
      return o;
    });
    $('#test-apps').replaceChildren(...options);
  }

  // ---- test call ----
  function renderTestState() {
    const c = testChannel && channels.get(testChannel);
    $('#test-channel').textContent = c ? c.name : (testChannel ? testChannel + ' (gone)' : 'none');
    $('#test-state').textContent = c ? c.state : '-';
    $('#test-hangup').disabled = !c;
    for (const b of document.querySelectorAll('#keypad button')) b.disabled = !c;
  }

  async function testCall(event) {
    event.preventDefault();
    const app = $('#test-app').value.trim();
    const phone = $('#test-phone').value.trim() || 'console';
    const query = new URLSearchParams({ endpoint: 'Test/' + phone, app });
    try {
      const channel = await api('POST', 'api/ari/channels?' + query.toString());
      testChannel = channel.id;
      $('#test-keys').textContent = '';
      notice('');
    } catch (e) {
      notice('Test call refused: ' + e.message);
    }
    renderTestState();
  }

  async function pressKey(key) {
    if (!testChannel) return;
    try {
      await api('POST', 'api/keys', { channel: testChannel, keys: key });
      $('#test-keys').textContent += key;
    } catch (e) {
      notice('Key refused: ' + e.message);
    }
  }

  // ---- session ----
  function show(view) {
    for (const tab of document.querySelectorAll('.tab')) {
      tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    }
    for (const section of document.querySelectorAll('.view')) {
      section.hidden = section.id !== 'view-' + view;
    }
    if (view === 'apps' || view === 'test') loadApps();
    for (const hook of hooks.show.get(view) || []) hook();
  }

  function loggedOut(text) {
    if (feed) { feed.close(); feed = null; }
    $('#login').hidden = false;
    $('#tabs').hidden = true;
    $('#who').hidden = true;
    for (const section of document.querySelectorAll('.view')) section.hidden = true;
    $('#login-error').textContent = text || '';
    $('#login-user').focus();
  }

  // mode: 'load' (the page opened), 'login' (just logged in) or 'retry' (the feed broke).
  async function start(mode) {
    let me;
    try {
      me = await api('GET', 'api/session');
    } catch (e) {
      if (mode === 'retry' && e.status !== 401) setTimeout(() => start('retry'), 5000);
      else loggedOut(mode === 'retry' ? 'Your session has ended: log in again.' : '');
      return;
    }
    session.csrf = me.csrf;
    session.readOnly = me.read_only;
    session.user = me.user;
    document.body.classList.toggle('read-only', me.read_only);
    $('#user').textContent = me.user;
    $('#role').textContent = me.read_only ? 'read-only' : 'read/write';
    $('#login').hidden = true;
    $('#tabs').hidden = false;
    $('#who').hidden = false;
    $('#login-error').textContent = '';
    if (!document.querySelector('.view:not([hidden])')) show('calls');
    openFeed();
  }

  async function logIn(event) {
    event.preventDefault();
    const form = new URLSearchParams({ user: $('#login-user').value, password: $('#login-password').value });
    $('#login-submit').disabled = true;
    try {
      const response = await fetch('login', { method: 'POST', body: form, credentials: 'same-origin' });
      if (!response.ok) {
        let text = 'Login failed';
        try { text = (await response.json()).message || text; } catch (_) { /* keep the default */ }
        $('#login-error').textContent = text;
        return;
      }
      $('#login-password').value = '';
      await start('login');
    } catch (e) {
      $('#login-error').textContent = 'Login failed: ' + e.message;
    } finally {
      $('#login-submit').disabled = false;
    }
  }

  async function logOut() {
    try { await api('POST', 'logout'); } catch (_) { /* the session is gone either way */ }
    session.csrf = '';
    loggedOut('');
  }

  // The console's parts the view scripts use. `onShow(view, fn)`: fn runs each time the
  // view is shown; `onRow(fn)`: fn(tr, channel) runs for each live-call row drawn (to add
  // a button); `onRender(fn)`: fn runs after each redraw of the live calls.
  window.wariConsole = {
    $, api, session, cell, party, duration, notice, channels, bridges, hangUp, show,
    onShow(view, fn) {
      if (!hooks.show.has(view)) hooks.show.set(view, []);
      hooks.show.get(view).push(fn);
    },
    onRow(fn) { hooks.row.push(fn); },
    onRender(fn) { hooks.render.push(fn); },
  };

  document.addEventListener('DOMContentLoaded', () => {
    $('#login-form').addEventListener('submit', logIn);
    $('#logout').addEventListener('click', logOut);
    $('#search').addEventListener('input', renderCalls);
    $('#apps-refresh').addEventListener('click', loadApps);
    $('#test-form').addEventListener('submit', testCall);
    $('#test-hangup').addEventListener('click', () => {
      if (testChannel) hangUp(testChannel, $('#test-hangup'));
    });
    for (const tab of document.querySelectorAll('.tab')) {
      tab.addEventListener('click', () => show(tab.dataset.view));
    }
    for (const key of document.querySelectorAll('#keypad button')) {
      key.addEventListener('click', () => pressKey(key.dataset.key));
    }
    renderTestState();
    setInterval(tickDurations, 1000);
    start('load');
  });
})();

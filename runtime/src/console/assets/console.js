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
  // Application name -> the ari.conf outbound connection serving it (api/outbound).
  const outbound = new Map();
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

  // Runs `draw` (which replaces the rows of `tbody`) keeping the keyboard focus where it
  // was: on the same row (by its data-id or data-name) and the same control in it.
  function keepFocus(tbody, draw) {
    const active = document.activeElement;
    const row = active && tbody.contains(active) ? active.closest('tr') : null;
    const controls = (tr) => [...tr.querySelectorAll('button, a, summary, input, [tabindex]')];
    const at = row && active !== row ? controls(row).indexOf(active) : -1;
    draw();
    if (!row) return;
    const attr = row.dataset.id != null ? 'id' : 'name';
    const key = row.dataset[attr];
    if (key == null) return;
    const again = [...tbody.children].find((tr) => tr.dataset[attr] === key);
    if (!again) return;
    const target = at >= 0 ? controls(again)[at] : again;
    if (target) target.focus();
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

  // The outbound connection serving application `app`: by its name, or for a per-call
  // connection's application `<app>:<channel name>`, by the part before the colon.
  function outboundOf(app) {
    if (!app) return null;
    if (outbound.has(app)) return outbound.get(app);
    const c = outbound.get(app.split(':')[0]);
    return c && c.per_call ? c : null;
  }

  // How an application is served; `long` adds the outbound connection's name.
  function handlerName(app, wasm, long) {
    if (wasm) return 'WebAssembly';
    const c = outboundOf(app);
    if (!c) return 'WebSocket';
    return 'outbound WebSocket' + (long ? ' (connection ' + c.name + ')' : '');
  }

  async function loadOutbound() {
    try {
      const data = await api('GET', 'api/outbound');
      outbound.clear();
      for (const c of data.connections) for (const app of c.apps) outbound.set(app, c);
    } catch (e) {
      notice('Outbound connections: ' + e.message);
    }
  }

  // ---- live calls ----
  function renderCalls() {
    const filter = $('#search').value.trim().toLowerCase();
    const body = $('#channels tbody');
    const rows = [];
    const sorted = [...channels.values()].sort((a, b) => a.created_ms - b.created_ms || (a.id < b.id ? -1 : 1));
    for (const c of sorted) {
      const app = c.app ? c.app + (c.app_kind ? ' (' + handlerName(c.app, c.app_kind === 'wasm') + ')' : '') : '';
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
    keepFocus(body, () => body.replaceChildren(...rows));
    $('#count').textContent = String(channels.size);
    $('#no-calls').hidden = rows.length > 0;

    const bridgeRows = [];
    for (const b of [...bridges.values()].sort((x, y) => x.created_ms - y.created_ms)) {
      const members = b.members.map((id) => (channels.get(id) || { name: id }).name).join(', ');
      const text = [b.name, b.id, b.bridge_type, b.technology, members, b.members.join(' ')].join(' ').toLowerCase();
      if (filter && !text.includes(filter)) continue;
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
      cell(tr, members, 'Members', 'mono members');
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
  // The Stasis applications and the WebAssembly apps (failures by kind, the last one with
  // its backtrace), redrawn only when what the server reports changed (so an open
  // backtrace or a pending confirmation stays), every few seconds and after live-call
  // changes while the view is shown; deploy (file input or drop, upload progress), roll
  // back and remove for read/write users.
  const appsState = { shown: '', chosen: null, autoName: '', confirming: new Set(), open: new Set(), soon: null };

  function appsVisible() {
    return !$('#view-apps').hidden && document.visibilityState !== 'hidden';
  }

  function failureKinds(f) {
    // `timeouts` counts CPU too and `limits` memory too: each kind is shown once.
    const timeouts = (f.timeouts ?? 0) - (f.cpu ?? 0);
    const limits = (f.limits ?? 0) - (f.memory ?? 0);
    return 'traps ' + (f.traps ?? 0) + ' · CPU ' + (f.cpu ?? 0) + ' · timeouts ' + timeouts
      + ' · memory ' + (f.memory ?? 0) + ' · other limits ' + limits;
  }

  function lastFailure(td, last, name) {
    if (!last) return;
    const details = document.createElement('details');
    details.className = 'failure';
    details.open = appsState.open.has(name);
    details.addEventListener('toggle', () => {
      if (details.open) appsState.open.add(name); else appsState.open.delete(name);
    });
    const summary = document.createElement('summary');
    summary.textContent = last.message || 'failed';
    details.appendChild(summary);
    const when = document.createElement('small');
    const where = [last.time, last.version && 'version ' + last.version,
      last.session != null && 'session #' + last.session,
      (last.channels || []).length ? 'channels ' + last.channels.join(', ') : ''].filter(Boolean);
    when.textContent = where.join(' · ');
    details.appendChild(when);
    if (last.backtrace) {
      const pre = document.createElement('pre');
      pre.className = 'backtrace';
      pre.textContent = last.backtrace;
      details.appendChild(pre);
    }
    td.appendChild(details);
  }

  function appButton(text, cls, label, onClick) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = cls;
    button.textContent = text;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', () => onClick(button));
    return button;
  }

  function wasmActions(td, w) {
    const name = w.name;
    if (w.status === 'draining') {
      td.textContent = 'draining' + (w.drain_until ? ' until ' + w.drain_until : '');
      return;
    }
    if (appsState.confirming.has(name)) {
      td.append(
        appButton('Confirm remove', 'remove-confirm danger', 'Confirm removing ' + name, (b) => removeApp(name, b)),
        appButton('Cancel', 'remove-cancel', 'Keep ' + name, () => cancelRemove(name)));
      return;
    }
    td.append(
      appButton('Roll back', 'rollback', 'Roll ' + name + ' back to its previous version', (b) => rollbackApp(name, b)),
      appButton('Remove', 'remove danger', 'Remove ' + name, () => {
        appsState.confirming.add(name);
        renderAppsAgain();
        focusIn(name, 'button.remove-cancel'); // the safe choice first: Enter twice removes nothing
      }));
  }

  function focusIn(name, css) {
    const row = [...$('#wasm tbody').children].find((tr) => tr.dataset.name === name);
    const target = row && row.querySelector(css);
    if (target) target.focus();
  }

  // Cancel (or Escape): the row is back to its Roll back and Remove buttons.
  function cancelRemove(name) {
    appsState.confirming.delete(name);
    renderAppsAgain();
    focusIn(name, 'button.remove');
  }

  let appsData = { apps: [], wasm: [] };

  function renderApps() {
    const { apps, wasm } = appsData;
    const wasmNames = new Set(wasm.map((w) => w.name));
    const list = (ids) => (ids || []).join(', ');
    const rows = apps.map((a) => {
      const tr = document.createElement('tr');
      tr.dataset.name = a.name;
      cell(tr, a.name, 'Name', 'mono');
      cell(tr, handlerName(a.name, wasmNames.has(a.name), true), 'Handler', 'handler');
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
      const name = cell(tr, w.name, 'Name', 'mono');
      if (w.status === 'draining') name.classList.add('draining');
      cell(tr, w.owner || '', 'Owner');
      const sha = cell(tr, (w.sha256 || '').slice(0, 16), 'sha256', 'mono');
      sha.title = w.sha256 || '';
      const versions = Array.isArray(w.versions) ? w.versions : [];
      const v = cell(tr, versions.length, 'Versions', 'versions');
      v.title = versions.map((x) => (x.version || '') + ' ' + (x.state || '') + ' ' + (x.sessions_live ?? 0) + ' live').join('\n');
      cell(tr, (w.sessions_live ?? 0) + ' live / ' + (w.sessions_started ?? 0) + ' started', 'Sessions', 'sessions');
      const f = w.failures || {};
      const failures = cell(tr, (f.total ?? 0) + ' (' + failureKinds(f) + ')', 'Failures', 'failures');
      if (f.total) failures.classList.add('failing');
      lastFailure(cell(tr, '', 'Last failure', 'last-failure'), f.last, w.name);
      if (!session.readOnly) wasmActions(cell(tr, '', null, 'writer actions'), w);
      return tr;
    });
    keepFocus($('#wasm tbody'), () => $('#wasm tbody').replaceChildren(...wasmRows));
    $('#no-wasm').hidden = wasmRows.length > 0;
    const options = apps.map((a) => {
      const o = document.createElement('option');
      o.value = a.name;
      return o;
    });
    $('#test-apps').replaceChildren(...options);
  }

  // The key of what is drawn: the server's answers and the rows awaiting confirmation.
  function appsKey(apps, wasm) { return JSON.stringify([apps, wasm, [...appsState.confirming]]); }

  function renderAppsAgain() {
    appsState.shown = appsKey(appsData.apps, appsData.wasm);
    renderApps();
  }

  async function loadApps() {
    let apps = [];
    let wasm = [];
    try { apps = await api('GET', 'api/ari/applications'); } catch (e) { notice('Applications: ' + e.message); }
    try { wasm = await api('GET', 'api/ari/wasm'); } catch (_) { wasm = []; }
    const seen = appsKey(apps, wasm);
    if (seen === appsState.shown) return;
    appsState.shown = seen;
    appsData = { apps, wasm };
    renderApps();
  }

  // A refresh soon after live calls changed (sessions start and end with calls).
  function loadAppsSoon() {
    if (!appsVisible() || appsState.soon) return;
    appsState.soon = setTimeout(() => { appsState.soon = null; loadApps(); }, 300);
  }

  function deployResult(text, ok) {
    const p = $('#deploy-result');
    p.textContent = text;
    p.className = ok ? 'ok' : 'error';
  }

  function chooseFile(file) {
    appsState.chosen = file || null;
    const name = $('#deploy-name');
    if (file && (!name.value || name.value === appsState.autoName)) {
      appsState.autoName = file.name.replace(/\.wasm$/i, '');
      name.value = appsState.autoName;
    }
    $('#deploy-file-name').textContent = file ? file.name + ' (' + Math.ceil(file.size / 1024) + ' KiB)' : '';
    $('#deploy-submit').disabled = !file;
  }

  // PUT api/ari/wasm/{name} with the file as the body, showing the upload's progress.
  function deploy(event) {
    event.preventDefault();
    const file = appsState.chosen;
    const name = $('#deploy-name').value.trim();
    if (!file || !name) { deployResult('Choose a .wasm file and a name.', false); return; }
    const progress = $('#deploy-progress');
    const submit = $('#deploy-submit');
    progress.hidden = false;
    progress.value = 0;
    submit.disabled = true;
    deployResult('Uploading ' + file.name + '…', true);
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', 'api/ari/wasm/' + encodeURIComponent(name));
    xhr.setRequestHeader('X-Wari-Csrf', session.csrf);
    xhr.setRequestHeader('Content-Type', 'application/wasm');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = e.loaded / e.total;
    };
    xhr.upload.onload = () => { progress.value = 1; deployResult('Compiling ' + name + '…', true); };
    xhr.onload = () => {
      submit.disabled = false;
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
      if (xhr.status === 201 || xhr.status === 200) {
        // The table first, then the result: what the result names is in the table.
        loadApps().then(() => deployResult('Deployed ' + data.name + ': version ' +
          String(data.sha256 || '').slice(0, 12) + ' (sha256 ' + data.sha256 + ', ' + data.size + ' bytes)', true));
      } else {
        progress.hidden = true;
        deployResult('Deploy refused (' + xhr.status + '): ' + ((data && data.message) || xhr.statusText), false);
      }
    };
    xhr.onerror = () => {
      submit.disabled = false;
      progress.hidden = true;
      deployResult('Deploy failed: the connection broke during the upload.', false);
    };
    xhr.send(file);
  }

  async function removeApp(name, button) {
    button.disabled = true;
    let text;
    let ok = true;
    try {
      const answer = await api('DELETE', 'api/ari/wasm/' + encodeURIComponent(name));
      text = answer && answer.status === 'draining'
        ? name + ' is draining: its ' + (answer.sessions_live ?? 0) + ' call(s) in progress finish first' + (answer.drain_until ? ' (until ' + answer.drain_until + ')' : '') + '.'
        : name + ' removed.';
    } catch (e) {
      text = 'Remove refused: ' + e.message;
      ok = false;
    }
    appsState.confirming.delete(name);
    await loadApps();
    deployResult(text, ok);
  }

  async function rollbackApp(name, button) {
    button.disabled = true;
    let text;
    let ok = true;
    try {
      const app = await api('POST', 'api/ari/wasm/' + encodeURIComponent(name) + '/rollback');
      text = name + ' rolled back to version ' + String(app.sha256 || '').slice(0, 12) + '.';
    } catch (e) {
      text = 'Roll back refused: ' + e.message;
      ok = false;
    }
    button.disabled = false;
    await loadApps();
    deployResult(text, ok);
  }

  function setUpDeploy() {
    const form = $('#deploy');
    if (session.readOnly) { form.hidden = true; return; }
    form.hidden = false;
  }

  function wireDeploy() {
    const drop = $('#deploy-drop');
    $('#deploy-file').addEventListener('change', (e) => chooseFile(e.target.files[0]));
    $('#deploy').addEventListener('submit', deploy);
    for (const kind of ['dragenter', 'dragover']) {
      drop.addEventListener(kind, (e) => { e.preventDefault(); drop.classList.add('over'); });
    }
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const file = e.dataTransfer && e.dataTransfer.files[0];
      if (file) chooseFile(file);
    });
    hooks.render.push(loadAppsSoon);
    setInterval(() => { if (appsVisible()) loadApps(); }, 3000);
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
    setUpDeploy();
    await loadOutbound();
    if (!document.querySelector('.view:not([hidden])')) show('calls');
    // Just logged in: the focus goes to the view's tab (the form it was in is gone).
    if (mode === 'login') document.querySelector('.tab[aria-selected="true"]').focus();
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
    $, api, session, cell, party, duration, notice, channels, bridges, hangUp, show, keepFocus,
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
    $('#apps-refresh').addEventListener('click', () => { appsState.shown = ''; loadApps(); });
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || $('#view-apps').hidden || !appsState.confirming.size) return;
      event.preventDefault();
      for (const name of [...appsState.confirming]) cancelRemove(name);
    });
    wireDeploy();
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

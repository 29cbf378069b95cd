// wari's operator console: the Endpoints view. The endpoints the technologies know
// (GET /ari/endpoints: PJSIP endpoints from pjsip.conf, Test phones, ...) with their state,
// channels and contacts (GET /console/api/contacts: each AOR's static and registered
// contacts with status and round trip), the SIP registrations (AOR, contact, status, RTT,
// expires in, user agent) and the device states (GET /ari/deviceStates), refreshed every
// few seconds and after live-call changes while the view is shown, with a filter box.
// Read-only: it only reads.
'use strict';
(() => {
  const { $, api, cell, notice } = window.wariConsole;
  const state = { endpoints: [], contacts: [], devices: [], shown: '', soon: null };

  function visible() {
    return !$('#view-endpoints').hidden && document.visibilityState !== 'hidden';
  }

  function stateClass(text) {
    return 'state state-' + String(text || 'unknown').replace(/[^A-Za-z_]/g, '');
  }

  // A contact as the JSON gives it: a URI, or an object with one (and its status).
  function contactText(contact) {
    if (typeof contact === 'string') return contact;
    if (!contact || typeof contact !== 'object') return '';
    const uri = contact.uri || contact.contact || contact.aor || '';
    const extra = [contact.status, rtt(contact)].filter(Boolean).join(', ');
    return extra ? uri + ' (' + extra + ')' : uri;
  }

  // A contact's last qualify round trip, in ms; '' when none was measured.
  function rtt(contact) {
    return contact.roundtrip_usec != null ? (contact.roundtrip_usec / 1000).toFixed(1) + ' ms' : '';
  }

  // The contacts of an endpoint: those of the AORs it lists (from api/contacts), else
  // any the endpoint's own JSON carries.
  function contactsOf(e) {
    const mine = state.contacts.filter((c) => c.technology === e.technology &&
      Array.isArray(c.endpoints) && c.endpoints.includes(e.resource));
    return mine.length ? mine : (Array.isArray(e.contacts) ? e.contacts : []);
  }

  function expiresIn(seconds) {
    if (seconds == null) return '';
    return seconds >= 60 ? Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s' : seconds + ' s';
  }

  function renderRegistrations(matches) {
    const rows = [];
    const registered = state.contacts.filter((c) => c.expires_in != null)
      .sort((a, b) => (a.aor + ' ' + a.uri).localeCompare(b.aor + ' ' + b.uri));
    for (const c of registered) {
      if (!matches([c.aor, c.uri, c.status || '', c.user_agent || '', c.endpoint || '', c.source || ''])) continue;
      const tr = document.createElement('tr');
      tr.dataset.id = c.aor + ' ' + c.uri;
      tr.dataset.aor = c.aor;
      cell(tr, c.aor, 'AOR', 'mono aor');
      const contact = cell(tr, c.uri, 'Contact', 'mono uri');
      contact.title = [c.source && 'from ' + c.source, c.transport].filter(Boolean).join(' over ');
      cell(tr, c.status, 'Status', stateClass(c.status));
      cell(tr, rtt(c), 'RTT', 'rtt');
      cell(tr, expiresIn(c.expires_in), 'Expires in', 'expires');
      cell(tr, c.user_agent || '', 'User agent', 'user-agent');
      rows.push(tr);
    }
    $('#registrations tbody').replaceChildren(...rows);
    $('#no-registrations').hidden = rows.length > 0;
  }

  function render() {
    const filter = $('#endpoint-search').value.trim().toLowerCase();
    const matches = (words) => !filter || words.join(' ').toLowerCase().includes(filter);
    const sorted = [...state.endpoints].sort((a, b) =>
      (a.technology + '/' + a.resource).localeCompare(b.technology + '/' + b.resource));
    const rows = [];
    for (const e of sorted) {
      const name = e.technology + '/' + e.resource;
      const contacts = contactsOf(e).map(contactText).filter(Boolean);
      const channels = e.channel_ids || [];
      if (!matches([name, e.state || '', ...channels, ...contacts])) continue;
      const tr = document.createElement('tr');
      tr.dataset.id = name;
      cell(tr, name, 'Endpoint', 'mono name');
      cell(tr, e.technology, 'Technology', 'technology');
      cell(tr, e.state || 'unknown', 'State', stateClass(e.state));
      cell(tr, channels.join(', '), 'Channels', 'mono channels');
      cell(tr, contacts.join(', '), 'Contacts', 'mono contacts');
      rows.push(tr);
    }
    $('#endpoints tbody').replaceChildren(...rows);
    $('#no-endpoints').hidden = rows.length > 0;
    $('#endpoint-count').textContent = String(state.endpoints.length);
    renderRegistrations(matches);

    const deviceRows = [];
    const devices = [...state.devices].sort((a, b) => a.name.localeCompare(b.name));
    for (const d of devices) {
      if (!matches([d.name, d.state || ''])) continue;
      const tr = document.createElement('tr');
      tr.dataset.id = d.name;
      cell(tr, d.name, 'Device', 'mono name');
      cell(tr, d.state, 'State', stateClass(d.state));
      deviceRows.push(tr);
    }
    $('#device-states tbody').replaceChildren(...deviceRows);
    $('#no-device-states').hidden = deviceRows.length > 0;
  }

  async function load() {
    let endpoints = state.endpoints;
    let devices = state.devices;
    let contacts = state.contacts;
    try { endpoints = await api('GET', 'api/ari/endpoints'); } catch (e) { notice('Endpoints: ' + e.message); }
    try { contacts = await api('GET', 'api/contacts'); } catch (e) { notice('Contacts: ' + e.message); }
    try { devices = await api('GET', 'api/ari/deviceStates'); } catch (e) { notice('Device states: ' + e.message); }
    const seen = JSON.stringify([endpoints, contacts, devices]);
    if (seen === state.shown) return;
    state.shown = seen;
    state.endpoints = Array.isArray(endpoints) ? endpoints : [];
    state.contacts = Array.isArray(contacts) ? contacts : [];
    state.devices = Array.isArray(devices) ? devices : [];
    render();
  }

  // Channels come and go on endpoints: refresh soon after the live calls changed.
  function loadSoon() {
    if (!visible() || state.soon) return;
    state.soon = setTimeout(() => { state.soon = null; load(); }, 300);
  }

  window.wariConsole.onShow('endpoints', load);
  window.wariConsole.onRender(loadSoon);
  document.addEventListener('DOMContentLoaded', () => {
    $('#endpoint-search').addEventListener('input', render);
    setInterval(() => { if (visible()) load(); }, 3000);
  });
})();

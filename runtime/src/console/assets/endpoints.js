// wari's operator console: the Endpoints view. The endpoints the technologies know
// (GET /ari/endpoints: PJSIP endpoints from pjsip.conf, Test phones, ...) with their state
// and channels (and a PJSIP endpoint's contacts when the answer carries them), and the
// device states (GET /ari/deviceStates), refreshed every few seconds and after live-call
// changes while the view is shown, with a filter box. Read-only: it only reads.
'use strict';
(() => {
  const { $, api, cell, notice } = window.wariConsole;
  const state = { endpoints: [], devices: [], shown: '', soon: null };

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
    const extra = [contact.status, contact.roundtrip_usec != null ? Math.round(contact.roundtrip_usec / 1000) + ' ms' : '']
      .filter(Boolean).join(', ');
    return extra ? uri + ' (' + extra + ')' : uri;
  }

  function render() {
    const filter = $('#endpoint-search').value.trim().toLowerCase();
    const matches = (words) => !filter || words.join(' ').toLowerCase().includes(filter);
    const sorted = [...state.endpoints].sort((a, b) =>
      (a.technology + '/' + a.resource).localeCompare(b.technology + '/' + b.resource));
    const rows = [];
    for (const e of sorted) {
      const name = e.technology + '/' + e.resource;
      const contacts = (Array.isArray(e.contacts) ? e.contacts : []).map(contactText).filter(Boolean);
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
    try { endpoints = await api('GET', 'api/ari/endpoints'); } catch (e) { notice('Endpoints: ' + e.message); }
    try { devices = await api('GET', 'api/ari/deviceStates'); } catch (e) { notice('Device states: ' + e.message); }
    const seen = JSON.stringify([endpoints, devices]);
    if (seen === state.shown) return;
    state.shown = seen;
    state.endpoints = Array.isArray(endpoints) ? endpoints : [];
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

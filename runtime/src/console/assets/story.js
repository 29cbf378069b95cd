// wari console: a call's story. Clicking a live call's row (or Enter or Space on it) or a
// recent call opens its timeline (Close or Escape closes it): every ARI event the channel
// produced, in order, with its time, type and a short summary, each expandable to its
// JSON; a live call's timeline follows
// new events. Its recordings play in the page and download, through the console's ARI
// proxy (`api/ari/recordings/stored/{name}/file`). Read-only: nothing here changes wari.
'use strict';
(() => {
  const w = window.wariConsole;
  const { $, api, cell } = w;
  const POLL_MS = 1000;
  const LIST_MS = 3000;
  let open = null; // { id, last, ended, timer }
  let listLoading = false;
  let listAgain = false;

  const storyPath = (id, after) => 'api/stories/' + encodeURIComponent(id) + (after == null ? '' : '?after=' + after);
  const recordingPath = (name) => 'api/ari/recordings/stored/' + encodeURIComponent(name);
  const clock = (ts) => (typeof ts === 'string' && ts.length >= 23 ? ts.slice(11, 23) : String(ts || ''));
  const party = (p) => w.party(p);

  // A short line saying what an event says.
  function summary(e) {
    const ch = e.channel || {};
    switch (e.type) {
      case 'ChannelCreated': return [ch.name, party(ch.caller)].filter(Boolean).join(' from ');
      case 'ChannelStateChange': return 'state ' + (ch.state || '');
      case 'StasisStart': return 'entered ' + e.application + ((e.args || []).length ? ' (' + e.args.join(', ') + ')' : '');
      case 'StasisEnd': return 'left ' + e.application;
      case 'ChannelHangupRequest': return 'cause ' + e.cause + (e.soft ? ' (soft)' : '');
      case 'ChannelDestroyed': return (e.cause_txt || '') + ' (' + e.cause + ')';
      case 'ChannelVarset': return e.variable + ' = ' + e.value;
      case 'ChannelDtmfReceived': return 'key ' + e.digit + ' (' + e.duration_ms + ' ms)';
      case 'ChannelDialplan': return e.dialplan_app + (e.dialplan_app_data ? '(' + e.dialplan_app_data + ')' : '');
      case 'ChannelCallerId': return party(ch.caller);
      case 'ChannelConnectedLine': return party(ch.connected);
      case 'ChannelEnteredBridge': return 'joined ' + ((e.bridge || {}).id || '');
      case 'ChannelLeftBridge': return 'left ' + ((e.bridge || {}).id || '');
      case 'Dial': return (e.dialstatus || 'dialing') + ' ' + ((e.peer || {}).name || '');
      default:
        if (e.recording) return e.recording.name + ' ' + (e.recording.state || '');
        if (e.playback) return e.playback.media_uri + ' ' + (e.playback.state || '');
        return '';
    }
  }

  function eventItem(seq, e) {
    const li = document.createElement('li');
    li.dataset.type = e.type;
    li.dataset.seq = seq;
    const details = document.createElement('details');
    const head = document.createElement('summary');
    const time = document.createElement('time');
    time.dateTime = e.timestamp || '';
    time.textContent = clock(e.timestamp);
    const type = document.createElement('strong');
    type.className = 'ev-type';
    type.textContent = e.type;
    const text = document.createElement('span');
    text.className = 'ev-summary';
    text.textContent = summary(e);
    head.append(time, ' ', type, ' ', text);
    const pre = document.createElement('pre');
    pre.textContent = JSON.stringify(e, null, 2);
    details.append(head, pre);
    li.appendChild(details);
    return li;
  }

  function gapItem(count) {
    const li = document.createElement('li');
    li.className = 'gap';
    li.textContent = count + ' event' + (count === 1 ? '' : 's') + ' not kept (console_call_events)';
    return li;
  }

  // Adds events to the timeline, marking where some were not kept.
  function appendEvents(events) {
    const list = $('#story-events');
    for (const { seq, event } of events) {
      if (seq > open.last + 1) list.appendChild(gapItem(seq - open.last - 1));
      list.appendChild(eventItem(seq, event));
      open.last = seq;
    }
  }

  function renderRecordings(recordings) {
    const list = $('#story-recordings');
    const shown = new Map([...list.children].map((li) => [li.dataset.name, li]));
    for (const r of recordings) {
      const state = String(r.state || '');
      const old = shown.get(r.name);
      if (old && old.dataset.state === state) continue;
      const li = document.createElement('li');
      li.dataset.name = r.name;
      li.dataset.state = state;
      const name = document.createElement('span');
      name.className = 'mono';
      name.textContent = r.name + '.' + r.format + ' ';
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = state;
      li.append(name, badge);
      if (state === 'done') addPlayer(li, r);
      if (old) old.replaceWith(li); else list.appendChild(li);
    }
    $('#no-recordings').hidden = list.children.length > 0;
  }

  // The recording's player and download link, once wari says it is stored.
  async function addPlayer(li, r) {
    const path = recordingPath(r.name);
    try {
      await api('GET', path);
    } catch (e) {
      const gone = document.createElement('span');
      gone.className = 'empty';
      gone.textContent = ' no longer stored (' + e.message + ')';
      li.appendChild(gone);
      return;
    }
    const audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'metadata';
    audio.src = path + '/file';
    audio.setAttribute('aria-label', 'Play ' + r.name);
    const link = document.createElement('a');
    link.href = path + '/file';
    link.download = r.name.split('/').pop() + '.' + r.format;
    link.className = 'download';
    link.textContent = 'Download';
    const box = document.createElement('div');
    box.className = 'player';
    box.append(audio, link);
    li.appendChild(box);
  }

  function renderHead(line, story) {
    $('#story-name').textContent = (line && line.name) || story.id;
    const state = $('#story-state');
    state.textContent = story.ended ? 'ended' : 'live';
    state.className = 'badge ' + (story.ended ? 'off' : 'on');
    const facts = [
      'id ' + story.id,
      story.app ? 'application ' + story.app : '',
      line && party(line.caller) ? 'caller ' + party(line.caller) : '',
      line && line.cause_txt ? 'ended: ' + line.cause_txt : '',
      story.total + ' events' + (story.kept < story.total ? ' (' + story.kept + ' kept)' : ''),
    ];
    $('#story-meta').textContent = facts.filter(Boolean).join(' · ');
  }

  function stopFollowing() {
    if (open && open.timer) clearTimeout(open.timer);
    if (open) open.timer = null;
  }

  // Opens channel `id`'s story (from a live row or the list).
  async function openStory(id) {
    stopFollowing();
    open = { id, last: -1, ended: false, timer: null, line: null };
    if ($('#view-story').hidden) w.show('story');
    $('#story').hidden = false;
    $('#story-events').replaceChildren();
    $('#story-recordings').replaceChildren();
    $('#story-name').textContent = id;
    $('#story-meta').textContent = '';
    for (const tr of document.querySelectorAll('#recent tbody tr')) {
      tr.setAttribute('aria-current', String(tr.dataset.id === id));
    }
    let story;
    try {
      story = await api('GET', storyPath(id));
    } catch (e) {
      $('#story-meta').textContent = 'No story: ' + e.message;
      return;
    }
    if (!open || open.id !== id) return;
    open.line = lines.get(id) || null;
    open.story = story;
    renderHead(open.line, story);
    appendEvents(story.events);
    renderRecordings(story.recordings);
    open.ended = story.ended;
    if (!story.ended) open.timer = setTimeout(follow, POLL_MS);
    $('#story-name').focus();
  }

  // Fetches a live story's new events.
  async function follow() {
    const me = open;
    if (!me || me.ended) return;
    me.timer = null;
    try {
      const story = await api('GET', storyPath(me.id, me.last < 0 ? null : me.last));
      if (open !== me) return;
      appendEvents(story.events);
      renderRecordings(story.recordings);
      me.ended = story.ended;
      me.story = story;
      renderHead(me.line, story);
      if (story.ended) {
        loadList();
        return;
      }
    } catch (e) {
      if (open !== me) return;
      $('#story-meta').textContent = 'Story: ' + e.message;
    }
    if (open === me && !$('#view-story').hidden) me.timer = setTimeout(follow, POLL_MS);
  }

  // Close (or Escape): the story goes away and the focus goes back to its call in the list.
  function closeStory() {
    const id = open && open.id;
    stopFollowing();
    open = null;
    $('#story').hidden = true;
    const row = [...$('#recent tbody').children].find((tr) => tr.dataset.id === id);
    for (const tr of $('#recent tbody').children) tr.setAttribute('aria-current', 'false');
    (row || $('#story-refresh')).focus();
  }

  // ---- the list of calls ----
  const lines = new Map();

  function openOnActivate(tr, id) {
    tr.tabIndex = 0;
    tr.classList.add('opens-story');
    tr.addEventListener('click', (event) => {
      if (event.target.closest('button, a, input, audio')) return;
      openStory(id);
    });
    tr.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && event.target === tr) {
        event.preventDefault();
        openStory(id);
      }
    });
  }

  async function loadList() {
    if (listLoading) { listAgain = true; return; }
    listLoading = true;
    try {
      const data = await api('GET', 'api/stories');
      lines.clear();
      const rows = data.calls.map((c) => {
        lines.set(c.id, c);
        const tr = document.createElement('tr');
        tr.dataset.id = c.id;
        tr.dataset.ended = String(c.ended);
        const name = cell(tr, c.name || c.id, 'Channel', 'mono');
        const small = document.createElement('small');
        small.textContent = c.id;
        name.appendChild(small);
        cell(tr, c.ended ? 'ended' : 'live', 'Call', c.ended ? 'ended' : 'live');
        cell(tr, party(c.caller), 'Caller');
        cell(tr, c.app || '', 'Application');
        cell(tr, clock(c.started), 'Started', 'mono');
        cell(tr, clock(c.ended_at), 'Ended', 'mono');
        cell(tr, c.cause_txt || '', 'Cause');
        cell(tr, c.events, 'Events');
        cell(tr, c.recordings || '', 'Recordings', 'recordings');
        tr.setAttribute('aria-current', String(open !== null && open.id === c.id));
        openOnActivate(tr, c.id);
        return tr;
      });
      w.keepFocus($('#recent tbody'), () => $('#recent tbody').replaceChildren(...rows));
      $('#no-recent').hidden = rows.length > 0;
      if (open && open.story && lines.has(open.id)) {
        open.line = lines.get(open.id);
        renderHead(open.line, open.story);
      }
    } catch (e) {
      w.notice('Calls: ' + e.message);
    } finally {
      listLoading = false;
    }
    if (listAgain) { listAgain = false; loadList(); }
  }

  // Live rows open their story; the list follows the live view while it is shown.
  w.onRow((tr, c) => {
    openOnActivate(tr, c.id);
    tr.title = 'Open the call\u2019s story (Enter or Space)';
  });
  let listTimer = null;
  w.onRender(() => {
    if ($('#view-story').hidden || listTimer) return;
    listTimer = setTimeout(() => { listTimer = null; loadList(); }, 300);
  });
  w.onShow('story', () => {
    loadList();
    if (open && !open.ended && !open.timer) open.timer = setTimeout(follow, POLL_MS);
  });

  // Calls may come and go between two redraws of the live view: refresh every few
  // seconds while the list is shown.
  setInterval(() => {
    if (!$('#view-story').hidden && document.visibilityState === 'visible') loadList();
  }, LIST_MS);

  document.addEventListener('DOMContentLoaded', () => {
    $('#story-refresh').addEventListener('click', loadList);
    $('#story-close').addEventListener('click', closeStory);
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || $('#story').hidden || $('#view-story').hidden) return;
      event.preventDefault();
      closeStory();
    });
  });
})();

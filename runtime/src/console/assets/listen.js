// Listen-in: a Listen button on each live call (read/write users), which asks wari for a
// snoop on the call (POST api/listen) and plays its audio, µ-law at 8 kHz over a
// WebSocket, with the Web Audio API. The player counts what it received (data-samples,
// data-loud: samples louder than about -30 dBFS) and says when listening ends.
(() => {
  'use strict';
  const w = window.wariConsole;
  const RATE = 8000;
  const LOUD = 1000 / 32768;
  let current = null;
  // The media channels this page's listens made (no Listen button on them).
  const mine = new Set();

  // G.711 µ-law to linear, scaled to [-1, 1].
  const ULAW = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    let t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    ULAW[i] = ((u & 0x80) ? (0x84 - t) : (t - 0x84)) / 32768;
  }

  function player() { return w.$('#listen-player'); }

  function status(text, state) {
    const p = player();
    w.$('#listen-status').textContent = text;
    p.dataset.state = state;
  }

  function counted() {
    const p = player();
    p.dataset.samples = String(current.samples);
    p.dataset.loud = String(current.loud);
    w.$('#listen-received').textContent = 'received ' + Math.round(current.samples * 1000 / RATE) + ' ms';
  }

  function play(bytes) {
    const n = bytes.length;
    if (!n) return;
    const buffer = current.audio.createBuffer(1, n, RATE);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) {
      const s = ULAW[bytes[i]];
      data[i] = s;
      if (s > LOUD || s < -LOUD) current.loud++;
    }
    current.samples += n;
    const source = current.audio.createBufferSource();
    source.buffer = buffer;
    source.connect(current.audio.destination);
    const now = current.audio.currentTime;
    if (current.at < now + 0.05) current.at = now + 0.1;
    source.start(current.at);
    current.at += n / RATE;
    counted();
  }

  function ended(listen, text) {
    if (listen.media) mine.delete(listen.media);
    if (current !== listen) return;
    listen.audio.close().catch(() => {});
    w.$('#listen-stop').disabled = true;
    status(text, 'ended');
    current = null;
  }

  function stop() {
    if (!current) return;
    const listen = current;
    listen.stopped = true;
    if (listen.socket) listen.socket.close(1000);
    ended(listen, 'Stopped listening to ' + listen.name + '.');
  }

  async function listen(c, button) {
    if (current) stop();
    button.disabled = true;
    // Made on the click, so the browser lets it play.
    const audio = new AudioContext();
    const p = player();
    p.hidden = false;
    const entry = { target: c.id, name: c.name, audio, socket: null, samples: 0, loud: 0, at: 0, stopped: false };
    current = entry;
    counted();
    w.$('#listen-stop').disabled = false;
    status('Connecting to ' + c.name + '…', 'connecting');
    let made;
    try {
      made = await w.api('POST', 'api/listen', { channel: c.id });
    } catch (e) {
      button.disabled = false;
      ended(entry, 'Listen refused: ' + e.message);
      return;
    }
    button.disabled = false;
    entry.media = made.media;
    mine.add(made.media);
    if (current !== entry) return;
    const url = new URL('api/listen/' + encodeURIComponent(made.id), location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url, ['media', 'wari-csrf.' + w.session.csrf]);
    socket.binaryType = 'arraybuffer';
    entry.socket = socket;
    socket.addEventListener('message', (m) => {
      if (current !== entry) return;
      if (typeof m.data === 'string') {
        if (m.data.startsWith('MEDIA_START')) status('Listening to ' + c.name, 'listening');
        return;
      }
      play(new Uint8Array(m.data));
    });
    socket.addEventListener('close', async () => {
      if (entry.stopped) return;
      // Closed by wari: ask whether the call is still there (the live feed may lag).
      let gone = !w.channels.has(entry.target);
      if (!gone) {
        try { await w.api('GET', 'api/ari/channels/' + encodeURIComponent(entry.target)); } catch (e) { gone = e.status === 404; }
      }
      ended(entry, gone ? 'The call ended: ' + entry.name + ' hung up.' : 'Listening to ' + entry.name + ' ended.');
    });
  }

  w.onRow((tr, c) => {
    if (w.session.readOnly || c.technology === 'Snoop' || mine.has(c.id)) return;
    const td = tr.querySelector('td.writer');
    if (!td) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'listen';
    button.textContent = 'Listen';
    button.setAttribute('aria-label', 'Listen to ' + c.name);
    button.addEventListener('click', () => listen(c, button));
    td.appendChild(button);
  });

  document.addEventListener('DOMContentLoaded', () => {
    w.$('#listen-stop').addEventListener('click', stop);
  });
})();

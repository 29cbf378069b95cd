// The Health view: wari's own metrics over the last 360 steps (an hour at the default
// http.conf console_health_step), one small chart per series, drawn as inline SVG by this
// script. While the view is shown it asks api/health again every step.
'use strict';
(() => {
  const ui = window.wariConsole;
  // The SVG namespace, as the HTML parser assigns it (a constant string, no user data).
  const SVG = (() => {
    const t = document.createElement('template');
    t.innerHTML = '<svg></svg>';
    return t.content.firstChild.namespaceURI;
  })();
  const W = 300;
  const H = 80;
  let timer = null;

  const number = (v, digits) => (v == null ? '-' : Number(v).toLocaleString('en', { maximumFractionDigits: digits }));
  const bytes = (v) => {
    if (v == null) return '-';
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return number(v, 1) + ' ' + units[i];
  };
  const CHARTS = [
    ['calls_per_second', 'Calls per second', (v) => number(v, 2)],
    ['channels', 'Live channels', (v) => number(v, 0)],
    ['wasm_sessions', 'WebAssembly sessions', (v) => number(v, 0)],
    ['bridges', 'Bridges', (v) => number(v, 0)],
    ['http_per_second', 'HTTP requests per second', (v) => number(v, 2)],
    ['http_mean_ms', 'HTTP latency, mean (ms)', (v) => number(v, 2)],
    ['http_p95_ms', 'HTTP latency, p95 (ms, bucket bound)', (v) => number(v, 2)],
    ['events_sent_per_second', 'Events sent per second', (v) => number(v, 1)],
    ['events_dropped', 'Events dropped per step', (v) => number(v, 0)],
    ['media_late_ticks', 'Media ticks late per step', (v) => number(v, 0)],
    ['memory_bytes', 'Resident memory', bytes],
  ];

  function svg(name, attrs) {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    return el;
  }

  function clock(ms) {
    const d = new Date(ms);
    const two = (n) => String(n).padStart(2, '0');
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  // One chart: `lines` are [values, css class] aligned with `t`; the time axis spans the
  // points kept (at least ten steps), ending at the newest.
  function chart(key, title, format, t, lines, span) {
    const figure = document.createElement('figure');
    figure.className = 'chart';
    figure.dataset.series = key;
    const head = document.createElement('figcaption');
    const name = document.createElement('span');
    name.textContent = title;
    const now = document.createElement('strong');
    now.className = 'current';
    const main = lines[0][0];
    let last = null;
    for (let i = main.length - 1; i >= 0; i -= 1) if (main[i] != null) { last = main[i]; break; }
    now.textContent = format(last);
    head.append(name, now);

    let max = 0;
    let count = 0;
    for (const [values] of lines) {
      for (const v of values) if (v != null) { count += 1; if (v > max) max = v; }
    }
    figure.dataset.points = String(main.filter((v) => v != null).length);
    figure.dataset.max = String(max);
    figure.dataset.last = last == null ? '' : String(last);
    const top = max > 0 ? max * 1.1 : 1;
    const end = t.length ? t[t.length - 1] : Date.now();
    const start = end - span;
    const x = (ms) => ((ms - start) / span) * W;
    const y = (v) => H - (v / top) * H;

    const plot = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': title });
    for (const frac of [0, 0.5, 1]) {
      plot.appendChild(svg('line', { x1: 0, x2: W, y1: H * frac, y2: H * frac, class: 'grid' }));
    }
    for (const [values, cls] of lines) {
      let path = '';
      values.forEach((v, i) => {
        if (v == null) return;
        path += (path ? ' ' : '') + x(t[i]).toFixed(1) + ',' + y(v).toFixed(1);
      });
      if (path) {
        plot.appendChild(svg('polyline', { points: path, class: 'line ' + cls }));
        const lastPoint = path.split(' ').pop().split(',');
        plot.appendChild(svg('circle', { cx: lastPoint[0], cy: lastPoint[1], r: 2.5, class: 'dot ' + cls }));
      }
    }
    if (!count) {
      const empty = svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'none' });
      empty.textContent = 'no data yet';
      plot.appendChild(empty);
    }
    const area = document.createElement('div');
    area.className = 'plot';
    const yTop = document.createElement('span');
    yTop.className = 'y-max';
    yTop.textContent = format(top);
    const yZero = document.createElement('span');
    yZero.className = 'y-min';
    yZero.textContent = '0';
    area.append(plot, yTop, yZero);
    const axis = document.createElement('div');
    axis.className = 'x-axis';
    const from = document.createElement('span');
    from.textContent = clock(start);
    const to = document.createElement('span');
    to.textContent = clock(end);
    axis.append(from, to);
    figure.append(head, area, axis);
    return figure;
  }

  function render(data) {
    const kept = data.capacity * data.step_ms;
    const minutes = kept / 60000;
    const t = data.t;
    const span = Math.min(kept, Math.max(10 * data.step_ms, t.length ? t[t.length - 1] - t[0] : 0));
    ui.$('#health-step').textContent = 'a point every ' + data.step_ms / 1000 + ' s, ' +
      data.capacity + ' kept (' + (minutes >= 1 ? number(minutes, 1) + ' min' : kept / 1000 + ' s') + ')';
    const figures = CHARTS.map(([key, title, format]) =>
      chart(key, title, format, t, [[data.series[key] || [], 'main']], span));
    for (const socket of data.sockets || []) {
      const figure = chart('socket-' + socket.id, 'Events of ' + socket.label + ' (sent/s, dropped)',
        (v) => number(v, 1), t, [[socket.sent_per_second, 'main'], [socket.dropped, 'bad']], span);
      figure.classList.add('socket');
      figures.push(figure);
    }
    ui.$('#health-charts').replaceChildren(...figures);
    ui.$('#health-empty').hidden = data.t.length > 0;
  }

  async function refresh() {
    clearTimeout(timer);
    timer = null;
    const section = ui.$('#view-health');
    if (!section || section.hidden) return;
    let step = 10000;
    try {
      const data = await ui.api('GET', 'api/health');
      step = data.step_ms;
      render(data);
    } catch (e) {
      ui.notice('Health: ' + e.message);
      if (e.status === 401) return;
    }
    if (!section.hidden) timer = setTimeout(refresh, Math.max(1000, step));
  }

  ui.onShow('health', refresh);
})();

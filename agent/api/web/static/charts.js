// edgeflow's charts: drawn here as inline SVG from GET /history, with no
// library and no request to another host. app.js calls
// edgeflowCharts.view(container, fetch) for the Charts page. The SVG is
// drawn at the container's width in CSS pixels, so that its text stays
// readable on a phone (a scaled viewBox would shrink it), and drawn again
// when the width changes. Like app.js, it builds the DOM from text nodes
// only; colours come from app.css classes (the CSP forbids inline style).
'use strict';
(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const COLOURS = 8; // .s0 … .s7 in app.css
  const MAX_LINES = 8; // devices beyond are summed as "others"
  const RANGES = [[60, '1 h'], [180, '3 h'], [360, '6 h']];
  const REFRESH = 30000; // the history moves by the minute

  function el(tag, attrs, ...kids) {
    const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) e.append(k instanceof Node ? k : String(k));
    return e;
  }

  // nice rounds a step up to 1, 2 or 5 times a power of ten.
  function nice(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    const m = x / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  const hhmm = (t) => { const d = new Date(t); return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0'); };
  const short = (s) => (s.length > 18 ? s.slice(0, 8) + '…' + s.slice(-6) : s);

  // frame draws the grid, the value ticks and the time ticks of a chart
  // over [o.t0, o.t1] whose values run from lo to hi; it returns the SVG
  // and the scales.
  function frame(o, vals) {
    const W = Math.max(260, o.width), H = W < 480 ? 170 : 200;
    const left = 44, right = 10, top = 10, bottom = 22;
    let lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
    if (o.min !== undefined) { lo = Math.min(lo, o.min); hi = Math.max(hi, o.min + 1); }
    if (hi === lo) { hi += 1; lo -= 1; }
    const step = nice((hi - lo) / 4);
    lo = Math.floor(lo / step) * step; hi = Math.ceil(hi / step) * step;
    const x = (t) => left + (W - left - right) * (t - o.t0) / Math.max(1, o.t1 - o.t0);
    const y = (v) => top + (H - top - bottom) * (hi - v) / (hi - lo);
    const svg = el('svg:svg', { class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.title });
    for (let v = lo; v <= hi + step / 2; v += step) {
      svg.append(el('svg:line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }),
        el('svg:text', { class: 'tick', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, +v.toFixed(6)));
    }
    // Time ticks on whole 5, 10, 15, 30 or 60 minutes, about one per 80 px.
    const span = (o.t1 - o.t0) / 60000, want = Math.max(2, Math.floor((W - left) / 80));
    const tick = [5, 10, 15, 30, 60, 120].find((m) => span / m <= want) || 180;
    for (let t = Math.ceil(o.t0 / (tick * 60000)) * tick * 60000; t <= o.t1; t += tick * 60000) {
      svg.append(el('svg:text', { class: 'tick', x: x(t), y: H - 6, 'text-anchor': 'middle' }, hhmm(t)));
    }
    svg.append(el('svg:line', { class: 'axis', x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    return { svg, x, y };
  }

  // lineChart draws series [{name, points: [[ms, value|null], …], dots}];
  // a null value breaks the line.
  function lineChart(o) {
    const vals = o.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v !== null && v !== undefined);
    const { svg, x, y } = frame(o, vals);
    o.series.forEach((s, i) => {
      let d = '', pen = false;
      for (const [t, v] of s.points) {
        if (v === null || v === undefined) { pen = false; continue; }
        d += (pen ? 'L' : 'M') + x(t).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      }
      const cls = 's' + (i % COLOURS);
      if (d) svg.append(el('svg:path', { class: 'line ' + cls, d }));
      if (s.dots) for (const [t, v] of s.points) svg.append(el('svg:circle', { class: 'dot ' + cls, cx: x(t), cy: y(v), r: 2.5 }));
    });
    return svg;
  }

  // barChart stacks series of counts per step [{name, values}], the first
  // value for the step that starts at o.t0, each step o.step ms wide.
  function barChart(o) {
    const n = Math.max(0, ...o.series.map((s) => s.values.length));
    const totals = Array.from({ length: n }, (_, i) => o.series.reduce((a, s) => a + (s.values[i] || 0), 0));
    const { svg, x, y } = frame(Object.assign({ min: 0 }, o), totals);
    const w = Math.max(1, x(o.t0 + o.step) - x(o.t0) - (n > 120 ? 0 : 1));
    for (let i = 0; i < n; i++) {
      let base = 0;
      o.series.forEach((s, k) => {
        const v = s.values[i] || 0;
        if (!v) return;
        svg.append(el('svg:rect', { class: 'bar s' + (k % COLOURS), x: x(o.t0 + i * o.step).toFixed(1), y: y(base + v).toFixed(1), width: w.toFixed(1), height: (y(base) - y(base + v)).toFixed(1) }));
        base += v;
      });
    }
    return svg;
  }

  function legend(series) {
    return el('ul', { class: 'legend' }, series.map((s, i) => el('li', {}, el('span', { class: 'swatch s' + (i % COLOURS) }), s.name, s.note ? el('span', { class: 'muted' }, ' ' + s.note) : null)));
  }

  function figure(title, unit, chart, series) {
    return el('figure', { class: 'card chart-card' }, el('figcaption', {}, title, unit ? el('span', { class: 'muted' }, ' (' + unit + ')') : null), chart, series ? legend(series) : null);
  }

  // perStep turns a series of per-step values into [[ms, value], …].
  const perStep = (hist, vals) => (vals || []).map((v, i) => [Date.parse(hist.start) + (i + 0.5) * hist.step * 1000, v === undefined ? null : v]);
  const sum = (vals) => (vals || []).reduce((a, v) => a + (v || 0), 0);

  // draw builds every chart of one history into box.
  function draw(box, hist, st) {
    const width = Math.max(260, (box.clientWidth || 600) - 34);
    const t0 = Date.parse(hist.start), t1 = Date.parse(hist.now);
    const parts = [];
    const upl = (list, name) => list.map((s) => ({ name: name(s), note: sum(s.uplinks) + ' uplinks', values: s.uplinks || [] }));
    const bars = (title, series) => barChart({ title, width, t0, t1, step: hist.step * 1000, series });

    const gws = upl(hist.gateways || [], (s) => short(s.id));
    parts.push(el('h2', {}, 'Uplinks per minute'));
    parts.push(gws.length ? figure('Per gateway', 'uplinks/min', bars('Uplinks per minute per gateway', gws), gws)
      : el('p', { class: 'card empty' }, 'No uplink in this window.'));

    const devs = (hist.devices || []).slice().sort((a, b) => sum(b.uplinks) - sum(a.uplinks));
    if (devs.length) {
      let shown = upl(devs.slice(0, MAX_LINES), (s) => s.name || short(s.id));
      const rest = devs.slice(MAX_LINES);
      if (rest.length) {
        const tot = rest[0].uplinks.map((_, i) => rest.reduce((a, s) => a + (s.uplinks[i] || 0), 0));
        shown = shown.concat([{ name: rest.length + ' other devices', note: sum(tot) + ' uplinks', values: tot }]);
      }
      parts.push(figure('Per device', 'uplinks/min', bars('Uplinks per minute per device', shown), shown));

      // Signal: one device at a time, chosen in a list (a phone has room for one).
      if (!devs.some((d) => d.id === st.device)) st.device = devs[0].id;
      const dev = devs.find((d) => d.id === st.device);
      const pick = el('select', { id: 'chart-device', 'aria-label': 'Device', onchange: (ev) => { st.device = ev.target.value; draw(box, hist, st); } },
        devs.map((d) => el('option', { value: d.id, selected: d.id === st.device }, (d.name ? d.name + ' — ' : '') + d.id)));
      const sig = (dev.signal || []).map((p) => [p[0] * 1000, p[1], p[2]]);
      parts.push(el('h2', {}, 'Signal'), el('div', { class: 'chart-pick' }, pick));
      if (sig.length) {
        parts.push(figure('RSSI', 'dBm', lineChart({ title: 'RSSI of ' + dev.id, width, t0, t1, series: [{ name: 'RSSI', dots: true, points: sig.map((p) => [p[0], p[1]]) }] })),
          figure('SNR', 'dB', lineChart({ title: 'SNR of ' + dev.id, width, t0, t1, series: [{ name: 'SNR', dots: true, points: sig.map((p) => [p[0], p[2]]) }] })));
      } else parts.push(el('p', { class: 'card empty' }, 'No uplink from this device in this window.'));
    }

    const conns = (hist.connections || []).map((c) => ({ name: c.name || c.id, note: 'now ' + ((c.backlog || []).filter((v) => v !== null).slice(-1)[0] ?? '—'), points: perStep(hist, c.backlog) }));
    parts.push(el('h2', {}, 'Backlog per connection'));
    parts.push(conns.length ? figure('Uplinks waiting', 'highest each minute', lineChart({ title: 'Backlog per connection', width, t0, t1, min: 0, series: conns }), conns)
      : el('p', { class: 'card empty' }, 'No connection.'));
    box.replaceChildren(...parts);
  }

  // view runs the Charts page in container: range buttons, then the charts,
  // fetched with fetchHistory(minutes) now and by refresh() at most every
  // REFRESH ms (the page's 5-second tick calls it).
  function view(container, fetchHistory) {
    const st = { minutes: 60, device: '', last: 0, hist: null, width: 0 };
    const box = el('div', { id: 'charts' }, el('p', { class: 'muted' }, 'Loading…'));
    const buttons = RANGES.map(([m, label]) => el('button', { type: 'button', class: 'secondary', 'data-minutes': m, 'aria-pressed': String(m === st.minutes),
      onclick: () => { st.minutes = m; buttons.forEach((b) => b.setAttribute('aria-pressed', String(+b.dataset.minutes === m))); load(); } }, label));
    container.replaceChildren(el('div', { class: 'ranges', role: 'group', 'aria-label': 'Time range' }, buttons), box);
    async function load() {
      st.last = Date.now();
      try { st.hist = await fetchHistory(st.minutes); } catch (e) { box.replaceChildren(el('p', { class: 'err' }, e.message)); return; }
      st.width = box.clientWidth;
      draw(box, st.hist, st);
    }
    const onResize = () => {
      if (!box.isConnected) { window.removeEventListener('resize', onResize); return; }
      if (st.hist && Math.abs(box.clientWidth - st.width) > 20) { st.width = box.clientWidth; draw(box, st.hist, st); }
    };
    window.addEventListener('resize', onResize);
    load();
    return { refresh: () => { if (Date.now() - st.last >= REFRESH) load(); } };
  }

  window.edgeflowCharts = { view, lineChart, barChart };
})();

// Unit page: the series on a canvas chart (uPlot) with the safe range as a
// band, alerts marked, gaps left as gaps, defrost cycles and door openings
// shaded (unit-events.js); presets and drag-to-zoom ask the API for the
// window, which picks the resolution; the newest readings; cooling logs
// of a blast chiller or hot-holding unit (unit-cooling.js).
'use strict';
(function () {
  const { h, put, api, all, temp, toDisplay, when, ago, stateChip, events, link, toast, UNIT } = FT;
  const PRESETS = [['6 h', 6 * 3600], ['24 h', 86400], ['7 d', 7 * 86400], ['30 d', 30 * 86400]];

  // series turns the API's answer into uPlot's columns: time, average (or
  // reading), min, max; a null row inside each gap breaks the line there.
  function columns(s) {
    const rows = [];
    if (s.buckets && s.buckets.length) {
      for (const b of s.buckets) {
        const t = (new Date(b.start).getTime() + new Date(b.end).getTime()) / 2000;
        rows.push([t, toDisplay(b.avg_c), toDisplay(b.min_c), toDisplay(b.max_c)]);
      }
    } else {
      for (const p of s.points || []) {
        const v = toDisplay(p.temp_c);
        rows.push([new Date(p.time).getTime() / 1000, v, v, v]);
      }
    }
    for (const g of s.gaps || []) {
      const t = (new Date(g.start).getTime() + new Date(g.end).getTime()) / 2000;
      rows.push([t, null, null, null]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    return [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])];
  }

  FT.pages.unit = async function (main) {
    const id = FT.D.params.id;
    const [unit, sensors] = await Promise.all([api('GET', 'units/' + id), all('sensors', 5000).catch(() => [])]);
    const sensorName = new Map(sensors.map((x) => [x.id, x.name || x.external_id]));
    let alerts = [];
    let unitEvents = { items: [], pattern: null };
    let win = { span: 86400, from: null, to: null }; // a preset span, or a zoomed window
    let plot = null;
    let resolution = '';
    const chartBox = h('div', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'Temperature chart of ' + unit.name });
    const info = h('p', { class: 'muted', id: 'series-info' });
    const eventLegend = h('span', { class: 'legend-events', id: 'event-legend' });
    const pattern = h('p', { id: 'defrost-pattern', hidden: true });
    const cooling = FT.unitCooling(unit);
    const presetBar = h('div', { class: 'presets', role: 'group', 'aria-label': 'Time range' });
    const resetZoom = h('button', { type: 'button', hidden: true, onclick: () => { win.from = win.to = null; load(); } }, 'Reset zoom');
    const latestBody = h('tbody');
    const now = h('span', { id: 'now-temp' }, '–');
    const state = h('span', { id: 'unit-state' });
    for (const [label, span] of PRESETS) {
      presetBar.append(h('button', { type: 'button', 'data-span': span, 'aria-pressed': String(span === win.span), onclick: () => {
        win = { span, from: null, to: null };
        for (const b of presetBar.querySelectorAll('button[data-span]')) b.setAttribute('aria-pressed', String(Number(b.dataset.span) === span));
        load();
      } }, label));
    }
    presetBar.append(resetZoom);

    put(main,
      h('p', null, link('', '← Overview')),
      h('h1', null, unit.name, ' ', state),
      h('p', null, h('strong', null, now), ' · safe ', temp(unit.safe_min_c), ' … ', temp(unit.safe_max_c), ' · ', unit.kind.replace('_', ' ')),
      h('section', { class: 'card' }, presetBar, chartBox, info,
        h('div', { class: 'legend' },
          h('span', null, h('i', { class: 'sw-safe' }), 'safe range'),
          h('span', null, h('i', { class: 'sw-temp' }), 'temperature (' + UNIT + ')'),
          h('span', null, h('i', { class: 'sw-band' }), 'min–max'),
          h('span', null, h('i', { class: 'sw-alert' }), 'alert'),
          h('span', null, h('i', { class: 'sw-out' }), 'out of range'),
          eventLegend), pattern),
      cooling ? cooling.el : null,
      h('section', { class: 'card' }, h('h2', null, 'Latest readings'),
        h('div', { class: 'scroll' }, h('table', { id: 'latest-readings' },
          h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', { class: 'num' }, 'Temperature'), h('th', null, 'Sensor'), h('th', { class: 'num' }, 'Battery'))),
          latestBody))),
      FT.D.can.operate ? h('p', null, link('/log?unit=' + id, 'Record a manual check for this unit')) : null);

    function chartOpts(width) {
      const lo = toDisplay(unit.safe_min_c), hi = toDisplay(unit.safe_max_c);
      return {
        width, height: Math.max(220, Math.min(360, Math.round(width * 0.5))),
        scales: { x: { time: true }, y: { range: (u, min, max) => {
          const a = Math.min(min ?? lo, lo), b = Math.max(max ?? hi, hi);
          const pad = Math.max(1, (b - a) * 0.08);
          return [a - pad, b + pad];
        } } },
        axes: [{}, { label: UNIT, size: 52 }],
        cursor: { drag: { x: true, y: false } },
        legend: { show: false },
        series: [{}, { label: 'temperature', stroke: '#0b5394', width: 2, spanGaps: false },
          { label: 'min', stroke: 'rgba(11,83,148,.35)', width: 1, spanGaps: false },
          { label: 'max', stroke: 'rgba(11,83,148,.35)', width: 1, spanGaps: false }],
        bands: [{ series: [3, 2], fill: 'rgba(11,83,148,.12)' }],
        hooks: {
          drawClear: [(u) => {
            const ctx = u.ctx, { left, width: w } = u.bbox;
            const y1 = u.valToPos(hi, 'y', true), y2 = u.valToPos(lo, 'y', true);
            ctx.save();
            ctx.fillStyle = '#d3f2d9';
            ctx.fillRect(left, y1, w, y2 - y1);
            ctx.restore();
            FT.unitEvents.draw(u, unitEvents.items, chartBox);
          }],
          draw: [(u) => {
            const ctx = u.ctx, { top, height: ht } = u.bbox;
            ctx.save();
            ctx.fillStyle = 'rgba(166,27,27,.22)';
            for (const a of alerts) {
              const x1 = u.valToPos(new Date(a.started_at || a.opened_at).getTime() / 1000, 'x', true);
              const x2 = u.valToPos((a.resolved_at ? new Date(a.resolved_at).getTime() : Date.now()) / 1000, 'x', true);
              ctx.fillRect(x1, top, Math.max(2, x2 - x1), ht);
            }
            // Excursions: every reading (or bucket extreme) outside the
            // safe range, marked in red.
            ctx.fillStyle = '#a61b1b';
            const [xs, avg, mins, maxs] = u.data;
            for (let i = 0; i < xs.length; i++) {
              for (const v of [avg[i], mins[i], maxs[i]]) {
                if (v === null || v === undefined || (v >= lo && v <= hi)) continue;
                const x = u.valToPos(xs[i], 'x', true), y = u.valToPos(v, 'y', true);
                ctx.beginPath();
                ctx.arc(x, y, 2.5 * devicePixelRatio, 0, 2 * Math.PI);
                ctx.fill();
              }
            }
            ctx.restore();
          }],
          setSelect: [(u) => {
            if (u.select.width < 5) return;
            const from = u.posToVal(u.select.left, 'x'), to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, width: 0 }, false);
            win.from = new Date(from * 1000);
            win.to = new Date(to * 1000);
            load();
          }],
        },
      };
    }

    async function load() {
      const t0 = performance.now();
      const to = win.to || new Date();
      const from = win.from || new Date(to.getTime() - win.span * 1000);
      const q = 'from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString());
      let s;
      try {
        [s, alerts, unitEvents] = await Promise.all([api('GET', 'units/' + id + '/readings?' + q),
          all('alerts?unit=' + id + '&from=' + encodeURIComponent(new Date(from.getTime() - 30 * 86400e3).toISOString()), 1000),
          // The series matters most: without the events the chart still draws.
          FT.unitEvents.load(id, from, to).catch((e) => { toast(e.message, 'error'); return { items: [], pattern: null }; })]);
      } catch (e) { toast(e.message, 'error'); return; }
      put(eventLegend, FT.unitEvents.legend(unitEvents.items));
      pattern.hidden = !unitEvents.pattern;
      pattern.textContent = unitEvents.pattern ? FT.unitEvents.patternText(unitEvents.pattern) : '';
      alerts = alerts.filter((a) => !a.resolved_at || new Date(a.resolved_at) >= from);
      resolution = s.resolution;
      const data = columns(s);
      const width = Math.max(280, chartBox.clientWidth || main.clientWidth - 40);
      if (plot) plot.destroy();
      chartBox.replaceChildren();
      plot = new uPlot(chartOpts(width), data, chartBox);
      plot.setScale('x', { min: from.getTime() / 1000, max: to.getTime() / 1000 });
      resetZoom.hidden = !win.from;
      const raw = s.resolution === 'raw';
      const n = (raw ? s.points : s.buckets || []).length;
      info.textContent = n + (raw ? ' readings' : ' buckets of ' + s.resolution) + ', ' + (s.gaps || []).length + ' gaps · ' + when(from) + ' – ' + when(to);
      chartBox.dataset.resolution = s.resolution;
      chartBox.dataset.points = String(n);
      chartBox.dataset.gaps = String((s.gaps || []).length);
      chartBox.dataset.loadMs = String(Math.round(performance.now() - t0));
    }

    async function loadLatest() {
      const to = new Date();
      const s = await api('GET', 'units/' + id + '/readings?resolution=raw&from=' + encodeURIComponent(new Date(to - 6 * 3600e3).toISOString()) + '&to=' + encodeURIComponent(to.toISOString()));
      const pts = (s.points || []).slice(-20).reverse();
      latestBody.replaceChildren(...pts.map(row));
      if (!pts.length) latestBody.append(h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No readings in the last 6 hours.')));
      if (pts.length) now.textContent = temp(pts[0].temp_c) + ' ' + ago(pts[0].time);
    }
    function row(p) {
      return h('tr', null, h('td', null, when(p.time)), h('td', { class: 'num' }, temp(p.temp_c)), h('td', null, sensorName.get(p.sensor) || p.sensor || ''),
        h('td', { class: 'num' }, p.battery === null || p.battery === undefined ? '–' : Math.round(p.battery) + '%'));
    }

    await Promise.all([load(), loadLatest(), cooling ? cooling.refresh() : null]);
    let resizeTimer;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (plot) plot.setSize({ width: Math.max(280, chartBox.clientWidth), height: plot.height }); }, 150);
    });
    events('unit=' + encodeURIComponent(id), {
      reading(d) {
        if (d.temp_c === null) return;
        latestBody.prepend(row({ time: d.time, temp_c: d.temp_c, battery: d.battery, sensor: '' }));
        while (latestBody.children.length > 20) latestBody.lastChild.remove();
        now.textContent = temp(d.temp_c) + ' just now';
        if (d.state) state.replaceChildren(stateChip(d.state));
        // A preset window ending now follows the readings.
        if (!win.from && plot && resolution === 'raw') {
          const v = toDisplay(d.temp_c);
          const cols = plot.data.map((c) => Array.from(c));
          cols[0].push(new Date(d.time).getTime() / 1000); cols[1].push(v); cols[2].push(v); cols[3].push(v);
          plot.setData(cols, false);
          const t = Date.now() / 1000;
          plot.setScale('x', { min: t - win.span, max: t });
        }
      },
      unit_state(d) { state.replaceChildren(stateChip(d.state)); },
      alert() { load(); if (cooling) cooling.refresh(); },
      reset() { load(); loadLatest(); if (cooling) cooling.refresh(); },
    });
  };
})();

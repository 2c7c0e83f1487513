// Unit page, what the detectors recognised in the unit's data: defrost
// cycles and door openings (GET …/units/{unit}/events) as shaded bands
// behind the series, their legend, and the learned defrost pattern in
// words (FT.unitEvents). unit.js draws them in its chart's drawClear hook.
'use strict';
(function () {
  const { h, api, temp } = FT;

  // One look per class: a defrost that kept to its learned pattern, one
  // that ran long or too hot, a door opening a door sensor reported, one
  // recognised in the temperature alone (hatched: it is an inference).
  const STYLE = {
    defrost: { label: 'defrost as learned', fill: 'rgba(0,150,199,.20)' },
    'defrost-out': { label: 'defrost outside its learned bounds', fill: 'rgba(217,130,43,.45)' },
    'door-sensor': { label: 'door open (door sensor)', fill: 'rgba(123,44,191,.25)' },
    'door-detected': { label: 'door open (recognised in the readings)', hatch: 'rgba(123,44,191,.55)' },
  };
  const ORDER = Object.keys(STYLE);

  function classOf(e) {
    if (e.kind === 'defrost') return e.within_bounds ? 'defrost' : 'defrost-out';
    return e.source === 'sensor' ? 'door-sensor' : 'door-detected';
  }

  // load returns the events overlapping [from, to) and the learned pattern.
  async function load(unitID, from, to) {
    const q = 'units/' + unitID + '/events?limit=200&from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString());
    const first = await api('GET', q);
    const items = [...(first.items || [])];
    let cursor = first.next_cursor;
    while (cursor && items.length < 2000) {
      const page = await api('GET', q + '&cursor=' + encodeURIComponent(cursor));
      items.push(...(page.items || []));
      cursor = page.next_cursor;
    }
    return { items, pattern: first.defrost_pattern || null };
  }

  const patterns = new WeakMap();
  function hatch(ctx, color) {
    let p = patterns.get(ctx);
    if (!p) {
      const c = document.createElement('canvas');
      const n = Math.round(8 * devicePixelRatio);
      c.width = c.height = n;
      const g = c.getContext('2d');
      g.strokeStyle = color;
      g.lineWidth = 2.5 * devicePixelRatio;
      g.beginPath();
      g.moveTo(0, n); g.lineTo(n, 0);
      g.moveTo(-n / 2, n / 2); g.lineTo(n / 2, -n / 2);
      g.moveTo(n / 2, n * 1.5); g.lineTo(n * 1.5, n / 2);
      g.stroke();
      p = ctx.createPattern(c, 'repeat');
      patterns.set(ctx, p);
    }
    return p;
  }

  // draw shades each event's span over the plot's height, and records on
  // box (data-bands) what it drew where, in canvas pixels.
  function draw(u, items, box) {
    const ctx = u.ctx, { left, top, width, height } = u.bbox;
    const drawn = [];
    ctx.save();
    for (const e of items) {
      const cls = classOf(e);
      const st = STYLE[cls];
      const end = e.ended_at ? new Date(e.ended_at).getTime() : Date.now();
      const x1 = Math.max(left, u.valToPos(new Date(e.started_at).getTime() / 1000, 'x', true));
      const x2 = Math.min(left + width, u.valToPos(end / 1000, 'x', true));
      if (!(x2 >= left && x1 <= left + width)) continue;
      const w = Math.max(2 * devicePixelRatio, x2 - x1);
      ctx.fillStyle = st.hatch ? hatch(ctx, st.hatch) : st.fill;
      ctx.fillRect(x1, top, w, height);
      drawn.push({ id: e.id, cls, x: Math.round(x1), w: Math.round(w), top: Math.round(top), height: Math.round(height) });
    }
    ctx.restore();
    box.dataset.bands = JSON.stringify(drawn);
  }

  // legend lists the classes present.
  function legend(items) {
    const present = new Set(items.map(classOf));
    return ORDER.filter((c) => present.has(c)).map((c) => h('span', { 'data-legend': c }, h('i', { class: 'sw-' + c }), STYLE[c].label));
  }

  function span(sec) {
    if (sec >= 3600 && sec % 1800 === 0) return (sec / 3600) + ' h';
    if (sec >= 5400) return (Math.round(sec / 360) / 10) + ' h';
    return Math.round(sec / 60) + ' min';
  }
  // patternText is the learned defrost cycle in words.
  function patternText(p) {
    return 'Learned defrost: every ' + span(p.period_seconds) + ', about ' + span(p.duration_seconds) + ', peak ' + temp(p.peak_c) +
      ' (from ' + p.episodes + ' cycles). A defrost may reach ' + temp(p.max_peak_c) + ' and last ' + span(p.max_duration_seconds) +
      ' before it counts as out of bounds.';
  }

  FT.unitEvents = { load, draw, legend, patternText, classOf };
})();

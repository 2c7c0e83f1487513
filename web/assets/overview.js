// Overview: open alerts on top, then every site's units as tiles, kept
// current by the organisation's event stream.
'use strict';
(function () {
  const { h, api, all, temp, ago, when, stateChip, events, link, toast } = FT;

  // A unit's state before the stream says otherwise: an open alert means
  // alerting; a reading out of range that has not alerted yet is pending.
  function initialState(u, openUnits) {
    if (openUnits.has(u.unit_id)) return 'alerting';
    switch (u.status) {
      case 'out_of_range': return 'pending';
      case 'offline': return 'offline';
      case 'sensor_fault': return 'sensor_fault';
      case 'no_data': return 'no_data';
      default: return 'ok';
    }
  }

  FT.pages.overview = async function (main) {
    const tiles = new Map(); // unit id → {el, unit, state}
    const alertsBox = h('section', { id: 'open-alerts', 'aria-label': 'Open alerts' });
    const sitesBox = h('div', { id: 'sites' });
    const started = performance.now();

    function renderTile(t) {
      const u = t.unit;
      const r = u.reading;
      t.el.className = 'tile s-' + t.state;
      t.el.dataset.state = t.state;
      t.el.replaceChildren(
        h('div', { class: 'name' }, u.unit_name),
        h('div', { class: 'temp', 'data-temp-c': r ? r.temp_c : '' }, r ? temp(r.temp_c) : '–'),
        h('div', { class: 'meta' }, stateChip(t.state),
          h('span', { class: 'range' }, temp(u.low_c) + ' … ' + temp(u.high_c))),
        h('div', { class: 'meta' },
          h('span', { class: 'seen', 'data-time': r ? r.time : '' }, r ? ago(r.time) : 'no readings'),
          r && r.battery !== null && r.battery !== undefined ? h('span', { class: 'battery' }, 'battery ' + Math.round(r.battery) + '%') : null));
      t.el.setAttribute('aria-label', u.unit_name + ': ' + (r ? temp(r.temp_c) : 'no readings') + ', ' + t.state.replace('_', ' '));
    }

    function renderAlerts(open) {
      alertsBox.replaceChildren();
      if (!open.length) return;
      alertsBox.append(h('h2', null, 'Open alerts (' + open.length + ')'),
        h('ul', { class: 'alertlist' }, open.map((a) => h('li', null,
          h('a', { href: '/o/' + FT.ORG + '/alerts/' + a.id, 'data-alert': a.id },
            h('span', { class: 'what' }, a.unit_name + ' · ' + FT.alertKind(a.kind)), ' ',
            h('span', { class: 'chip s-' + a.status }, a.status), ' ',
            h('span', { class: 'chip s-' + a.severity }, a.severity),
            a.summary ? h('div', { class: 'summary' }, a.summary) : null,
            h('div', { class: 'muted' }, (a.peak_c !== null ? 'peak ' + temp(a.peak_c) + ' · ' : '') + 'opened ' + when(a.opened_at) + ' (' + ago(a.opened_at) + ')'))))));
    }

    async function load() {
      const [latest, open] = await Promise.all([api('GET', 'latest'), all('alerts?status=open', 200)]);
      const units = latest.items || latest.units || [];
      const openUnits = new Set(open.map((a) => a.unit_id));
      renderAlerts(open);
      tiles.clear();
      sitesBox.replaceChildren();
      const bySite = new Map();
      for (const u of units) {
        if (!bySite.has(u.site_id)) bySite.set(u.site_id, { name: u.site_name, units: [] });
        bySite.get(u.site_id).units.push(u);
      }
      for (const [siteID, s] of bySite) {
        const grid = h('div', { class: 'tiles' });
        for (const u of s.units) {
          const t = { el: link('/units/' + u.unit_id), unit: u, state: initialState(u, openUnits) };
          t.el.dataset.unit = u.unit_id;
          renderTile(t);
          tiles.set(u.unit_id, t);
          grid.append(t.el);
        }
        sitesBox.append(h('section', { 'data-site': siteID, 'aria-label': s.name }, h('h2', null, s.name + ' ', h('span', { class: 'muted' }, s.units.length === 1 ? '1 unit' : s.units.length + ' units')), grid));
      }
      if (!units.length) {
        sitesBox.append(h('div', { class: 'card' }, 'No units yet. ', FT.D.can.manage ? link('/settings/units', 'Add a unit') : 'A manager can add units in the settings.'));
      }
    }

    main.replaceChildren(h('h1', null, 'Overview'), alertsBox, sitesBox);
    await load();
    main.dataset.renderedMs = String(Math.round(performance.now() - started));

    let reloading = null;
    const reloadAlerts = async () => {
      try {
        renderAlerts(await all('alerts?status=open', 200));
        FT.refreshBadge();
      } catch (e) { toast(e.message, 'error'); }
    };
    function flash(t) {
      t.el.classList.remove('flash');
      void t.el.offsetWidth;
      t.el.classList.add('flash');
    }
    events('', {
      reading(d) {
        const t = tiles.get(d.unit_id);
        if (!t) return;
        t.unit.reading = Object.assign({}, t.unit.reading, { time: d.time, temp_c: d.temp_c, battery: d.battery });
        if (d.state) t.state = d.state;
        renderTile(t);
        flash(t);
        main.dataset.lastEvent = String(Date.now());
      },
      unit_state(d) {
        const t = tiles.get(d.unit_id);
        if (!t) return;
        t.state = d.state;
        renderTile(t);
      },
      alert() { reloadAlerts(); },
      reset() {
        if (!reloading) reloading = load().catch((e) => toast(e.message, 'error')).finally(() => { reloading = null; });
      },
    });
    // Ages move on without events.
    setInterval(() => {
      for (const el of main.querySelectorAll('.seen[data-time]')) {
        if (el.dataset.time) el.textContent = ago(el.dataset.time);
      }
    }, 10000);
  };
})();

// The inspector's page, opened from the link an admin handed over:
// /inspect/<org>/<link>#fti_…. The secret travels in the URL's fragment,
// which the browser never sends to a server; the page keeps it in this
// tab's sessionStorage, takes it out of the address bar, and sends it to the
// API as a bearer credential. Everything shown comes from the read-only
// routes an inspector link may call (the server audits each view): the
// link's sites and period, each site's HACCP report (view, CSV, PDF), its
// units' charts, the alerts with their corrective actions, and the audit
// trail of those sites.
'use strict';
(function () {
  const [, , ORG, LINK] = location.pathname.split('/');
  const KEY = 'freshtrack.inspector.' + LINK;
  if (location.hash.length > 1) {
    sessionStorage.setItem(KEY, decodeURIComponent(location.hash.slice(1)));
    history.replaceState(null, '', location.pathname);
  }
  const TOKEN = sessionStorage.getItem(KEY) || '';
  const BASE = '/v1/orgs/' + ORG;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  class Refused extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || 'request failed (' + status + ')');
      this.status = status;
    }
  }

  // call reads path with the link's secret; a problem answer throws.
  async function call(path, accept) {
    const res = await fetch(BASE + path, { headers: { Authorization: 'Bearer ' + TOKEN, Accept: accept || 'application/json' }, credentials: 'omit' });
    if (!res.ok) {
      let p = {};
      try { p = await res.json(); } catch (e) { /* not a problem document */ }
      throw new Refused(res.status, p);
    }
    return res;
  }
  async function json(path) { return (await call(path)).json(); }

  const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function when(t) { return t ? dtf.format(new Date(t)) : '–'; }
  function num(v, unit) { return v === null || v === undefined ? '–' : Number(v).toFixed(1) + (unit ? ' ' + unit : ''); }
  function iso(d) { return d.toISOString().slice(0, 10); }
  function table(head, rows) {
    return h('table', { class: 'list' }, h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
  }

  // The days a report may cover: the link's period, else the last week.
  function defaultDays(link) {
    const today = iso(new Date());
    const to = link.period_to && link.period_to < today ? link.period_to : today;
    const week = iso(new Date(new Date(to + 'T12:00:00Z').getTime() - 6 * 86400000));
    const from = link.period_from && link.period_from > week ? link.period_from : week;
    return { from: from > to ? to : from, to };
  }

  async function download(button, path, name) {
    button.disabled = true;
    try {
      const blob = await (await call(path, '*/*')).blob();
      const a = h('a', { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (e) {
      button.after(h('p', { class: 'card error' }, e.message));
    } finally {
      button.disabled = false;
    }
  }

  function chart(box, unit, rep) {
    const q = '?resolution=auto&from=' + encodeURIComponent(rep.header.period_start) + '&to=' + encodeURIComponent(rep.header.period_end);
    box.dataset.unit = unit.unit_id;
    box.replaceChildren(h('p', { class: 'muted' }, 'Loading the chart…'));
    json('/units/' + unit.unit_id + '/readings' + q).then((s) => {
      const b = s.buckets || [];
      const pts = s.points || [];
      const xs = b.length ? b.map((x) => new Date(x.start).getTime() / 1000) : pts.map((p) => new Date(p.time).getTime() / 1000);
      const series = b.length ? [b.map((x) => x.avg_c), b.map((x) => x.min_c), b.map((x) => x.max_c)] : [pts.map((p) => p.temp_c)];
      box.replaceChildren(h('h4', {}, unit.name + ', ' + rep.header.from + ' to ' + rep.header.to));
      if (!xs.length) { box.append(h('p', { class: 'muted' }, 'No readings in these days.')); return; }
      const el = h('div', { class: 'chart', 'data-unit': unit.unit_id });
      box.append(el);
      const labels = b.length ? ['average °C', 'min °C', 'max °C'] : ['°C'];
      // eslint-disable-next-line no-undef
      new uPlot({ width: Math.min(900, box.clientWidth || 600), height: 240, series: [{}, ...labels.map((l, i) => ({ label: l, stroke: ['#1f6feb', '#8ab4f8', '#d93025'][i] }))] },
        [xs, ...series], el);
    }).catch((e) => box.replaceChildren(h('p', { class: 'card error' }, e.message)));
  }

  function reportView(out, rep) {
    const u = '°' + (rep.header.temperature_unit || 'C');
    out.replaceChildren(h('h3', {}, 'HACCP record ' + rep.header.from + ' to ' + rep.header.to + ' (' + rep.header.time_zone + ')'));
    if (!rep.units.length) { out.append(h('p', { class: 'muted' }, 'This site has no units.')); return; }
    const box = h('div', { class: 'unit-chart', id: 'unit-chart-' + rep.header.site_id });
    out.append(table(['Unit', 'Kind', 'Readings', 'Min', 'Max', 'In range', 'Excursions', 'Corrective actions', ''], rep.units.map((unit) => {
      const b = h('button', { type: 'button', class: 'link', 'data-chart': unit.unit_id }, 'Chart');
      b.addEventListener('click', () => chart(box, unit, rep));
      return [unit.name, unit.kind.replace(/_/g, ' '), String(unit.summary.readings), num(unit.summary.min, u), num(unit.summary.max, u),
        unit.summary.percent_in_range === null || unit.summary.percent_in_range === undefined ? '–' : unit.summary.percent_in_range.toFixed(1) + ' %',
        String(unit.excursions.length), String(unit.corrective_actions.length), b];
    })), box);
  }

  function siteSection(link, site) {
    const days = defaultDays(link);
    const from = h('input', { type: 'date', value: days.from, min: link.period_from, max: link.period_to, id: 'from-' + site.id });
    const to = h('input', { type: 'date', value: days.to, min: link.period_from, max: link.period_to, id: 'to-' + site.id });
    const out = h('div', { class: 'report', 'data-site': site.id });
    const path = (format) => '/reports/haccp?site=' + site.id + '&from=' + from.value + '&to=' + to.value + '&format=' + format;
    const view = h('button', { type: 'button', class: 'primary', 'data-report': site.id }, 'View report');
    view.addEventListener('click', async () => {
      view.disabled = true;
      try { reportView(out, await json(path('json'))); } catch (e) { out.replaceChildren(h('p', { class: 'card error' }, e.message)); }
      view.disabled = false;
    });
    const csv = h('button', { type: 'button', class: 'secondary', 'data-csv': site.id }, 'Download CSV');
    csv.addEventListener('click', () => download(csv, path('csv'), 'haccp-' + site.name + '-' + from.value + '-' + to.value + '.csv'));
    const pdf = h('button', { type: 'button', class: 'secondary', 'data-pdf': site.id }, 'Download PDF');
    pdf.addEventListener('click', () => download(pdf, path('pdf'), 'haccp-' + site.name + '-' + from.value + '-' + to.value + '.pdf'));
    return h('section', { class: 'card', 'data-site-section': site.id }, h('h2', {}, site.name),
      h('p', { class: 'muted' }, 'Days are local days in ' + site.timezone + '.'),
      h('div', { class: 'grid2' }, h('div', { class: 'field' }, h('label', { for: from.id }, 'From'), from), h('div', { class: 'field' }, h('label', { for: to.id }, 'To'), to)),
      h('div', { class: 'actions' }, view, csv, pdf), out);
  }

  async function alertsSection() {
    const box = h('section', { class: 'card', id: 'inspect-alerts' }, h('h2', {}, 'Alerts'));
    const page = await json('/alerts?limit=100');
    if (!page.items.length) { box.append(h('p', { class: 'muted' }, 'No alerts at these sites in the period.')); return box; }
    box.append(table(['Opened', 'Site', 'Unit', 'Kind', 'Status', ''], page.items.map((a) => {
      const more = h('div');
      const b = h('button', { type: 'button', class: 'link', 'data-alert': a.id }, 'Corrective actions');
      b.addEventListener('click', async () => {
        try {
          const d = await json('/alerts/' + a.id);
          more.replaceChildren(d.corrective_actions.length
            ? h('ul', {}, d.corrective_actions.map((c) => h('li', {}, when(c.taken_at) + ': ' + c.action + ' (' + c.disposition + ')' + (c.notes ? ' – ' + c.notes : ''))))
            : h('p', { class: 'muted' }, 'No corrective action recorded.'));
        } catch (e) { more.replaceChildren(h('p', { class: 'card error' }, e.message)); }
      });
      return [when(a.opened_at), a.site_name || '', a.unit_name || '', a.summary || a.kind.replace(/_/g, ' '), a.status, h('div', {}, b, more)];
    })));
    return box;
  }

  async function auditSection() {
    const box = h('section', { class: 'card', id: 'inspect-audit' }, h('h2', {}, 'Audit trail'));
    const page = await json('/audit?limit=100');
    const v = page.verification;
    box.append(h('p', { class: v.ok ? 'ok' : 'error', id: 'audit-verification' }, v.ok
      ? 'Hash chain intact for the ' + v.rows_checked + ' rows shown (' + v.checked + ').'
      : 'Hash chain broken at row ' + v.first_broken_id + ': ' + v.reason + '.'));
    box.append(table(['When', 'Who', 'What', 'About'], page.items.map((r) => [when(r.at), r.actor, r.action, r.target_type + ' ' + r.target_id])));
    return box;
  }

  async function start() {
    const main = document.getElementById('main');
    if (!TOKEN) {
      main.replaceChildren(h('p', { class: 'card error' }, 'This page needs the whole inspector link, including the part after #. Open the link you were given again.'));
      return;
    }
    let link, org;
    try {
      [link, org] = await Promise.all([json('/inspector-links/' + LINK), json('')]);
    } catch (e) {
      main.replaceChildren(h('p', { class: 'card error', id: 'inspect-refused' }, e.message));
      return;
    }
    document.title = 'Inspection · ' + org.name + ' · FreshTrack';
    const period = link.period_from || link.period_to ? (link.period_from || 'the beginning') + ' to ' + (link.period_to || 'today') : 'all days';
    main.replaceChildren(h('h1', {}, org.name), h('p', { id: 'inspect-scope' }, 'Read-only access for ' + link.name + ': ' +
      link.sites.map((s) => s.name).join(', ') + ', ' + period + '. Valid until ' + when(link.expires_at) + '. Every view is recorded in the audit trail.'));
    for (const s of link.sites) main.append(siteSection(link, s));
    for (const section of [alertsSection, auditSection]) {
      try { main.append(await section()); } catch (e) { main.append(h('p', { class: 'card error' }, e.message)); }
    }
  }
  document.addEventListener('DOMContentLoaded', start);
})();

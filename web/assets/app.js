// FreshTrack's pages. The server renders the shell and the page's starting
// facts (#page-data); everything shown or changed goes through /v1 with the
// session cookie, and every change carries the page's CSRF token.
'use strict';
window.FT = (function () {
  const D = JSON.parse(document.getElementById('page-data').textContent);
  const ORG = D.org.id;
  const BASE = '/v1/orgs/' + ORG;
  const settings = D.org.settings || {};
  const FAHRENHEIT = settings.temperature_unit === 'F';
  const UNIT = FAHRENHEIT ? '°F' : '°C';

  // h builds elements; children are nodes or text (never parsed as HTML).
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

  // put replaces el's children, leaving out absent (null, false) ones as h
  // does; replaceChildren itself would show them as text.
  function put(el, ...children) {
    el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }

  const KIND = {
    temp_high: 'too warm', temp_low: 'too cold', sensor_offline: 'sensor offline', battery_low: 'battery low', sensor_fault: 'sensor fault',
    trend_warning: 'heading out of range', defrost: 'defrost out of bounds', door_open: 'door left open',
    time_out_of_temp: 'too long out of range today', cooling: 'cooling behind schedule', manual_log_missed: 'manual check missed',
    calibration_due: 'calibration due', sensor_implausible: 'implausible readings',
  };
  function alertKind(k) { return KIND[k] || String(k).replace(/_/g, ' '); }

  class APIError extends Error {
    constructor(status, problem) {
      const fields = (problem.errors || []).map((e) => (e.field ? e.field + ': ' : '') + e.reason).join('; ');
      super((problem.detail || problem.title || 'request failed (' + status + ')') + (fields ? ': ' + fields : ''));
      this.status = status;
      this.problem = problem;
    }
  }

  // api calls the API; a problem answer becomes an APIError with its text.
  async function api(method, path, body) {
    const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = D.csrf;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path.startsWith('/') ? path : BASE + '/' + path, opts);
    // A signature's missing re-authentication (RFC 9470 step-up) is the
    // page's to handle, not a lost session.
    if (res.status === 401 && !(res.headers.get('WWW-Authenticate') || '').includes('insufficient_user_authentication')) {
      location.href = '/signin?next=' + encodeURIComponent(location.pathname + location.search);
      throw new APIError(401, { detail: 'signed out' });
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    if (!res.ok) throw new APIError(res.status, data || {});
    return data;
  }

  // all follows next_cursor until the list ends (or max items).
  async function all(path, max) {
    const items = [];
    let cursor = '';
    for (;;) {
      const sep = path.includes('?') ? '&' : '?';
      const page = await api('GET', path + sep + 'limit=200' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      items.push(...(page.items || []));
      cursor = page.next_cursor;
      if (!cursor || items.length >= (max || 5000)) return items;
    }
  }

  function toDisplay(c) { return FAHRENHEIT ? c * 9 / 5 + 32 : c; }
  function toC(v) { return FAHRENHEIT ? (v - 32) * 5 / 9 : v; }
  function temp(c) {
    if (c === null || c === undefined || Number.isNaN(c)) return '–';
    return toDisplay(c).toFixed(1) + ' ' + UNIT;
  }

  function ago(t) {
    if (!t) return 'never';
    const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  function when(t) { return t ? dtf.format(new Date(t)) : '–'; }

  let toastTimer;
  function toast(msg, kind) {
    const el = document.getElementById('toast');
    el.textContent = msg;
    el.className = 'toast ' + (kind || 'ok');
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 3000);
  }

  // guard runs an action, shows its error, and keeps the button from
  // being pressed twice meanwhile.
  async function guard(button, fn) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      toast(e.message, 'error');
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  }

  const STATE_LABEL = { ok: 'OK', pending: 'Pending', alerting: 'Alerting', offline: 'Offline', sensor_fault: 'Sensor fault', no_data: 'No data' };
  function stateChip(state) {
    return h('span', { class: 'chip s-' + state, 'data-state': state }, STATE_LABEL[state] || state);
  }

  // events opens the organisation's live stream (EventSource resumes with
  // Last-Event-ID by itself); a reset means: reload what is shown.
  function events(query, handlers) {
    const status = document.getElementById('live-status');
    const es = new EventSource(BASE + '/events' + (query ? '?' + query : ''));
    es.onopen = () => { status.textContent = ''; status.className = 'live on'; };
    es.onerror = () => { status.textContent = 'Live updates interrupted, reconnecting…'; status.className = 'live off'; };
    for (const [type, fn] of Object.entries(handlers)) {
      es.addEventListener(type, (m) => fn(JSON.parse(m.data), m));
    }
    return es;
  }

  function link(path, ...children) { return h('a', { href: '/o/' + ORG + path }, ...children); }

  function field(label, input, hint) {
    const id = 'f-' + Math.random().toString(36).slice(2, 9);
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
  }

  const pages = {};
  return { D, ORG, BASE, UNIT, FAHRENHEIT, h, put, alertKind, api, all, APIError, temp, toDisplay, toC, ago, when, toast, guard, stateChip, events, link, field, pages };
})();

// Header: organisation switcher, sign-out and the open-alerts badge.
(function () {
  const { D, api, toast } = FT;
  const sw = document.getElementById('org-switch');
  if (sw) sw.addEventListener('change', () => { location.href = '/o/' + sw.value; });
  const so = document.getElementById('signout');
  if (so) so.addEventListener('click', async () => {
    await fetch('/auth/signout', { method: 'POST', headers: { 'X-CSRF-Token': D.csrf } });
    location.href = '/signin';
  });
  FT.refreshBadge = async function () {
    try {
      const page = await api('GET', 'alerts?status=open&limit=200');
      const n = (page.items || []).length;
      const b = document.getElementById('open-count');
      b.textContent = n >= 200 ? '200+' : String(n);
      b.hidden = n === 0;
    } catch (e) { if (e.status !== 401) toast(e.message, 'error'); }
  };
})();

document.addEventListener('DOMContentLoaded', async () => {
  const main = document.getElementById('main');
  const page = FT.pages[FT.D.page];
  FT.refreshBadge();
  if (!page) { main.textContent = 'Unknown page.'; return; }
  try {
    await page(main);
  } catch (e) {
    main.replaceChildren(FT.h('p', { class: 'card error' }, e.message));
  }
});

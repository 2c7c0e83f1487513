// Settings (manager and up): the organisation's sites, areas, units,
// sensors, alert rules, escalation policies and contacts, and for admins its
// members and API keys. The forms are built from the request schemas in
// /v1/openapi.json, so a field the API gains shows up here; the tables below
// only choose how the fields are labelled, ordered and shown.
'use strict';
(function () {
  const { D, h, api, all, field, toast, guard, link, UNIT } = FT;
  const F = FT.FAHRENHEIT;

  const SECTIONS = [
    { key: 'sites', title: 'Sites', one: 'site' },
    { key: 'areas', title: 'Areas', one: 'area' },
    { key: 'units', title: 'Units', one: 'unit' },
    { key: 'sensors', title: 'Sensors', one: 'sensor' },
    { key: 'alert-rules', title: 'Alert rules', one: 'alert rule' },
    { key: 'escalation-policies', title: 'Escalation policies', one: 'escalation policy' },
    { key: 'contacts', title: 'Contacts', one: 'contact' },
    { key: 'members', title: 'Members', one: 'member', admin: true },
    { key: 'api-keys', title: 'API keys', one: 'API key', admin: true },
  ];

  // ---- wording -------------------------------------------------------

  const LABELS = {
    name: 'Name', timezone: 'Time zone', address: 'Address', site_id: 'Site', area_id: 'Area', unit_id: 'Unit',
    kind: 'Kind', safe_min_c: 'Safe minimum', safe_max_c: 'Safe maximum', external_id: 'Device ID', model: 'Model',
    unit_kind: 'Unit kind', threshold: 'Threshold', confirm_seconds: 'Confirm after (seconds)', hysteresis: 'Hysteresis',
    severity: 'Severity', auto_resolve: 'Resolve the alert by itself when readings are back in range', enabled: 'Enabled',
    steps: 'Steps', phone: 'Phone', email: 'Email', role: 'Role', on_shift: 'On shift', scopes: 'Allowed to',
  };
  const VALUE_LABELS = {
    temp_high: 'Temperature too high', temp_low: 'Temperature too low', sensor_offline: 'Sensor offline',
    battery_low: 'Battery low', sensor_fault: 'Sensor fault', walk_in: 'Walk-in', hot_holding: 'Hot holding',
    blast_chiller: 'Blast chiller', sms: 'SMS', email: 'Email', ingest: 'Send readings (ingest)', read: 'Read data',
  };
  const TEMP_KINDS = ['temp_high', 'temp_low'];
  // Escalation steps are a JSON array the OpenAPI document does not itemise;
  // these are the values alerting.ParseSteps accepts.
  const STEP_CHANNELS = ['sms', 'email'];
  const STEP_ROLES = ['viewer', 'staff', 'manager', 'admin', 'owner'];
  const REFS = { site_id: 'sites', area_id: 'areas', unit_id: 'units' };
  const META = new Set(['id', 'version', 'created_at', 'updated_at']);

  function human(s) {
    s = String(s).replace(/_id$/, '').replace(/_/g, ' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function valueLabel(v) { return VALUE_LABELS[v] || human(v); }
  function article(w) { return (/^[aeio]|^u(?!ni|s)|^API/i.test(w) ? 'an ' : 'a ') + w; }
  function titleOf(item, st) {
    if (st && item.kind && 'confirm_seconds' in item) {
      return valueLabel(item.kind) + ', ' + (item.unit_id ? refName(st, 'units', item.unit_id) : 'every ' + (item.unit_kind ? valueLabel(item.unit_kind).toLowerCase() : 'unit'));
    }
    return item.name || item.external_id || item.email || (item.kind ? valueLabel(item.kind) : '') || item.id;
  }
  function quoted(s) { return '“' + s + '”'; }
  function duration(sec) {
    if (sec === null || sec === undefined) return '–';
    if (sec < 60 || sec % 60) return sec + ' s';
    if (sec < 3600 || sec % 3600) return sec / 60 + ' min';
    return sec / 3600 + ' h';
  }
  function yes(b) { return b ? 'Yes' : 'No'; }
  let uidN = 0;
  function uid(p) { return (p || 'st') + '-' + (++uidN); }

  // Temperatures: the API speaks °C, people see the organisation's unit.
  // A value shown in °F is rounded to 0.1 and only sent back when edited.
  function showTemp(c) {
    if (c === null || c === undefined) return '';
    return F ? String(Math.round(FT.toDisplay(c) * 10) / 10) : String(c);
  }
  function readTemp(v) { return F ? Math.round(FT.toC(v) * 1000) / 1000 : v; }
  function showDelta(c) { return c === null || c === undefined ? '' : F ? String(Math.round(c * 9 / 5 * 10) / 10) : String(c); }
  function readDelta(v) { return F ? Math.round(v * 5 / 9 * 1000) / 1000 : v; }
  function range(u) { return FT.temp(u.safe_min_c) + ' to ' + FT.temp(u.safe_max_c); }

  // ---- the OpenAPI document -----------------------------------------

  let specP = null;
  function spec() {
    if (!specP) specP = api('GET', '/v1/openapi.json').catch((e) => { specP = null; throw e; });
    return specP;
  }
  function deref(doc, s) {
    while (s && s.$ref) s = s.$ref.split('/').slice(1).reduce((o, k) => (o ? o[k] : undefined), doc);
    return s;
  }
  function requestSchema(doc, path, method) {
    const op = ((doc.paths || {})[path] || {})[method];
    const c = op && op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    return c ? deref(doc, c.schema) : null;
  }
  // fields lists a request schema's writable properties in the section's
  // preferred order (unknown ones last), with their type and nullability.
  function fields(doc, schema, order) {
    if (!schema || !schema.properties) return [];
    const required = new Set(schema.required || []);
    const rank = (n) => { const i = (order || []).indexOf(n); return i < 0 ? 999 : i; };
    return Object.keys(schema.properties)
      .filter((n) => !META.has(n) && !deref(doc, schema.properties[n]).readOnly)
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
      .map((n) => {
        const s = deref(doc, schema.properties[n]);
        const types = [].concat(s.type || []);
        return { name: n, s, required: required.has(n), nullable: types.includes('null'), type: types.find((t) => t !== 'null') || 'string', items: deref(doc, s.items) };
      });
  }
  // kindDefaults reads "(fridge 5, freezer -18, ...)" from a description.
  function kindDefaults(desc) {
    const out = {};
    const m = /\(([^)]*)\)/.exec(desc || '');
    if (m) for (const part of m[1].split(',')) {
      const kv = /^\s*([a-z_]+)\s+(-?[0-9.]+)\s*$/.exec(part);
      if (kv) out[kv[1]] = Number(kv[2]);
    }
    return out;
  }

  // ---- form controls -------------------------------------------------

  const SKIP = Symbol('skip');

  function refLabel(refs, target, item) {
    const sites = refs.sites || [];
    if ((target === 'units' || target === 'areas') && sites.length > 1) {
      const site = sites.find((s) => s.id === item.site_id);
      if (site) return item.name + ' · ' + site.name;
    }
    return titleOf(item);
  }
  function noneLabel(name, sec) {
    if (name === 'site_id') return sec === 'escalation-policies' ? 'All sites (organisation default)' : 'All sites';
    if (name === 'unit_id') return sec === 'sensors' ? 'Unassigned' : sec === 'alert-rules' ? 'Every unit of a kind (organisation default)' : 'None';
    if (name === 'area_id') return 'No area';
    return '—';
  }
  function labelOf(f, cfg) { return (cfg.labels || {})[f.name] || LABELS[f.name] || human(f.name); }
  function hintOf(f, cfg, mode) {
    const hs = cfg.hints || {};
    const v = f.name in hs ? hs[f.name] : f.name === 'name' ? '' : undefined;
    if (typeof v === 'function') return v(mode);
    if (v !== undefined) return v;
    // The API's descriptions speak to programmers where they mention ids,
    // null or °C; those fields' inputs explain themselves.
    const d = f.s.description || '';
    return REFS[f.name] || f.s.format === 'uuid' || /°C|\bnull\b|\bid\b/.test(d) ? '' : d.charAt(0).toUpperCase() + d.slice(1);
  }

  // control builds one field's input from its schema; it reports the
  // input's state (raw, to tell an edit) and the value to send.
  function control(f, ctx) {
    const { mode, item, cfg } = ctx;
    const cur = item ? item[f.name] : undefined;
    const label = labelOf(f, cfg);
    const hint = hintOf(f, cfg, mode);
    const want = mode === 'create' && f.required;
    const c = { name: f.name, f };
    const empty = () => (mode === 'create' ? SKIP : (f.nullable ? null : SKIP));
    const textValue = (v) => (v === '' ? (mode === 'create' ? SKIP : (f.nullable ? null : '')) : v);

    if (REFS[f.name] || (f.s.format === 'uuid' && ctx.refs[f.name.replace(/_id$/, 's')])) {
      const target = REFS[f.name] || f.name.replace(/_id$/, 's');
      const sel = h('select', { name: f.name, required: want });
      c.options = (filter) => {
        const keep = sel.value || (cur || '');
        const opts = [];
        if (f.nullable) opts.push(h('option', { value: '' }, noneLabel(f.name, ctx.sec)));
        else if (!cur) opts.push(h('option', { value: '' }, 'Choose ' + article(human(f.name).toLowerCase()) + '…'));
        for (const r of (ctx.refs[target] || []).filter(filter || (() => true))) {
          opts.push(h('option', { value: r.id, selected: r.id === keep }, refLabel(ctx.refs, target, r)));
        }
        sel.replaceChildren(...opts);
        sel.value = opts.some((o) => o.value === keep) ? keep : '';
        // One site (or unit) to choose from: chosen already.
        if (!sel.value && !f.nullable && opts.length === 2) sel.value = opts[1].value;
      };
      c.options();
      c.input = sel;
      c.el = field(label, sel, hint);
      c.raw = () => sel.value;
      c.value = () => (sel.value === '' ? (mode === 'create' ? SKIP : (f.nullable ? null : SKIP)) : sel.value);
    } else if (f.s.enum) {
      const sel = h('select', { name: f.name, required: want });
      const def = (cfg.defaults || {})[f.name];
      const now = cur !== undefined ? cur : def;
      if (f.nullable || (mode === 'create' && now === undefined)) {
        sel.append(h('option', { value: '' }, f.nullable ? '—' : 'Choose…'));
      }
      for (const v of f.s.enum) sel.append(h('option', { value: v, selected: v === now }, valueLabel(v)));
      if (now !== undefined && now !== null) sel.value = now;
      c.input = sel;
      c.el = field(label, sel, hint);
      c.raw = () => sel.value;
      c.value = () => (sel.value === '' ? empty() : sel.value);
    } else if (f.type === 'boolean') {
      const def = (cfg.defaults || {})[f.name];
      const cb = h('input', { type: 'checkbox', name: f.name, id: uid('cb'), checked: cur !== undefined ? !!cur : !!def });
      c.input = cb;
      c.el = h('div', { class: 'field check' }, cb, h('label', { for: cb.id }, label), hint ? h('small', { class: 'muted' }, hint) : null);
      c.raw = () => String(cb.checked);
      c.value = () => cb.checked;
    } else if (f.type === 'number' || f.type === 'integer') {
      const kindOf = ctx.kindOf || (() => null);
      const isTemp = () => /_c$/.test(f.name) || (f.name === 'threshold' && TEMP_KINDS.includes(kindOf()));
      const isDelta = () => f.name === 'hysteresis' && TEMP_KINDS.includes(kindOf());
      const show = (v) => (v === null || v === undefined ? '' : isTemp() ? showTemp(v) : isDelta() ? showDelta(v) : String(v));
      const inp = h('input', {
        type: 'number', name: f.name, inputmode: f.type === 'integer' ? 'numeric' : 'decimal',
        step: f.type === 'integer' ? '1' : 'any', required: want, value: show(cur),
        placeholder: (cfg.placeholders || {})[f.name],
      });
      if (!isTemp() && f.name !== 'threshold' && !isDelta()) {
        if (f.s.minimum !== undefined) inp.min = f.s.minimum;
        if (f.s.maximum !== undefined) inp.max = f.s.maximum;
      }
      c.input = inp;
      c.el = field(label, inp, hint);
      c.isTemp = isTemp;
      c.isDelta = isDelta;
      c.raw = () => inp.value;
      c.value = () => {
        if (inp.value.trim() === '') return empty();
        const n = Number(inp.value);
        return isTemp() ? readTemp(n) : isDelta() ? readDelta(n) : n;
      };
    } else if (f.type === 'array' && f.name === 'steps') {
      stepsControl(c, f, ctx, label);
    } else if (f.type === 'array' && f.items && f.items.enum) {
      const def = (cfg.defaults || {})[f.name] || [];
      const now = Array.isArray(cur) ? cur : def;
      const boxes = f.items.enum.map((v) => h('input', { type: 'checkbox', id: uid('cb'), value: v, checked: now.includes(v) }));
      c.input = boxes[0];
      c.el = h('fieldset', { class: 'field group wide' }, h('legend', {}, label),
        boxes.map((b) => h('label', { for: b.id }, b, ' ', valueLabel(b.value))), hint ? h('small', { class: 'muted' }, hint) : null);
      c.raw = () => boxes.filter((b) => b.checked).map((b) => b.value).join(',');
      c.value = () => boxes.filter((b) => b.checked).map((b) => b.value);
    } else if (f.type === 'array' && (!f.items || f.items.type === 'string')) {
      const inp = h('input', { type: 'text', name: f.name, value: Array.isArray(cur) ? cur.join(', ') : '' });
      c.input = inp;
      c.el = field(label, inp, hint || 'Separate several with commas.');
      c.raw = () => inp.value;
      c.value = () => inp.value.split(',').map((s) => s.trim()).filter(Boolean);
    } else if (f.type === 'array' || f.type === 'object') {
      const ta = h('textarea', { name: f.name, rows: 5, spellcheck: 'false', placeholder: f.s.description || '' });
      ta.value = cur !== undefined && cur !== null ? JSON.stringify(cur, null, 2) : '';
      c.input = ta;
      c.el = field(label + ' (JSON)', ta, hint);
      c.el.classList.add('wide');
      c.raw = () => ta.value;
      c.value = () => {
        if (ta.value.trim() === '') return empty();
        try { return JSON.parse(ta.value); } catch (e) { throw new Error(label + ': not valid JSON (' + e.message + ')'); }
      };
    } else {
      const type = f.s.format === 'email' ? 'email' : f.name === 'phone' || /^\^\\\+/.test(f.s.pattern || '') ? 'tel' : 'text';
      const inp = h('input', {
        type, name: f.name, required: want, maxlength: f.s.maxLength, value: cur === null || cur === undefined ? '' : cur,
        placeholder: (cfg.placeholders || {})[f.name], autocomplete: type === 'email' ? 'email' : type === 'tel' ? 'tel' : 'off',
      });
      if (f.name === 'timezone') {
        if (mode === 'create' && !inp.value) inp.value = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
        const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
        if (zones.length) {
          const dl = h('datalist', { id: uid('tz') }, zones.map((z) => h('option', { value: z })));
          inp.setAttribute('list', dl.id);
          c.extra = dl;
        }
      }
      c.input = inp;
      c.el = field(label, inp, hint);
      if (c.extra) c.el.append(c.extra);
      c.raw = () => inp.value;
      c.value = () => textValue(inp.value.trim());
    }
    c.raw0 = c.raw();
    return c;
  }

  // stepsControl edits an escalation policy's steps: when (minutes after
  // the alert opened), how (channels) and whom (roles, contacts).
  function stepsControl(c, f, ctx, label) {
    const cur = ctx.item && Array.isArray(ctx.item.steps) ? ctx.item.steps : null;
    const steps = cur ? JSON.parse(JSON.stringify(cur)) : [{ after_minutes: 0, channels: ['sms'], roles: ['staff'], contact_ids: [] }];
    const list = h('ol', { class: 'steps' });
    const contacts = ctx.refs.contacts || [];
    const toggle = (arr, v, on) => { const i = arr.indexOf(v); if (on && i < 0) arr.push(v); if (!on && i >= 0) arr.splice(i, 1); };
    function checks(legend, values, arr, labelFn) {
      return h('fieldset', { class: 'group' }, h('legend', {}, legend), values.map((v) => {
        const cb = h('input', { type: 'checkbox', id: uid('cb'), checked: arr.includes(v), onchange: () => toggle(arr, v, cb.checked) });
        return h('label', { for: cb.id }, cb, ' ', labelFn(v));
      }));
    }
    function render(focusIndex) {
      list.replaceChildren(...steps.map((s, i) => {
        s.channels = s.channels || []; s.roles = s.roles || []; s.contact_ids = s.contact_ids || [];
        const mins = h('input', {
          type: 'number', min: 0, step: 1, inputmode: 'numeric', value: String(s.after_minutes ?? 0), disabled: i === 0,
          oninput: () => { s.after_minutes = mins.value === '' ? null : Number(mins.value); },
        });
        const rm = steps.length > 1 ? h('button', { type: 'button', class: 'secondary small', onclick: () => { steps.splice(i, 1); render(Math.max(0, i - 1)); } }, 'Remove step ' + (i + 1)) : null;
        return h('li', { class: 'step' },
          h('h4', {}, 'Step ' + (i + 1)),
          field('Minutes after the alert opens', mins, i === 0 ? 'The first step goes out when the alert opens.' : 'If the alert is still not acknowledged by then.'),
          checks('Send by', STEP_CHANNELS, s.channels, valueLabel),
          checks('To contacts on shift with role', STEP_ROLES, s.roles, human),
          contacts.length ? checks('And these contacts', contacts.map((x) => x.id), s.contact_ids, (id) => titleOf(contacts.find((x) => x.id === id))) : null,
          rm);
      }));
      if (focusIndex !== undefined) {
        const el = list.children[focusIndex] && list.children[focusIndex].querySelector('input:not([disabled]), button');
        if (el) el.focus();
      }
    }
    render();
    const add = h('button', {
      type: 'button', class: 'secondary small', onclick: () => {
        const last = steps[steps.length - 1];
        steps.push({ after_minutes: (last ? Number(last.after_minutes) || 0 : 0) + 15, channels: ['sms'], roles: ['manager'], contact_ids: [] });
        render(steps.length - 1);
      },
    }, 'Add a step');
    c.input = list;
    c.el = h('fieldset', { class: 'field group wide steps-editor' }, h('legend', {}, label),
      h('small', { class: 'muted' }, 'Who is told when an alert opens, and who next while nobody acknowledges it.'), list, add);
    c.raw = () => JSON.stringify(steps);
    c.value = () => steps.map((s) => ({ after_minutes: s.after_minutes, channels: s.channels, roles: s.roles, contact_ids: s.contact_ids }));
  }

  // buildForm builds the inputs of a create or edit form, with the
  // dependencies between them (areas of the chosen site; an alert rule's
  // threshold unit by its kind; a unit kind's default safe range).
  function buildForm(flds, ctx) {
    const byName = {};
    ctx.kindOf = () => (byName.kind ? byName.kind.input.value : ctx.item && ctx.item.kind);
    const controls = flds.map((f) => (byName[f.name] = control(f, ctx)));
    if (byName.site_id && byName.area_id && byName.area_id.options) {
      const sync = () => byName.area_id.options((a) => !byName.site_id.input.value || a.site_id === byName.site_id.input.value);
      byName.site_id.input.addEventListener('change', sync);
      sync();
      byName.area_id.raw0 = byName.area_id.raw();
    }
    if (ctx.cfg.onKind && byName.kind) {
      const upd = () => ctx.cfg.onKind(byName, ctx);
      byName.kind.input.addEventListener('change', upd);
      upd();
    }
    return { controls, byName };
  }

  // collect is the body to send: on create every filled-in field, on an
  // edit only what changed (and what a changed field's meaning rests on).
  function collect(form, mode) {
    const body = {};
    const changed = (c) => c.raw() !== c.raw0;
    for (const c of form.controls) {
      if (mode === 'edit' && !changed(c) && !((c.dependsOn || []).some((n) => form.byName[n] && changed(form.byName[n])))) continue;
      const v = c.value(mode);
      if (v !== SKIP) body[c.name] = v;
    }
    return body;
  }

  // ---- sections ------------------------------------------------------

  function setLabel(c, text, hint) {
    const l = c.el.querySelector('label');
    if (l) l.textContent = text;
    let small = c.el.querySelector('small');
    if (!small && hint) { small = h('small', { class: 'muted' }); c.el.append(small); }
    if (small) small.textContent = hint || '';
  }

  const refName = (st, list, id, none) => {
    if (!id) return none || '–';
    const r = (st.refs[list] || []).find((x) => x.id === id);
    return r ? titleOf(r) : 'unknown';
  };

  const RES = {
    sites: {
      intro: 'Each site is a kitchen or premises with its own time zone; reports use its local days.',
      order: ['name', 'timezone', 'address'],
      placeholders: { name: 'Harbour Kitchen', address: 'Street, town' },
      hints: { timezone: 'IANA time zone, e.g. Europe/Berlin or America/New_York.' },
      columns: () => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Time zone', cell: (i) => i.timezone },
        { label: 'Address', cell: (i) => i.address || '–' },
      ],
    },
    areas: {
      intro: 'Areas group the units of a site, e.g. Kitchen, Storage or Front.',
      order: ['site_id', 'name'],
      placeholders: { name: 'Cold room' },
      hints: { name: '' },
      columns: (st) => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Site', cell: (i) => refName(st, 'sites', i.site_id) },
      ],
    },
    units: {
      intro: 'Fridges, freezers, hot holding: each keeps food within its safe range. Alerts follow the range unless a rule sets its own threshold.',
      order: ['name', 'site_id', 'area_id', 'kind', 'safe_min_c', 'safe_max_c'],
      labels: { safe_min_c: 'Safe minimum (' + UNIT + ')', safe_max_c: 'Safe maximum (' + UNIT + ')' },
      placeholders: { name: 'Prep fridge 2' },
      hints: { name: '', safe_min_c: (m) => (m === 'create' ? 'Empty: the default for the kind.' : ''), safe_max_c: (m) => (m === 'create' ? 'Empty: the default for the kind.' : '') },
      onKind: (c, ctx) => {
        if (ctx.mode !== 'create') return;
        for (const n of ['safe_min_c', 'safe_max_c']) {
          if (!c[n]) continue;
          const d = kindDefaults(c[n].f.s.description)[c.kind.input.value];
          c[n].input.placeholder = d === undefined ? '' : showTemp(d);
          setLabel(c[n], labelOf(c[n].f, ctx.cfg), c.kind.input.value && d === undefined ? 'Required for this kind.' : 'Empty: the default for the kind' + (d === undefined ? '.' : ' (' + FT.temp(d) + ').'));
        }
      },
      columns: (st) => [
        { label: 'Name', cell: (i) => link('/units/' + i.id, i.name) },
        { label: 'Site', cell: (i) => refName(st, 'sites', i.site_id) },
        { label: 'Area', cell: (i) => refName(st, 'areas', i.area_id) },
        { label: 'Kind', cell: (i) => valueLabel(i.kind) },
        { label: 'Safe range', cell: range },
      ],
    },
    sensors: {
      intro: 'Assign each sensor to the unit it measures. A retired sensor stops counting for its unit; its readings are kept.',
      order: ['external_id', 'name', 'model', 'unit_id'],
      labels: { external_id: 'Device ID (serial or DevEUI)' },
      hints: { external_id: 'As printed on the device; unique in the organisation.' },
      placeholders: { external_id: 'A84041000181C1F5', model: 'LHT65N' },
      needs: ['sites'],
      retire: true,
      columns: (st, sec) => [
        { label: 'Sensor', cell: (i) => [i.name || '–', h('br'), h('small', { class: 'muted' }, i.external_id)] },
        { label: 'Unit', cell: (i) => (i.retired_at ? refName(st, 'units', i.unit_id, 'Unassigned') : sec.assign(i)) },
        { label: 'Model', cell: (i) => i.model || '–' },
        { label: 'Battery', num: true, cell: (i) => (i.battery === null || i.battery === undefined ? '–' : Math.round(i.battery) + ' %') },
        { label: 'Last seen', cell: (i) => (i.retired_at ? h('span', { class: 'chip s-offline' }, 'Retired ' + FT.when(i.retired_at)) : FT.ago(i.last_seen_at)) },
      ],
    },
    'alert-rules': {
      intro: 'A rule watches one unit, or is the default for every unit of a kind. The unit’s own rule wins over the default.',
      order: ['unit_id', 'unit_kind', 'kind', 'threshold', 'confirm_seconds', 'hysteresis', 'severity', 'auto_resolve', 'enabled'],
      labels: { kind: 'Alert when', unit_kind: 'Unit kind (for a default rule)' },
      defaults: { enabled: true, severity: 'warning' },
      placeholders: { confirm_seconds: '600', hysteresis: showDelta(0.5) },
      hints: {
        unit_id: '', unit_kind: 'Only for a rule without a unit.', confirm_seconds: 'How long the condition must hold before an alert opens (600 = 10 min).',
        auto_resolve: '', enabled: '',
      },
      onKind: (c) => {
        const k = c.kind.input.value;
        const temp = TEMP_KINDS.includes(k);
        if (c.threshold) {
          c.threshold.dependsOn = ['kind'];
          const side = k === 'temp_low' ? 'minimum' : 'maximum';
          const [lab, hint] = temp ? ['Threshold (' + UNIT + ')', 'Empty: follow the unit’s safe ' + side + '.']
            : k === 'sensor_offline' ? ['Threshold (minutes)', 'Minutes without a reading before the sensor counts as offline.']
              : k === 'battery_low' ? ['Threshold (%)', 'Battery level below which to alert.']
                : k === 'sensor_fault' ? ['Threshold', 'Not used for sensor faults.'] : ['Threshold', ''];
          setLabel(c.threshold, lab, hint);
        }
        if (c.hysteresis) {
          c.hysteresis.dependsOn = ['kind'];
          setLabel(c.hysteresis, temp ? 'Hysteresis (' + UNIT + ')' : 'Hysteresis',
            temp ? 'How far back inside the threshold readings must be before the condition clears.' : '');
        }
      },
      columns: (st) => [
        { label: 'Applies to', cell: (i) => (i.unit_id ? refName(st, 'units', i.unit_id) : 'Every ' + (i.unit_kind ? valueLabel(i.unit_kind).toLowerCase() : 'unit') + ' (default)') },
        { label: 'Alert when', cell: (i) => valueLabel(i.kind) },
        { label: 'Threshold', cell: thresholdText },
        { label: 'Confirm', cell: (i) => duration(i.confirm_seconds) },
        { label: 'Severity', cell: (i) => (i.severity ? h('span', { class: 'chip s-' + i.severity }, human(i.severity)) : '–') },
        { label: 'Enabled', cell: (i) => yes(i.enabled) },
      ],
    },
    'escalation-policies': {
      intro: 'Who is notified, and when, while an alert stays unacknowledged. A site’s own policy wins over the organisation default.',
      order: ['name', 'site_id', 'steps'],
      placeholders: { name: 'Night shift' },
      hints: { site_id: '', name: '' },
      needs: ['contacts'],
      columns: (st) => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Site', cell: (i) => refName(st, 'sites', i.site_id, 'All sites (default)') },
        { label: 'Steps', cell: (i) => h('ol', { class: 'compact' }, (i.steps || []).map((s) => h('li', {}, stepText(st, s)))) },
      ],
    },
    contacts: {
      intro: 'People escalation steps notify by SMS or email. A contact needs a phone number or an email address.',
      order: ['name', 'site_id', 'role', 'phone', 'email', 'on_shift'],
      defaults: { on_shift: true, role: 'staff' },
      placeholders: { name: 'Sam Cook', phone: '+4915112345678', email: 'sam@example.com' },
      hints: { phone: 'International form, e.g. +4915112345678.', role: 'Steps that notify a role reach its contacts on shift.', site_id: '', name: '' },
      columns: (st) => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Site', cell: (i) => refName(st, 'sites', i.site_id, 'All sites') },
        { label: 'Role', cell: (i) => (i.role ? human(i.role) : '–') },
        { label: 'Phone', cell: (i) => i.phone || '–' },
        { label: 'Email', cell: (i) => i.email || '–' },
        { label: 'On shift', cell: (i) => yes(i.on_shift) },
      ],
    },
  };

  function thresholdText(i) {
    if (TEMP_KINDS.includes(i.kind)) {
      return i.threshold === null || i.threshold === undefined ? 'Unit’s safe ' + (i.kind === 'temp_low' ? 'min' : 'max') : FT.temp(i.threshold);
    }
    if (i.threshold === null || i.threshold === undefined) return '–';
    if (i.kind === 'sensor_offline') return i.threshold + ' min';
    if (i.kind === 'battery_low') return i.threshold + ' %';
    return String(i.threshold);
  }
  function stepText(st, s) {
    const who = (s.roles || []).map(human).concat((s.contact_ids || []).map((id) => refName(st, 'contacts', id)));
    return (s.after_minutes ? 'After ' + s.after_minutes + ' min' : 'At once') + ': ' +
      (s.channels || []).map(valueLabel).join(' + ') + ' to ' + (who.join(', ') || 'nobody');
  }

  // table is a section's list; actions gives each row's buttons.
  function table(path, cols, items, actions, empty) {
    // On a phone each row stacks into a card whose cells carry their
    // column's name (data-label, shown by app.css).
    return h('div', { class: 'scroll' }, h('table', { 'data-section': path, class: 'stack' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)), h('th', { scope: 'col' }, h('span', { class: 'sr' }, 'Actions')))),
      h('tbody', {}, items.length ? items.map((it) => h('tr', { 'data-id': it.id, class: it.retired_at || it.revoked_at ? 'retired' : null },
        cols.map((c) => h('td', { class: c.num ? 'num' : null, 'data-label': c.label }, h('div', {}, c.cell(it)))), h('td', { class: 'acts' }, actions(it))))
        : h('tr', {}, h('td', { colspan: cols.length + 1, class: 'muted' }, empty)))));
  }

  // confirmIn asks in place (no browser dialog) before a destructive act.
  function confirmIn(cell, question, yesLabel, act) {
    const before = [...cell.childNodes];
    const restore = () => { cell.replaceChildren(...before); const b = cell.querySelector('[data-action=delete]') || cell.querySelector('button'); if (b) b.focus(); };
    const yesBtn = h('button', { type: 'button', class: 'danger small', 'data-action': 'confirm', onclick: () => guard(yesBtn, act) }, yesLabel);
    const noBtn = h('button', { type: 'button', class: 'secondary small', onclick: restore }, 'Cancel');
    cell.replaceChildren(h('div', { class: 'row-actions confirming' }, h('span', { class: 'confirm', role: 'alert' }, question), yesBtn, noBtn));
    noBtn.focus();
  }

  function submitButton(text) { return h('button', { type: 'submit', class: 'primary' }, text); }
  function focusIn(el) { const x = el && el.querySelector('input:not([type=hidden]):not([disabled]), select, textarea'); if (x) x.focus(); }

  async function resourceSection(box, sec, heading) {
    const cfg = RES[sec.key] || {};
    const doc = await spec();
    const base = '/v1/orgs/{org}/' + sec.key;
    const createFields = fields(doc, requestSchema(doc, base, 'post'), cfg.order);
    const editFields = fields(doc, requestSchema(doc, base + '/{id}', 'patch'), cfg.order);
    const needs = new Set(cfg.needs || []);
    for (const f of createFields.concat(editFields)) if (REFS[f.name]) needs.add(REFS[f.name]);
    needs.delete(sec.key);
    const st = { items: [], refs: {}, showRetired: false };
    const listBox = h('div');
    const editBox = h('div');
    const createBox = h('div');
    box.append(cfg.intro ? h('p', { class: 'muted intro' }, cfg.intro) : null,
      createFields.length ? h('p', { class: 'jump' }, h('a', { href: '#create-' + sec.key }, 'Add ' + article(sec.one) + ' ↓')) : null,
      listBox, editBox, createBox);

    async function load() {
      const names = [...needs];
      const [items, ...lists] = await Promise.all([all(sec.key), ...names.map((n) => all(n))]);
      names.forEach((n, i) => { st.refs[n] = lists[i].slice().sort(byTitle); });
      st.items = items.slice().sort(byTitle);
      if (sec.key === 'alert-rules' || sec.key === 'escalation-policies') st.items = items; // their order is the API's
      if (cfg.retire) st.items.sort((a, b) => (a.retired_at ? 1 : 0) - (b.retired_at ? 1 : 0));
    }
    const ctx = (mode, item) => ({ mode, item, refs: st.refs, sec: sec.key, cfg });
    const tt = (item) => titleOf(item, st);

    sec.assign = (item) => {
      const sel = h('select', { id: uid('as'), 'data-action': 'assign' }, h('option', { value: '' }, 'Unassigned'),
        (st.refs.units || []).map((u) => h('option', { value: u.id, selected: u.id === item.unit_id }, refLabel(st.refs, 'units', u))));
      const btn = h('button', { type: 'button', class: 'secondary small', hidden: true, 'data-action': 'assign-save' }, 'Assign');
      sel.addEventListener('change', () => { btn.hidden = sel.value === (item.unit_id || ''); });
      btn.addEventListener('click', () => guard(btn, async () => {
        await api('PATCH', 'sensors/' + item.id, { unit_id: sel.value || null, version: item.version });
        toast(tt(item) + (sel.value ? ' now measures ' + refName(st, 'units', sel.value) : ' is unassigned') + '.');
        await refresh();
        const again = listBox.querySelector('tr[data-id="' + item.id + '"] select');
        if (again) again.focus();
      }));
      return h('div', { class: 'assign' }, h('label', { class: 'sr', for: sel.id }, 'Unit for ' + tt(item)), sel, btn);
    };

    function renderList() {
      const items = cfg.retire && !st.showRetired ? st.items.filter((i) => !i.retired_at) : st.items;
      const retired = st.items.filter((i) => i.retired_at).length;
      const toggle = cfg.retire && retired ? h('div', { class: 'field check' },
        h('input', { type: 'checkbox', id: 'show-retired', checked: st.showRetired, onchange: (e) => { st.showRetired = e.target.checked; renderList(); document.getElementById('show-retired').focus(); } }),
        h('label', { for: 'show-retired' }, 'Show retired sensors (' + retired + ')')) : null;
      listBox.replaceChildren(toggle || '', table(sec.key, (cfg.columns || defaultColumns(editFields))(st, sec), items, rowActions, 'No ' + sec.title.toLowerCase() + ' yet.'));
    }
    function rowActions(item) {
      if (item.retired_at) return '';
      const cell = h('div', { class: 'row-actions' });
      const name = tt(item);
      const edit = h('button', { type: 'button', class: 'secondary small', 'data-action': 'edit', 'aria-expanded': 'false', onclick: () => openEdit(item) },
        'Edit', h('span', { class: 'sr' }, ' ' + name));
      const del = h('button', {
        type: 'button', class: 'danger small', 'data-action': 'delete',
        onclick: () => confirmIn(cell, (cfg.retire ? 'Retire ' : 'Delete ') + quoted(name) + '?', cfg.retire ? 'Yes, retire' : 'Yes, delete', async () => {
          await api('DELETE', sec.key + '/' + item.id);
          toast(human(sec.one) + ' ' + quoted(name) + (cfg.retire ? ' retired.' : ' deleted.'));
          if (editBox.dataset.id === item.id) closeEdit();
          await refresh();
          heading.focus();
        }),
      }, cfg.retire ? 'Retire' : 'Delete', h('span', { class: 'sr' }, ' ' + name));
      cell.append(edit, del);
      return cell;
    }
    function closeEdit() { editBox.replaceChildren(); delete editBox.dataset.id; }
    function focusRow(id, action) {
      const b = listBox.querySelector('tr[data-id="' + id + '"] [data-action="' + action + '"]');
      if (b) b.focus();
    }
    function openEdit(item) {
      const form = buildForm(editFields, ctx('edit', item));
      const save = submitButton('Save changes');
      const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { closeEdit(); focusRow(item.id, 'edit'); } }, 'Cancel');
      const el = h('form', { id: 'edit-' + sec.key, 'data-id': item.id, class: 'card editing', novalidate: true },
        h('h3', {}, 'Edit ' + sec.one + ' ' + quoted(tt(item))),
        h('div', { class: 'grid2' }, form.controls.map((c) => c.el)),
        h('div', { class: 'actions' }, save, cancel));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(save, async () => {
          const body = collect(form, 'edit');
          if (!Object.keys(body).length) { toast('Nothing changed.'); closeEdit(); focusRow(item.id, 'edit'); return; }
          body.version = item.version;
          let saved;
          try {
            saved = await api('PATCH', sec.key + '/' + item.id, body);
          } catch (err) {
            if (err.status === 412) {
              await refresh();
              closeEdit();
              err.message = 'Someone else changed ' + sec.one + ' ' + quoted(tt(item)) + ' meanwhile. The list now shows the latest version; make your change again.';
            }
            throw err;
          }
          toast(human(sec.one) + ' ' + quoted(tt(saved || item)) + ' saved.');
          closeEdit();
          await refresh();
          focusRow(item.id, 'edit');
        });
      });
      editBox.replaceChildren(el);
      editBox.dataset.id = item.id;
      el.scrollIntoView({ block: 'nearest' });
      focusIn(el);
    }
    function renderCreate() {
      if (!createFields.length) { createBox.replaceChildren(); return; }
      const form = buildForm(createFields, ctx('create', null));
      const add = submitButton('Add ' + sec.one);
      const el = h('form', { id: 'create-' + sec.key, class: 'card' },
        h('h3', {}, 'Add ' + article(sec.one)),
        h('div', { class: 'grid2' }, form.controls.map((c) => c.el)),
        h('div', { class: 'actions' }, add));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(add, async () => {
          const body = collect(form, 'create');
          const made = await api('POST', sec.key, body);
          toast(human(sec.one) + ' ' + quoted(tt(made || body)) + ' added.');
          await refresh();
          renderCreate();
          focusIn(createBox);
        });
      });
      createBox.replaceChildren(el);
    }
    async function refresh() { await load(); renderList(); }

    await load();
    renderList();
    renderCreate();
  }

  function byTitle(a, b) { return String(titleOf(a)).localeCompare(String(titleOf(b))); }
  function defaultColumns(flds) {
    return () => flds.slice(0, 4).map((f) => ({ label: LABELS[f.name] || human(f.name), cell: (i) => (i[f.name] === null || i[f.name] === undefined ? '–' : typeof i[f.name] === 'object' ? JSON.stringify(i[f.name]) : String(i[f.name])) }));
  }

  // ---- members -------------------------------------------------------

  function roleOptions(doc, path, method) {
    const s = requestSchema(doc, path, method);
    const r = s && s.properties && deref(doc, s.properties.role);
    const roles = (r && r.enum) || STEP_ROLES;
    // Only an owner may make someone an owner (the API refuses others).
    return roles.filter((x) => x !== 'owner' || D.role === 'owner');
  }

  async function membersSection(box, sec, heading) {
    const doc = await spec();
    const base = '/v1/orgs/{org}/members';
    const addRoles = roleOptions(doc, base, 'post');
    const setRoles = roleOptions(doc, base + '/{id}', 'patch');
    const listBox = h('div');
    const createBox = h('div');
    box.append(h('p', { class: 'muted intro' }, 'People who can sign in to ' + D.org.name + ', and what they may do: viewers look, staff log checks and handle alerts, managers run settings, admins also manage members and API keys.'), listBox, createBox);
    const me = D.user && D.user.id;

    async function refresh() {
      const items = (await all('members')).sort((a, b) => STEP_ROLES.indexOf(b.role) - STEP_ROLES.indexOf(a.role) || String(a.name || a.email).localeCompare(String(b.name || b.email)));
      const cols = [
        { label: 'Name', cell: (m) => [m.name || '–', m.id === me ? h('span', { class: 'muted' }, ' (you)') : null] },
        { label: 'Email', cell: (m) => m.email || '–' },
        { label: 'Role', cell: roleCell },
      ];
      listBox.replaceChildren(table('members', cols, items, memberActions, 'No members.'));
    }
    function locked(m) { return m.id === me || (m.role === 'owner' && D.role !== 'owner'); }
    function roleCell(m) {
      if (locked(m)) return human(m.role);
      const sel = h('select', { id: uid('role'), 'data-action': 'role' }, setRoles.concat(setRoles.includes(m.role) ? [] : [m.role]).map((r) => h('option', { value: r, selected: r === m.role }, human(r))));
      const btn = h('button', { type: 'button', class: 'secondary small', hidden: true, 'data-action': 'role-save' }, 'Change role');
      sel.addEventListener('change', () => { btn.hidden = sel.value === m.role; });
      btn.addEventListener('click', () => guard(btn, async () => {
        await api('PATCH', 'members/' + m.id, { role: sel.value });
        toast((m.name || m.email) + ' is now ' + sel.value + '.');
        await refresh();
        const again = listBox.querySelector('tr[data-id="' + m.id + '"] select');
        if (again) again.focus();
      }));
      return h('div', { class: 'assign' }, h('label', { class: 'sr', for: sel.id }, 'Role of ' + (m.name || m.email)), sel, btn);
    }
    function memberActions(m) {
      if (locked(m)) return '';
      const cell = h('div', { class: 'row-actions' });
      const who = m.name || m.email;
      cell.append(h('button', {
        type: 'button', class: 'danger small', 'data-action': 'delete',
        onclick: () => confirmIn(cell, 'Remove ' + who + ' from ' + D.org.name + '?', 'Yes, remove', async () => {
          await api('DELETE', 'members/' + m.id);
          toast(who + ' removed.');
          await refresh();
          heading.focus();
        }),
      }, 'Remove', h('span', { class: 'sr' }, ' ' + who)));
      return cell;
    }
    function renderCreate() {
      const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off', placeholder: 'chef@example.com' });
      const role = h('select', { name: 'role' }, addRoles.map((r) => h('option', { value: r, selected: r === 'staff' }, human(r))));
      const add = submitButton('Add member');
      const el = h('form', { id: 'create-members', class: 'card' }, h('h3', {}, 'Add a member'),
        h('div', { class: 'grid2' }, field('Email', email, 'They must have signed in to FreshTrack once.'), field('Role', role)),
        h('div', { class: 'actions' }, add));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(add, async () => {
          const m = await api('POST', 'members', { email: email.value.trim(), role: role.value });
          toast(((m && (m.name || m.email)) || email.value) + ' added as ' + role.value + '.');
          await refresh();
          renderCreate();
          focusIn(createBox);
        });
      });
      createBox.replaceChildren(el);
    }
    await refresh();
    renderCreate();
  }

  // ---- API keys ------------------------------------------------------

  async function copyText(text, code) {
    try {
      await navigator.clipboard.writeText(text);
      toast('Key copied.');
    } catch (e) {
      const r = document.createRange();
      r.selectNodeContents(code);
      const s = getSelection();
      s.removeAllRanges();
      s.addRange(r);
      toast('Copying is blocked here: the key is selected, press Ctrl+C (or long-press) to copy it.', 'error');
    }
  }

  async function apiKeysSection(box, sec, heading) {
    const doc = await spec();
    const base = '/v1/orgs/{org}/api-keys';
    const cfg = { order: ['name', 'scopes'], defaults: { scopes: ['ingest'] }, placeholders: { name: 'Gateway, back kitchen' }, hints: { name: '', scopes: 'Gateways only need to send readings.' } };
    const createFields = fields(doc, requestSchema(doc, base, 'post'), cfg.order);
    const editFields = fields(doc, requestSchema(doc, base + '/{id}', 'patch'), cfg.order);
    const secretBox = h('div');
    const listBox = h('div');
    const editBox = h('div');
    const createBox = h('div');
    box.append(h('p', { class: 'muted intro' }, 'Keys let gateways and scripts send readings or read data without a person signing in. A key is shown once, when it is made; revoke a key that may have leaked.'),
      secretBox, listBox, editBox, createBox);
    const ctx = (mode, item) => ({ mode, item, refs: {}, sec: 'api-keys', cfg });

    async function refresh() {
      const items = await all('api-keys');
      items.sort((a, b) => (a.revoked_at ? 1 : 0) - (b.revoked_at ? 1 : 0));
      const cols = [
        { label: 'Name', cell: (k) => k.name },
        { label: 'Key', cell: (k) => h('code', {}, k.prefix + '_…') },
        { label: 'Allowed to', cell: (k) => (k.scopes || []).map(valueLabel).join(', ') },
        { label: 'Created', cell: (k) => FT.when(k.created_at) },
        { label: 'Last used', cell: (k) => (k.last_used_at ? FT.ago(k.last_used_at) : 'never') },
        { label: 'Status', cell: (k) => (k.revoked_at ? h('span', { class: 'chip s-offline' }, 'Revoked ' + FT.when(k.revoked_at)) : h('span', { class: 'chip s-ok' }, 'Active')) },
      ];
      listBox.replaceChildren(table('api-keys', cols, items, keyActions, 'No API keys yet.'));
    }
    function keyActions(k) {
      if (k.revoked_at) return '';
      const cell = h('div', { class: 'row-actions' });
      const rename = h('button', { type: 'button', class: 'secondary small', 'data-action': 'edit', onclick: () => openRename(k) }, 'Rename', h('span', { class: 'sr' }, ' ' + k.name));
      const revoke = h('button', {
        type: 'button', class: 'danger small', 'data-action': 'delete',
        onclick: () => confirmIn(cell, 'Revoke ' + quoted(k.name) + '? Devices using it are refused within seconds.', 'Yes, revoke', async () => {
          await api('DELETE', 'api-keys/' + k.id);
          toast('API key ' + quoted(k.name) + ' revoked.');
          editBox.replaceChildren();
          await refresh();
          heading.focus();
        }),
      }, 'Revoke', h('span', { class: 'sr' }, ' ' + k.name));
      cell.append(rename, revoke);
      return cell;
    }
    function openRename(k) {
      const form = buildForm(editFields, ctx('edit', k));
      const save = submitButton('Save');
      const back = () => { const b = listBox.querySelector('tr[data-id="' + k.id + '"] [data-action="edit"]'); if (b) b.focus(); };
      const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { editBox.replaceChildren(); back(); } }, 'Cancel');
      const el = h('form', { id: 'edit-api-keys', 'data-id': k.id, class: 'card editing', novalidate: true }, h('h3', {}, 'Rename API key ' + quoted(k.name)),
        h('div', { class: 'grid2' }, form.controls.map((c) => c.el)), h('div', { class: 'actions' }, save, cancel));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(save, async () => {
          const body = collect(form, 'edit');
          if (Object.keys(body).length) {
            await api('PATCH', 'api-keys/' + k.id, body);
            toast('API key renamed.');
          }
          editBox.replaceChildren();
          await refresh();
          back();
        });
      });
      editBox.replaceChildren(el);
      focusIn(el);
    }
    function showSecret(made) {
      const code = h('code', { class: 'secret', 'data-key': '' }, made.key);
      const copy = h('button', { type: 'button', class: 'primary', onclick: () => copyText(made.key, code) }, 'Copy key');
      const done = h('button', { type: 'button', class: 'secondary', onclick: () => { secretBox.replaceChildren(); heading.focus(); } }, 'I have stored it');
      const card = h('section', { class: 'card newkey', 'aria-labelledby': 'newkey-h', tabindex: '-1' },
        h('h3', { id: 'newkey-h' }, 'New API key ' + quoted(made.name)),
        h('p', { class: 'warn' }, h('strong', {}, 'Copy this key now. '), 'It will not be shown again: FreshTrack keeps only its prefix (' + made.prefix + '). If it is lost, make a new one and revoke this.'),
        code, h('div', { class: 'actions' }, copy, done));
      secretBox.replaceChildren(card);
      card.focus();
    }
    function renderCreate() {
      const form = buildForm(createFields, ctx('create', null));
      const add = submitButton('Create key');
      const el = h('form', { id: 'create-api-keys', class: 'card' }, h('h3', {}, 'Create an API key'),
        h('div', { class: 'grid2' }, form.controls.map((c) => c.el)), h('div', { class: 'actions' }, add));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(add, async () => {
          const made = await api('POST', 'api-keys', collect(form, 'create'));
          await refresh();
          renderCreate();
          showSecret(made);
        });
      });
      createBox.replaceChildren(el);
    }
    await refresh();
    renderCreate();
  }

  // ---- the page ------------------------------------------------------

  FT.pages.settings = async function (main) {
    const wrap = h('div', { class: 'settings' });
    main.replaceChildren(wrap);
    if (!D.can.manage) {
      wrap.append(h('h1', {}, 'Settings'), h('p', { class: 'card' }, 'Settings are for managers and admins of ' + D.org.name + '. Ask an admin if you need to change something.'));
      return;
    }
    const visible = SECTIONS.filter((s) => !s.admin || D.can.administer);
    const key = (D.params && D.params.section) || 'sites';
    const sec = visible.find((s) => s.key === key);
    const menu = h('nav', { class: 'subnav', 'aria-label': 'Settings sections' }, h('ul', {}, visible.map((s) => {
      const a = link('/settings/' + s.key, s.title);
      if (sec && s.key === sec.key) a.setAttribute('aria-current', 'page');
      return h('li', {}, a);
    })));
    wrap.append(h('h1', {}, 'Settings'), menu);
    if (!sec) {
      const admin = SECTIONS.find((s) => s.key === key && s.admin);
      wrap.append(h('p', { class: 'card' }, admin ? admin.title + ' are managed by admins of ' + D.org.name + '.' : 'There is no settings section ' + quoted(key) + '.'));
      return;
    }
    document.title = sec.title + ' · Settings · ' + D.org.name;
    const heading = h('h2', { tabindex: '-1' }, sec.title);
    const box = h('section', { class: 'section', 'aria-labelledby': 'sec-h' });
    heading.id = 'sec-h';
    box.append(heading);
    wrap.append(box);
    const loading = h('p', { class: 'muted' }, 'Loading…');
    box.append(loading);
    try {
      if (sec.key === 'members') await membersSection(box, sec, heading);
      else if (sec.key === 'api-keys') await apiKeysSection(box, sec, heading);
      else await resourceSection(box, sec, heading);
    } finally {
      loading.remove();
    }
  };
})();

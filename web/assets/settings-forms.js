// Settings, the form kit: wording, the OpenAPI document's request schemas,
// the controls and forms built from them, and the list and confirm helpers
// every settings section uses. It is shared as FT.settingsKit; the
// sections themselves are in settings-people.js and settings.js.
'use strict';
(function () {
  const { h, api, field, guard } = FT;
  const F = FT.FAHRENHEIT;

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
    battery_low: 'Battery low', sensor_fault: 'Sensor fault', trend_warning: 'Trend heading out of range (early warning)',
    defrost: 'Defrost outside its learned pattern', door_open: 'Door left open', time_out_of_temp: 'Time out of range per day',
    cooling: 'Cooling behind schedule (2-stage rule)', manual_log_missed: 'Manual check missed', calibration_due: 'Calibration due',
    sensor_implausible: 'Implausible readings (stuck or jumping)', walk_in: 'Walk-in', hot_holding: 'Hot holding',
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
      const isDelta = () => (f.name === 'hysteresis' && TEMP_KINDS.includes(kindOf())) || (f.name === 'threshold' && FT.kinds.thresholdIsDelta(kindOf()));
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

  // ---- lists and confirmations ---------------------------------------

  function refName(st, list, id, none) {
    if (!id) return none || '–';
    const r = (st.refs[list] || []).find((x) => x.id === id);
    return r ? titleOf(r) : 'unknown';
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

  FT.settingsKit = {
    LABELS, TEMP_KINDS, STEP_ROLES, REFS,
    human, valueLabel, article, titleOf, quoted, duration, yes, uid, showTemp, showDelta, range,
    spec, deref, requestSchema, fields, kindDefaults,
    refLabel, labelOf, buildForm, collect,
    refName, table, confirmIn, submitButton, focusIn,
  };
})();

// Settings (manager and up): the organisation, its sites, areas, units,
// sensors, alert rules, escalation policies and contacts, and for admins its
// members and API keys. The forms are built from the request schemas in
// /v1/openapi.json, so a field the API gains shows up here; the tables below
// only choose how the fields are labelled, ordered and shown. The form kit
// is settings-forms.js (FT.settingsKit), the organisation section is in
// settings-org.js, members and API keys are in settings-people.js, billing
// is in settings-billing.js, a sensor's calibrations in
// settings-calibrations.js; they load before this file.
'use strict';
(function () {
  const { D, h, api, all, toast, guard, link, UNIT } = FT;
  const {
    LABELS, TEMP_KINDS, REFS, human, valueLabel, article, titleOf, quoted, duration, yes, uid, showTemp, showDelta, range,
    spec, requestSchema, fields, kindDefaults, refLabel, labelOf, buildForm, collect, refName, table, confirmIn, submitButton, focusIn,
  } = FT.settingsKit;

  const SECTIONS = [
    { key: 'organisation', title: 'Organisation', one: 'organisation' },
    { key: 'sites', title: 'Sites', one: 'site' },
    { key: 'areas', title: 'Areas', one: 'area' },
    { key: 'units', title: 'Units', one: 'unit' },
    { key: 'sensors', title: 'Sensors', one: 'sensor' },
    { key: 'alert-rules', title: 'Alert rules', one: 'alert rule' },
    { key: 'escalation-policies', title: 'Escalation policies', one: 'escalation policy' },
    { key: 'notification-policies', title: 'Notification policies', one: 'notification policy' },
    { key: 'contacts', title: 'Contacts', one: 'contact' },
    { key: 'members', title: 'Members', one: 'member', admin: true },
    { key: 'api-keys', title: 'API keys', one: 'API key', admin: true },
    { key: 'billing', title: 'Billing', one: 'billing', admin: true },
    { key: 'inspector-links', title: 'Inspector links', one: 'inspector link', admin: true },
  ];

  // ---- sections ------------------------------------------------------

  function setLabel(c, text, hint) {
    const l = c.el.querySelector('label');
    if (l) l.textContent = text;
    let small = c.el.querySelector('small');
    if (!small && hint) { small = h('small', { class: 'muted' }); c.el.append(small); }
    if (small) small.textContent = hint || '';
  }

  const RES = {
    sites: {
      intro: 'Each site is a kitchen or premises with its own time zone; reports use its local days.',
      order: ['name', 'timezone', 'address', 'manual_log_cadence_minutes'],
      labels: { manual_log_cadence_minutes: 'Manual check every (minutes)' },
      placeholders: { name: 'Harbour Kitchen', address: 'Street, town', manual_log_cadence_minutes: '240' },
      hints: {
        timezone: 'IANA time zone, e.g. Europe/Berlin or America/New_York.',
        manual_log_cadence_minutes: 'How often staff must log a manual temperature check of each unit here (15 to 10080, a week). Empty: no manual checks are required.',
      },
      columns: () => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Time zone', cell: (i) => i.timezone },
        { label: 'Address', cell: (i) => i.address || '–' },
        { label: 'Manual checks', cell: (i) => (i.manual_log_cadence_minutes ? 'every ' + duration(i.manual_log_cadence_minutes * 60) : 'not required') },
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
      panel: { label: 'Calibrations', build: (...a) => FT.settingsKit.calibrationPanel(...a) },
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
        unit_id: '', unit_kind: 'Only for a rule without a unit.',
        auto_resolve: '', enabled: '',
      },
      onKind: (c) => {
        const k = c.kind.input.value;
        const temp = TEMP_KINDS.includes(k);
        if (c.threshold) {
          // A defrost's threshold is a °C difference: it is resent in the
          // organisation's unit when the kind changes.
          c.threshold.dependsOn = ['kind'];
          const side = k === 'temp_low' ? 'minimum' : 'maximum';
          const [lab, hint] = temp ? ['Threshold (' + UNIT + ')', 'Empty: follow the unit’s safe ' + side + '.'] : FT.kinds.threshold(k);
          setLabel(c.threshold, lab, hint);
        }
        if (c.confirm_seconds) setLabel(c.confirm_seconds, ...FT.kinds.confirm(k));
        if (c.hysteresis) {
          c.hysteresis.dependsOn = ['kind'];
          setLabel(c.hysteresis, temp ? 'Hysteresis (' + UNIT + ')' : 'Hysteresis',
            temp ? 'How far back inside the threshold readings must be before the condition clears.' : FT.kinds.usesHysteresis(k) ? '' : 'Not used for this kind of rule.');
        }
      },
      columns: (st) => [
        { label: 'Applies to', cell: (i) => (i.unit_id ? refName(st, 'units', i.unit_id) : 'Every ' + (i.unit_kind ? valueLabel(i.unit_kind).toLowerCase() : 'unit') + ' (default)') },
        { label: 'Alert when', cell: (i) => valueLabel(i.kind) },
        { label: 'Threshold', cell: thresholdText },
        { label: 'Confirm', cell: (i) => (FT.kinds.usesConfirm(i.kind) ? duration(i.confirm_seconds) : '–') },
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
        { label: 'Test', cell: (i) => FT.contactTest(i) },
      ],
    },
  };

  // Sections configured in their own files (settings-policies.js).
  Object.assign(RES, FT.settingsKit.moreResources || {});

  function thresholdText(i) {
    if (TEMP_KINDS.includes(i.kind)) {
      return i.threshold === null || i.threshold === undefined ? 'Unit’s safe ' + (i.kind === 'temp_low' ? 'min' : 'max') : FT.temp(i.threshold);
    }
    return FT.kinds.limit(i.kind, i.threshold) || '–';
  }
  function stepText(st, s) {
    const who = (s.roles || []).map(human).concat((s.contact_ids || []).map((id) => refName(st, 'contacts', id)));
    return (s.after_minutes ? 'After ' + s.after_minutes + ' min' : 'At once') + ': ' +
      (s.channels || []).map(valueLabel).join(' + ') + ' to ' + (who.join(', ') || 'nobody');
  }


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
      const panel = cfg.panel ? h('button', { type: 'button', class: 'secondary small', 'data-action': 'panel', onclick: (e) => guard(e.currentTarget, () => openPanel(item)) },
        cfg.panel.label, h('span', { class: 'sr' }, ' ' + name)) : null;
      cell.append(...[panel, edit, del].filter(Boolean));
      return cell;
    }
    // openPanel shows a row's own records (a sensor's calibrations) where
    // the edit form would be.
    async function openPanel(item) {
      const el = await cfg.panel.build(item, tt(item), () => { closeEdit(); focusRow(item.id, 'panel'); });
      editBox.replaceChildren(el);
      editBox.dataset.id = item.id;
      el.scrollIntoView({ block: 'nearest' });
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

  // ---- the page ------------------------------------------------------

  FT.pages.settings = async function (main) {
    const wrap = h('div', { class: 'settings' });
    main.replaceChildren(wrap);
    if (!D.can.manage) {
      wrap.append(h('h1', {}, 'Settings'), h('p', { class: 'card' }, 'Settings are for managers and admins of ' + D.org.name + '. Ask an admin if you need to change something.'));
      return;
    }
    const visible = SECTIONS.filter((s) => !s.admin || D.can.administer);
    const key = (D.params && D.params.section) || visible[0].key;
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
    box.setAttribute('aria-busy', 'true');
    try {
      if (sec.key === 'organisation') await FT.settingsKit.organisationSection(box, sec, heading);
      else if (sec.key === 'members') await FT.settingsKit.membersSection(box, sec, heading);
      else if (sec.key === 'api-keys') await FT.settingsKit.apiKeysSection(box, sec, heading);
      else if (sec.key === 'billing') await FT.settingsKit.billingSection(box, sec, heading);
      else if (sec.key === 'inspector-links') await FT.settingsKit.inspectorLinksSection(box, sec, heading);
      else await resourceSection(box, sec, heading);
    } finally {
      loading.remove();
      box.removeAttribute('aria-busy');
    }
  };
})();

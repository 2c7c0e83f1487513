// Settings for admins: the organisation's members and its API keys.
'use strict';
(function () {
  const { D, h, api, all, field, toast, guard } = FT;
  const { STEP_ROLES, human, valueLabel, quoted, uid, spec, deref, requestSchema, fields, buildForm, collect, table, confirmIn, submitButton, focusIn } = FT.settingsKit;

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

  FT.settingsKit.membersSection = membersSection;
  FT.settingsKit.apiKeysSection = apiKeysSection;
})();

// Test messages: a manager sends a contact a test SMS or email through the
// real delivery path and sees what became of it (the delivery log's status).
(function () {
  const { h, api, guard } = FT;
  const DONE = ['sent', 'delivered', 'failed', 'not_configured', 'suppressed', 'cancelled'];

  async function watch(id, out) {
    for (let i = 0; i < 30; i++) {
      const log = await api('GET', 'notifications');
      const n = (log.items || []).find((x) => x.id === id);
      if (n) {
        out.textContent = n.status.replace(/_/g, ' ') + (n.suppressed_reason || n.last_error ? ': ' + (n.suppressed_reason || n.last_error) : '');
        out.dataset.status = n.status;
        if (DONE.includes(n.status)) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  FT.contactTest = function (contact) {
    if (!FT.D.can.manage) return '–';
    const out = h('span', { class: 'muted test-status', role: 'status' });
    const button = (channel, label) => {
      const b = h('button', { type: 'button', class: 'secondary small', 'data-action': 'test-' + channel }, label);
      b.addEventListener('click', () => guard(b, async () => {
        out.textContent = 'queued';
        const r = await api('POST', 'contacts/' + contact.id + '/test', { channel });
        await watch(r.notification_id, out);
      }));
      return b;
    };
    return h('div', { class: 'row-actions' }, contact.phone ? button('sms', 'Test SMS') : null, contact.email ? button('email', 'Test email') : null, out);
  };
})();

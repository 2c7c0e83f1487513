// Settings for admins: inspector links. A link gives a food-safety
// inspector read-only access to some sites' HACCP reports, unit charts,
// alerts and audit trail, optionally for a range of days, until it expires
// or is revoked. Its secret is shown once, as the link to hand over.
'use strict';
(function () {
  const { h, api, all, field, toast, guard } = FT;
  const { quoted, table, confirmIn, submitButton, focusIn } = FT.settingsKit;

  function iso(d) { return d.toISOString().slice(0, 10); }

  async function inspectorLinksSection(box, sec, heading) {
    const secretBox = h('div');
    const listBox = h('div');
    const createBox = h('div');
    box.append(h('p', { class: 'muted intro' }, 'An inspector link opens the HACCP reports, unit charts, alerts with their corrective actions and the audit trail of the sites you choose, read only, until it expires (at most 90 days) or you revoke it. Every view made with it is recorded in the audit trail.'),
      secretBox, listBox, createBox);
    const sites = await all('sites');

    function status(l) {
      if (l.revoked_at) return h('span', { class: 'chip s-offline' }, 'Revoked ' + FT.when(l.revoked_at));
      if (new Date(l.expires_at) <= new Date()) return h('span', { class: 'chip s-offline' }, 'Expired');
      return h('span', { class: 'chip s-ok' }, 'Valid until ' + FT.when(l.expires_at));
    }
    async function refresh() {
      const items = await all('inspector-links');
      const cols = [
        { label: 'For', cell: (l) => l.name },
        { label: 'Link', cell: (l) => h('code', {}, 'fti_' + l.prefix + '…') },
        { label: 'Sites', cell: (l) => l.sites.map((s) => s.name).join(', ') },
        { label: 'Days', cell: (l) => (l.period_from || l.period_to ? (l.period_from || '…') + ' to ' + (l.period_to || '…') : 'all') },
        { label: 'Last used', cell: (l) => (l.last_used_at ? FT.ago(l.last_used_at) : 'never') },
        { label: 'Status', cell: status },
      ];
      listBox.replaceChildren(table('inspector-links', cols, items, actions, 'No inspector links yet.'));
    }
    function actions(l) {
      if (l.revoked_at) return '';
      const cell = h('div', { class: 'row-actions' });
      cell.append(h('button', {
        type: 'button', class: 'danger small', 'data-action': 'delete',
        onclick: () => confirmIn(cell, 'Revoke the link for ' + quoted(l.name) + '? It stops working at once.', 'Yes, revoke', async () => {
          await api('DELETE', 'inspector-links/' + l.id);
          toast('Inspector link for ' + quoted(l.name) + ' revoked.');
          await refresh();
          heading.focus();
        }),
      }, 'Revoke', h('span', { class: 'sr' }, ' ' + l.name)));
      return cell;
    }
    function showLink(made) {
      const url = location.origin + made.url;
      const code = h('code', { class: 'secret', 'data-inspector-url': '' }, url);
      const copy = h('button', { type: 'button', class: 'primary', onclick: async () => {
        try { await navigator.clipboard.writeText(url); toast('Link copied.'); } catch (e) { toast('Copying is blocked here: select the link and copy it.', 'error'); }
      } }, 'Copy link');
      const done = h('button', { type: 'button', class: 'secondary', onclick: () => { secretBox.replaceChildren(); heading.focus(); } }, 'I have handed it over');
      const card = h('section', { class: 'card newkey', 'aria-labelledby': 'newlink-h', tabindex: '-1' },
        h('h3', { id: 'newlink-h' }, 'Inspector link for ' + quoted(made.name)),
        h('p', { class: 'warn' }, h('strong', {}, 'Copy this link now. '), 'It will not be shown again: FreshTrack keeps only a hash of its secret. Anyone with it can read what it covers until ' + FT.when(made.expires_at) + '.'),
        code, h('div', { class: 'actions' }, copy, done));
      secretBox.replaceChildren(card);
      card.focus();
    }
    function renderCreate() {
      const name = h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'J. Smith, environmental health' });
      const checks = sites.map((s) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'site_ids', value: s.id, checked: sites.length === 1 }), ' ' + s.name));
      const from = h('input', { type: 'date', name: 'period_from' });
      const to = h('input', { type: 'date', name: 'period_to' });
      const expires = h('input', { type: 'date', name: 'expires_at', required: true, value: iso(new Date(Date.now() + 14 * 86400000)),
        min: iso(new Date(Date.now() + 86400000)), max: iso(new Date(Date.now() + 89 * 86400000)) });
      const add = submitButton('Create link');
      const el = h('form', { id: 'create-inspector-links', class: 'card' }, h('h3', {}, 'Create an inspector link'),
        h('div', { class: 'grid2' }, field('For', name, 'Who the link is for.'),
          h('fieldset', { class: 'field' }, h('legend', {}, 'Sites'), checks),
          field('First day (optional)', from, 'Leave empty for all past days.'), field('Last day (optional)', to, 'Leave empty for up to today.'),
          field('Valid until', expires, 'The link stops working at the end of this day (your time), at most 90 days ahead.')),
        h('div', { class: 'actions' }, add));
      el.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(add, async () => {
          const end = new Date(expires.value + 'T23:59:00');
          const body = {
            name: name.value.trim(), site_ids: checks.map((c) => c.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
            expires_at: Number.isNaN(end.getTime()) ? '' : end.toISOString().replace(/\.\d+Z$/, 'Z'),
          };
          if (from.value) body.period_from = from.value;
          if (to.value) body.period_to = to.value;
          const made = await api('POST', 'inspector-links', body);
          await refresh();
          renderCreate();
          showLink(made);
        });
      });
      createBox.replaceChildren(el);
      return el;
    }
    await refresh();
    renderCreate();
    if (!sites.length) focusIn(createBox);
  }

  FT.settingsKit.inspectorLinksSection = inspectorLinksSection;
})();

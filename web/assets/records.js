// Records: the manual temperature log, the HACCP report download and its
// review and electronic sign-off.
'use strict';
(function () {
  const { h, put, api, all, temp, toC, when, field, guard, toast, UNIT, FAHRENHEIT } = FT;

  FT.pages.log = async function (main) {
    const units = await all('units');
    const want = new URLSearchParams(location.search).get('unit');
    const unitSel = h('select', { name: 'unit', required: true }, units.map((u) => h('option', { value: u.id, selected: u.id === want }, u.name)));
    const value = h('input', { name: 'temp', type: 'number', step: '0.1', inputmode: 'decimal', required: true, placeholder: FAHRENHEIT ? '38.5' : '3.5' });
    const notes = h('input', { name: 'notes', type: 'text', placeholder: 'e.g. probe in the middle shelf' });
    const submit = h('button', { type: 'submit', class: 'primary', id: 'record-check' }, 'Record check');
    const recent = h('tbody');
    const form = h('form', { id: 'manual-check', class: 'card' },
      h('div', { class: 'grid2' }, field('Temperature (' + UNIT + ')', value), field('Notes', notes)), submit);

    async function loadRecent() {
      const page = await api('GET', 'units/' + unitSel.value + '/manual-checks');
      const items = (page.items || []).slice(0, 20);
      recent.replaceChildren(...items.map((c) => h('tr', null, h('td', null, when(c.checked_at)), h('td', { class: 'num' }, temp(c.temp_c)),
        h('td', null, c.notes || ''))));
      if (!items.length) recent.append(h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'No manual checks of this unit yet.')));
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = Number(value.value);
      if (value.value === '' || Number.isNaN(v)) { toast('Enter the temperature you read.', 'error'); return; }
      guard(submit, async () => {
        const body = { temp_c: Math.round(toC(v) * 100) / 100 };
        if (notes.value.trim()) body.notes = notes.value.trim();
        await api('POST', 'units/' + unitSel.value + '/manual-checks', body);
        toast('Recorded ' + temp(body.temp_c) + '.');
        value.value = '';
        notes.value = '';
        await loadRecent();
      });
    });
    unitSel.addEventListener('change', () => loadRecent().catch((e) => toast(e.message, 'error')));
    put(main, h('h1', null, 'Manual temperature log'), h('div', { class: 'card' }, field('Unit', unitSel)),
      FT.D.can.operate ? form : h('p', { class: 'card muted' }, 'Your role (' + FT.D.role + ') may read the log; staff and above record checks.'),
      h('section', { class: 'card' }, h('h2', null, 'Recent checks'), h('div', { class: 'scroll' }, h('table', { id: 'recent-checks' },
        h('thead', null, h('tr', null, h('th', null, 'When'), h('th', { class: 'num' }, 'Temperature'), h('th', null, 'Notes'))), recent))));
    if (units.length) await loadRecent();
    else main.append(h('p', { class: 'card' }, 'No units yet.'));
  };

  // signing holds a signature waiting for its re-authentication: the page
  // leaves for the identity provider and comes back with a one-time grant
  // in its URL fragment (#reauth=...).
  const SIGNING = 'freshtrack-signing';

  FT.pages.reports = async function (main) {
    const sites = await all('sites');
    const today = new Date();
    const iso = (d) => d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    const qs = new URLSearchParams(location.search);
    const siteSel = h('select', { name: 'site' }, sites.map((s) => h('option', { value: s.id, selected: s.id === qs.get('site') }, s.name)));
    const from = h('input', { name: 'from', type: 'date', value: qs.get('from') || iso(new Date(today.getFullYear(), today.getMonth(), 1)), max: iso(today) });
    const to = h('input', { name: 'to', type: 'date', value: qs.get('to') || iso(today), max: iso(today) });
    const pdf = h('a', { class: 'button primary', id: 'download-pdf', download: '' }, 'Download PDF');
    const csv = h('a', { class: 'button', id: 'download-csv', download: '' }, 'Download CSV');
    const summary = h('div', { id: 'report-summary' });
    const review = h('p', { id: 'review-status', class: 'muted' });
    const sigRows = h('tbody');
    function href(format) {
      return FT.BASE + '/reports/haccp?' + new URLSearchParams({ site: siteSel.value, from: from.value, to: to.value, format, units: FAHRENHEIT ? 'F' : 'C' });
    }
    function update() {
      pdf.href = href('pdf');
      csv.href = href('csv');
      review.textContent = '';
    }
    async function preview(btn) {
      await guard(btn, async () => {
        const r = await api('GET', href('json'));
        review.textContent = (r.review && r.review.statement) || 'Not reviewed/signed';
        review.className = r.review && r.review.status === 'signed' ? '' : 'error';
        summary.replaceChildren(h('h2', null, 'Summary ' + r.header.from + ' – ' + r.header.to),
          h('div', { class: 'scroll' }, h('table', null, h('thead', null, h('tr', null, h('th', null, 'Unit'), h('th', { class: 'num' }, 'Min'), h('th', { class: 'num' }, 'Max'),
            h('th', { class: 'num' }, 'In range'), h('th', { class: 'num' }, 'Excursions'), h('th', { class: 'num' }, 'Manual checks'))),
          h('tbody', null, (r.units || []).map((u) => {
            const st = u.summary || {};
            const n = (v) => (v === null || v === undefined ? '–' : v.toFixed(1) + ' ' + UNIT);
            return h('tr', null, h('td', null, u.name), h('td', { class: 'num' }, n(st.min)), h('td', { class: 'num' }, n(st.max)),
              h('td', { class: 'num' }, st.percent_in_range === null || st.percent_in_range === undefined ? '–' : st.percent_in_range.toFixed(1) + '%'),
              h('td', { class: 'num' }, String((u.excursions || []).length)), h('td', { class: 'num' }, String((u.manual_checks || []).length)));
          })))),
          h('p', { class: 'muted' }, 'Content hash ' + r.header.content_sha256));
      });
    }
    async function loadSignatures() {
      if (!siteSel.value) return;
      const page = await api('GET', 'sites/' + siteSel.value + '/signoffs');
      const items = page.items || [];
      sigRows.replaceChildren(...items.map((s) => h('tr', null, h('td', null, s.from + ' – ' + s.to), h('td', null, s.printed_name),
        h('td', null, s.meaning), h('td', null, when(s.signed_at)),
        h('td', null, h('span', { class: 'chip ' + (s.status === 'current' ? 's-ok' : 's-critical') }, s.status === 'current' ? 'current' : 'stale: records changed')))));
      if (!items.length) sigRows.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No signatures for this site yet: its records are not reviewed/signed.')));
    }
    for (const el of [siteSel, from, to]) el.addEventListener('change', update);
    siteSel.addEventListener('change', () => loadSignatures().catch((e) => toast(e.message, 'error')));
    update();
    const previewBtn = h('button', { type: 'button', class: 'secondary', onclick: (e) => preview(e.currentTarget) }, 'Preview summary');

    // Review and sign: the signer types their name and the meaning, then
    // re-enters their credentials at the identity provider (21 CFR 11.200);
    // the signature is made with the grant that sign-in hands back.
    const meaning = h('select', { name: 'meaning' }, h('option', { value: 'reviewed' }, 'Reviewed'), h('option', { value: 'verified' }, 'Verified'));
    const printed = h('input', { name: 'printed_name', type: 'text', maxlength: 200, value: FT.D.user.name || '', autocomplete: 'name' });
    const comment = h('input', { name: 'comment', type: 'text', maxlength: 2000, placeholder: 'optional, e.g. checked against the paper log' });
    const signBtn = h('button', { type: 'submit', class: 'primary', id: 'sign-start' }, 'Review and sign…');
    const confirmBox = h('div', { id: 'sign-confirm-box' });
    const signForm = h('form', { class: 'card', id: 'sign-form' }, h('h2', null, 'Review and sign'),
      h('p', { class: 'muted' }, 'Signing records that you reviewed this site\'s record for the period above. You will be asked to sign in again; the signature carries your printed name, its meaning, the time and the report\'s content hash.'),
      h('div', { class: 'grid2' }, field('Printed name', printed), field('Meaning', meaning)), field('Comment', comment), signBtn, confirmBox);
    signForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!printed.value.trim()) { toast('Type your name as it is to appear on the record.', 'error'); return; }
      if (!to.value || to.value >= iso(today)) { toast('Only a period that has ended can be signed: choose a last day before today.', 'error'); return; }
      const pending = { site: siteSel.value, from: from.value, to: to.value, meaning: meaning.value, printed_name: printed.value.trim(), comment: comment.value.trim() };
      sessionStorage.setItem(SIGNING, JSON.stringify(pending));
      const back = location.pathname + '?' + new URLSearchParams({ site: pending.site, from: pending.from, to: pending.to });
      location.href = '/auth/signin?reauth=1&next=' + encodeURIComponent(back);
    });

    // Back from the re-authentication: confirm the signature with the grant.
    const grant = location.hash.startsWith('#reauth=') ? location.hash.slice(8) : '';
    if (grant) history.replaceState(null, '', location.pathname + location.search);
    let pending = null;
    try { pending = JSON.parse(sessionStorage.getItem(SIGNING) || 'null'); } catch (e) { pending = null; }
    if (grant && pending) {
      sessionStorage.removeItem(SIGNING);
      siteSel.value = pending.site; from.value = pending.from; to.value = pending.to;
      meaning.value = pending.meaning; printed.value = pending.printed_name; comment.value = pending.comment;
      update();
      const siteName = (sites.find((s) => s.id === pending.site) || {}).name || '';
      const confirmBtn = h('button', { type: 'button', class: 'primary', id: 'sign-confirm' }, 'Sign now');
      confirmBtn.addEventListener('click', () => guard(confirmBtn, async () => {
        const body = { from: pending.from, to: pending.to, meaning: pending.meaning, printed_name: pending.printed_name, reauth_grant: grant };
        if (pending.comment) body.comment = pending.comment;
        const s = await api('POST', 'sites/' + pending.site + '/signoffs', body);
        confirmBox.replaceChildren(h('p', { id: 'signed' }, 'Signed: ' + s.printed_name + ', ' + s.meaning + ', ' + when(s.signed_at) + '.'));
        toast('Signed the record of ' + siteName + '.');
        await loadSignatures();
        await preview(previewBtn);
      }).catch((e) => toast(e.message, 'error')));
      confirmBox.replaceChildren(h('p', null, 'You signed in again. Sign the record of ' + siteName + ', ' + pending.from + ' – ' + pending.to +
        ', as ' + pending.meaning + ' by ' + pending.printed_name + '?'), confirmBtn);
    }

    put(main, h('h1', null, 'HACCP reports'),
      sites.length ? h('form', { class: 'card', id: 'report-form', onsubmit: (e) => e.preventDefault() },
        field('Site', siteSel), h('div', { class: 'grid2' }, field('First day', from), field('Last day', to)),
        h('p', { class: 'muted' }, 'Days are the site\'s local days; temperatures in ' + UNIT + '.'),
        h('div', { class: 'actions' }, pdf, csv, previewBtn), review) : h('p', { class: 'card' }, 'No sites yet.'),
      summary,
      sites.length && FT.D.can.manage ? signForm : null,
      sites.length ? h('section', { class: 'card' }, h('h2', null, 'Signatures'), h('div', { class: 'scroll' }, h('table', { id: 'signatures' },
        h('thead', null, h('tr', null, h('th', null, 'Period'), h('th', null, 'Printed name'), h('th', null, 'Meaning'), h('th', null, 'Signed'), h('th', null, 'Status'))), sigRows))) : null);
    if (sites.length) await loadSignatures();
  };
})();

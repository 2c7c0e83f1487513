// Records: the manual temperature log and the HACCP report download.
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

  FT.pages.reports = async function (main) {
    const sites = await all('sites');
    const today = new Date();
    const iso = (d) => d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0');
    const siteSel = h('select', { name: 'site' }, sites.map((s) => h('option', { value: s.id }, s.name)));
    const from = h('input', { name: 'from', type: 'date', value: iso(new Date(today.getFullYear(), today.getMonth(), 1)), max: iso(today) });
    const to = h('input', { name: 'to', type: 'date', value: iso(today), max: iso(today) });
    const pdf = h('a', { class: 'button primary', id: 'download-pdf', download: '' }, 'Download PDF');
    const csv = h('a', { class: 'button', id: 'download-csv', download: '' }, 'Download CSV');
    const summary = h('div', { id: 'report-summary' });
    function href(format) {
      return FT.BASE + '/reports/haccp?' + new URLSearchParams({ site: siteSel.value, from: from.value, to: to.value, format, units: FAHRENHEIT ? 'F' : 'C' });
    }
    function update() {
      pdf.href = href('pdf');
      csv.href = href('csv');
    }
    async function preview(btn) {
      await guard(btn, async () => {
        const r = await api('GET', href('json'));
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
    for (const el of [siteSel, from, to]) el.addEventListener('change', update);
    update();
    const previewBtn = h('button', { type: 'button', class: 'secondary', onclick: (e) => preview(e.currentTarget) }, 'Preview summary');
    put(main, h('h1', null, 'HACCP reports'),
      sites.length ? h('form', { class: 'card', id: 'report-form', onsubmit: (e) => e.preventDefault() },
        field('Site', siteSel), h('div', { class: 'grid2' }, field('First day', from), field('Last day', to)),
        h('p', { class: 'muted' }, 'Days are the site\'s local days; temperatures in ' + UNIT + '.'),
        h('div', { class: 'actions' }, pdf, csv, previewBtn)) : h('p', { class: 'card' }, 'No sites yet.'),
      summary);
  };
})();

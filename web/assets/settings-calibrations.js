// Settings, a sensor's calibration records (…/sensors/{sensor}/calibrations):
// the list, newest first, and the form that records one. The
// calibration_due rule warns ahead of the newest record's due date. Shared
// as FT.settingsKit.calibrationPanel; settings.js opens it from a sensor's
// row.
'use strict';
(function () {
  const { h, put, api, temp, toC, when, field, guard, toast, UNIT, FAHRENHEIT } = FT;
  const { quoted, submitButton, focusIn } = FT.settingsKit;

  const pad = (n) => String(n).padStart(2, '0');
  const localInput = (d) => d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  const dateInput = (d) => d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  // An offset is a difference: °F differences are 5/9 of a °C one.
  const offsetC = (v) => Math.round((FAHRENHEIT ? v * 5 / 9 : v) * 1000) / 1000;
  const showOffset = (c) => (c === null || c === undefined ? '–' : (c > 0 ? '+' : '') + (FAHRENHEIT ? c * 9 / 5 : c).toFixed(2) + ' ' + UNIT);

  function dueChip(r, newest) {
    if (!newest) return null;
    const days = (new Date(r.due_at).getTime() - Date.now()) / 86400e3;
    if (days < 0) return h('span', { class: 'chip s-critical', 'data-due': 'overdue' }, 'overdue');
    if (days <= 14) return h('span', { class: 'chip s-warning', 'data-due': 'soon' }, 'due soon');
    return null;
  }

  // calibrationPanel is the calibrations card of a sensor; close ends it.
  async function calibrationPanel(sensor, name, close) {
    const list = h('div');
    const box = h('section', { class: 'card editing', id: 'calibrations', 'data-id': sensor.id },
      h('h3', {}, 'Calibrations of ' + quoted(name)), list);

    async function load() {
      const page = await api('GET', 'sensors/' + sensor.id + '/calibrations');
      const items = page.items || [];
      put(list, items.length ? h('div', { class: 'scroll' }, h('table', { id: 'calibration-list' },
        h('thead', {}, h('tr', {}, ['Calibrated', 'Due', 'Reference', 'Sensor read', 'Offset', 'Method', 'Certificate'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, items.map((r, i) => h('tr', { 'data-id': r.id },
          h('td', {}, when(r.calibrated_at)), h('td', {}, when(r.due_at), ' ', dueChip(r, i === 0)),
          h('td', {}, temp(r.reference_c)), h('td', {}, temp(r.measured_c)), h('td', {}, showOffset(r.offset_c)),
          h('td', {}, r.method || '–'), h('td', {}, r.certificate || '–'))))))
        : h('p', { class: 'muted' }, 'No calibration recorded yet: the sensor has no due date, so no calibration_due alert.'));
    }

    const now = new Date();
    const calibrated = h('input', { name: 'calibrated_at', type: 'datetime-local', required: true, value: localInput(now), max: localInput(now) });
    const due = h('input', { name: 'due_at', type: 'date', required: true, value: dateInput(new Date(now.getFullYear() + 1, now.getMonth(), now.getDate())) });
    const num = (name, ph) => h('input', { name, type: 'number', step: 'any', inputmode: 'decimal', placeholder: ph });
    const reference = num('reference_c', FAHRENHEIT ? '32' : '0');
    const measured = num('measured_c', FAHRENHEIT ? '32.5' : '0.3');
    const offset = num('offset_c', FAHRENHEIT ? '-0.5' : '-0.3');
    const method = h('input', { name: 'method', type: 'text', maxlength: 200, placeholder: 'e.g. ice bath, reference thermometer' });
    const certificate = h('input', { name: 'certificate', type: 'text', maxlength: 500 });
    const notes = h('input', { name: 'notes', type: 'text' });
    const save = submitButton('Record calibration');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: close }, 'Close');
    const form = h('form', { id: 'calibration-form', novalidate: true },
      h('h4', {}, 'Record a calibration'),
      h('div', { class: 'grid2' }, field('Calibrated at', calibrated), field('Next calibration due', due),
        field('Reference reading (' + UNIT + ')', reference), field('Sensor reading (' + UNIT + ')', measured),
        field('Offset applied (' + UNIT + ')', offset, 'The correction set on the sensor, if any.'),
        field('Method', method), field('Certificate', certificate, 'Number or link of the calibration certificate.'), field('Notes', notes)),
      h('div', { class: 'actions' }, save, cancel));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      guard(save, async () => {
        // Times as the person means them: local, sent as UTC. The server
        // checks them (not in the future, due after calibrated).
        const body = {};
        if (calibrated.value) body.calibrated_at = new Date(calibrated.value).toISOString();
        if (due.value) body.due_at = new Date(due.value + 'T00:00').toISOString();
        if (reference.value !== '') body.reference_c = Math.round(toC(Number(reference.value)) * 1000) / 1000;
        if (measured.value !== '') body.measured_c = Math.round(toC(Number(measured.value)) * 1000) / 1000;
        if (offset.value !== '') body.offset_c = offsetC(Number(offset.value));
        for (const [k, el] of [['method', method], ['certificate', certificate], ['notes', notes]]) if (el.value.trim()) body[k] = el.value.trim();
        await api('POST', 'sensors/' + sensor.id + '/calibrations', body);
        toast('Calibration of ' + quoted(name) + ' recorded.');
        for (const el of [reference, measured, offset, method, certificate, notes]) el.value = '';
        await load();
      });
    });
    box.append(form);
    await load();
    setTimeout(() => focusIn(form), 0);
    return box;
  }

  FT.settingsKit.calibrationPanel = calibrationPanel;
})();

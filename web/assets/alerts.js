// Alerts: the list (open first) and an alert's page: its timeline of
// events and notifications with their delivery status, who was told and
// why (the notification policy and each person's decision), acknowledge,
// comment, and resolve with the corrective action.
'use strict';
(function () {
  const { h, put, api, all, temp, when, ago, events, link, field, guard, toast } = FT;
  const kind = FT.alertKind;

  function alertItem(a) {
    return h('li', null, h('a', { href: '/o/' + FT.ORG + '/alerts/' + a.id, class: a.status === 'resolved' ? 'closed' : '', 'data-alert': a.id, 'data-status': a.status },
      h('span', { class: 'what' }, a.unit_name + ' · ' + kind(a.kind)), ' ',
      h('span', { class: 'chip s-' + a.status }, a.status), ' ', h('span', { class: 'chip s-' + a.severity }, a.severity),
      a.summary ? h('div', { class: 'summary' }, a.summary) : null,
      h('div', { class: 'muted' }, a.site_name + ' · ' + (a.peak_c !== null && a.peak_c !== undefined ? 'peak ' + temp(a.peak_c) + ' · ' : '') +
        'opened ' + when(a.opened_at) + (a.resolved_at ? ' · resolved ' + when(a.resolved_at) : ' (' + ago(a.opened_at) + ')'))));
  }

  FT.pages.alerts = async function (main) {
    const openList = h('ul', { class: 'alertlist', id: 'alerts-open' });
    const pastList = h('ul', { class: 'alertlist', id: 'alerts-past' });
    const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show older alerts');
    let cursor = '';
    async function load() {
      const [open, past] = await Promise.all([all('alerts?status=open', 500), api('GET', 'alerts?status=resolved&limit=50')]);
      openList.replaceChildren(...open.map(alertItem));
      if (!open.length) openList.append(h('li', { class: 'muted' }, 'No open alerts.'));
      pastList.replaceChildren(...(past.items || []).map(alertItem));
      cursor = past.next_cursor || '';
      more.hidden = !cursor;
    }
    more.addEventListener('click', () => guard(more, async () => {
      const page = await api('GET', 'alerts?status=resolved&limit=50&cursor=' + encodeURIComponent(cursor));
      pastList.append(...(page.items || []).map(alertItem));
      cursor = page.next_cursor || '';
      more.hidden = !cursor;
    }));
    main.replaceChildren(h('h1', null, 'Alerts'), h('h2', null, 'Open'), openList, h('h2', null, 'Resolved'), pastList, more);
    await load();
    events('', { alert() { load().catch((e) => toast(e.message, 'error')); FT.refreshBadge(); }, reset() { load(); } });
  };

  const EVENT_TEXT = {
    triggered: 'Alert opened', notified: 'Notified', escalated: 'Escalated', acknowledged: 'Acknowledged',
    comment: 'Comment', resolved: 'Resolved', auto_resolved: 'Resolved itself: back in range',
    retriggered: 'Out of range again', withdrawn: 'Withdrawn',
  };

  const DECISION_TEXT = {
    notified: 'Notified', quiet_hours: 'Quiet hours', opted_out: 'Opted out', no_address: 'No address',
    off_shift: 'Off shift', below_severity: 'Below threshold',
  };
  const PURPOSE_TEXT = {
    notify: (d) => (d.step ? 'Escalation ' + d.step : 'First notice') + (d.cycle ? ' (cycle ' + (d.cycle + 1) + ')' : ''),
    deferred: (d) => 'Step ' + d.step + ', after quiet hours',
    reminder: () => 'Reminder',
    resolved: () => 'Resolved notice',
  };

  FT.pages.alert = async function (main) {
    const id = FT.D.params.id;
    const box = h('div');
    // Who acted, by name: the organisation's members (former members stay ids).
    const people = new Map();
    try {
      for (const m of await all('members', 1000)) people.set(m.id, m.name || m.email);
    } catch (e) { /* names are a courtesy; ids still say who */ }
    const who = (uid) => people.get(uid) || uid;
    // Which probe, by name: a calibration or an implausible reading is
    // about one sensor of the unit.
    const sensors = new Map();
    async function sensorName(sid) {
      if (!sid) return '';
      if (!sensors.has(sid)) {
        try {
          const s = await api('GET', 'sensors/' + sid);
          sensors.set(sid, s.name || s.external_id);
        } catch (e) { sensors.set(sid, ''); }
      }
      return sensors.get(sid);
    }
    main.replaceChildren(h('p', null, link('/alerts', '← Alerts')), box);

    // A live event re-renders the page: what someone is typing survives.
    function keepInputs() {
      const kept = new Map();
      for (const el of box.querySelectorAll('form input, form textarea, form select')) kept.set(el.form.id + '/' + el.name, el.value);
      const f = document.activeElement;
      const focus = f && f.form && box.contains(f) ? f.form.id + '/' + f.name : '';
      return () => {
        for (const el of box.querySelectorAll('form input, form textarea, form select')) {
          const k = el.form.id + '/' + el.name;
          if (kept.has(k)) el.value = kept.get(k);
          if (k === focus) el.focus();
        }
      };
    }

    async function render() {
      const a = await api('GET', 'alerts/' + id);
      const probe = await sensorName(a.sensor_id);
      const restore = keepInputs();
      const timeline = [];
      for (const e of a.events || []) {
        const d = e.details || {};
        // A food-safety alert clears for its own reason (the door closed,
        // the trend reversed), not by being back in range.
        let title = e.kind === 'auto_resolved' && d.reason ? 'Resolved itself: ' + d.reason : EVENT_TEXT[e.kind] || e.kind;
        // A step in the policy's quiet hours waits for their end.
        if (d.deferred_until) title += ': held for quiet hours until ' + when(d.deferred_until);
        timeline.push({ at: e.at, order: 0, el: h('li', { 'data-event': e.kind }, h('time', null, when(e.at)), h('strong', null, title),
          e.kind === 'triggered' && FT.kinds.foodSafety(a.kind) ? FT.kinds.details(a.kind, d) : null,
          d.text ? h('div', null, d.text) : null, d.comment ? h('div', null, d.comment) : null,
          e.actor_id ? h('div', { class: 'muted' }, 'by ' + who(e.actor_id)) : null) });
      }
      for (const n of a.notifications || []) {
        timeline.push({ at: n.created_at, order: 1, el: h('li', { 'data-notification': n.id, 'data-delivery': n.status },
          h('time', null, when(n.created_at)), h('strong', null, (n.channel === 'sms' ? 'SMS' : 'Email') + ' to ' + n.recipient), ' ',
          h('span', { class: 'chip s-' + n.status }, n.status.replace('_', ' ')),
          n.last_error ? h('div', { class: 'muted' }, n.last_error) : null,
          n.delivered_at ? h('div', { class: 'muted' }, 'delivered ' + when(n.delivered_at)) : null) });
      }
      // What happened, then the messages it sent.
      timeline.sort((x, y) => new Date(x.at) - new Date(y.at) || x.order - y.order);

      const open = a.status !== 'resolved';
      const actions = [];
      if (FT.D.can.operate && open) {
        if (a.status === 'triggered') {
          const ack = h('button', { type: 'button', class: 'primary', id: 'ack' }, 'Acknowledge');
          ack.addEventListener('click', () => guard(ack, async () => {
            await api('POST', 'alerts/' + id + '/ack', {});
            toast('Acknowledged: escalation stopped.');
            await render();
          }));
          actions.push(ack);
        }
        actions.push(resolveForm(a));
      }
      if (FT.D.can.operate) actions.push(commentForm());
      const limit = FT.kinds.limit(a.kind, a.threshold);

      put(box,
        h('h1', null, a.unit_name + ': ' + kind(a.kind)),
        a.summary ? h('p', { id: 'alert-summary', class: 'summary' }, a.summary) : null,
        h('p', { id: 'alert-status' }, h('span', { class: 'chip s-' + a.status, 'data-status': a.status }, a.status), ' ',
          h('span', { class: 'chip s-' + a.severity }, a.severity), ' · ', link('/units/' + a.unit_id, 'unit chart'), ' · ', a.site_name),
        h('div', { class: 'card' }, h('table', null, h('tbody', null,
          h('tr', null, h('th', null, 'Condition began'), h('td', null, when(a.started_at))),
          h('tr', null, h('th', null, 'Opened'), h('td', null, when(a.opened_at))),
          probe ? h('tr', { 'data-row': 'sensor' }, h('th', null, 'Sensor'), h('td', null, probe)) : null,
          a.peak_c !== null && a.peak_c !== undefined ? h('tr', null, h('th', null, 'Worst'), h('td', null, temp(a.peak_c))) : null,
          a.last_reading_c !== null && a.last_reading_c !== undefined ? h('tr', null, h('th', null, 'Latest'), h('td', null, temp(a.last_reading_c))) : null,
          limit ? h('tr', { 'data-row': 'limit' }, h('th', null, FT.kinds.limitLabel(a.kind)), h('td', null, limit)) : null,
          a.acknowledged_at ? h('tr', null, h('th', null, 'Acknowledged'), h('td', null, when(a.acknowledged_at))) : null,
          a.resolved_at ? h('tr', null, h('th', null, 'Resolved'), h('td', null, when(a.resolved_at) + (a.auto_resolved ? ' (by itself)' : ''))) : null))),
        (a.corrective_actions || []).length ? h('section', { class: 'card', id: 'corrective-actions' }, h('h2', null, 'Corrective actions'),
          (a.corrective_actions || []).map((c) => h('p', null, h('strong', null, c.action), ' — food ', c.disposition, c.notes ? ' · ' + c.notes : '', h('br'), h('span', { class: 'muted' }, when(c.taken_at) + (c.taken_by ? ' by ' + who(c.taken_by) : ''))))) : null,
        actions.length ? h('section', { class: 'card', id: 'alert-actions' }, actions) : null,
        whoWasTold(a.notification),
        h('section', { class: 'card' }, h('h2', null, 'Timeline'), h('ul', { class: 'timeline', id: 'timeline' }, timeline.map((t) => t.el))));
      box.dataset.status = a.status;
      restore();
      FT.refreshBadge();
    }

    // whoWasTold lists each person and channel a step considered, with the
    // decision and its reason, under the policy that applied and why.
    function whoWasTold(n) {
      if (!n) return null;
      const rows = (n.decisions || []).map((d) => h('tr', { 'data-decision': d.decision, 'data-contact': d.contact_id || '' },
        h('td', null, when(d.at)),
        h('td', null, PURPOSE_TEXT[d.purpose] ? PURPOSE_TEXT[d.purpose](d) : d.purpose),
        h('td', null, d.name || 'Nobody'),
        h('td', null, d.channel === 'sms' ? 'SMS' : d.channel === 'email' ? 'Email' : '–'),
        h('td', null, h('span', { class: 'chip d-' + d.decision }, DECISION_TEXT[d.decision] || d.decision)),
        h('td', null, d.reason)));
      return h('section', { class: 'card', id: 'who-was-told' }, h('h2', null, 'Who was told'),
        h('p', { id: 'notification-policy' }, n.policy ? [h('strong', null, n.policy.name), ': '] : null, n.why),
        rows.length ? h('table', null,
          h('thead', null, h('tr', null, ['When', 'Step', 'Person', 'Channel', 'Decision', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, rows)) : h('p', { class: 'muted' }, 'Nobody has been considered yet.'));
    }

    function resolveForm(a) {
      // The API says when the action is required (temperature alerts), in
      // the same words for every client.
      const action = h('textarea', { name: 'action', placeholder: 'e.g. moved stock to the walk-in, called the technician' });
      const disposition = h('select', { name: 'disposition' }, ['', 'kept', 'moved', 'reheated', 'discarded', 'other'].map((v) => h('option', { value: v }, v || '— choose —')));
      const notes = h('input', { name: 'notes', type: 'text' });
      const submit = h('button', { type: 'submit', class: 'primary', id: 'resolve' }, 'Resolve');
      const form = h('form', { id: 'resolve-form' }, h('h2', null, 'Resolve'),
        field('Corrective action taken', action), field('What became of the food', disposition), field('Notes (optional)', notes), submit);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        guard(submit, async () => {
          const body = { action: action.value.trim() };
          if (disposition.value) body.disposition = disposition.value;
          if (notes.value.trim()) body.notes = notes.value.trim();
          await api('POST', 'alerts/' + id + '/resolve', body);
          toast('Resolved.');
          form.reset();
          await render();
        });
      });
      return form;
    }

    function commentForm() {
      const text = h('input', { name: 'text', type: 'text', required: true });
      const submit = h('button', { type: 'submit', class: 'secondary' }, 'Add comment');
      const form = h('form', { id: 'comment-form' }, field('Comment', text), submit);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        guard(submit, async () => {
          await api('POST', 'alerts/' + id + '/comments', { text: text.value.trim() });
          text.value = '';
          await render();
        });
      });
      return form;
    }

    await render();
    events('', { alert(d) { if (d.alert_id === id || d.id === id) render(); }, notification(d) { if (d.alert_id === id) render(); }, reset() { render(); } });
  };
})();

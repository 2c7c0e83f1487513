// Unit page, the cooling logs of a blast chiller or hot-holding unit (Food
// Code 3-501.14: cooked food from 57 °C to 21 °C within 2 h, and to 5 °C
// within 6 h in all): start one (staff and up), follow the running one's
// stages against their deadlines, cancel it, and the recent logs with
// their result (FT.unitCooling).
'use strict';
(function () {
  const { h, put, api, temp, toC, when, field, guard, toast, UNIT, FAHRENHEIT } = FT;
  const KINDS = ['blast_chiller', 'hot_holding'];
  const RESULT = { running: 'running', passed: 'passed', failed: 'failed', cancelled: 'cancelled' };
  const CHIP = { running: 'pending', passed: 'ok', failed: 'failed', cancelled: 'offline', reached: 'ok', missed: 'failed', 'in progress': 'pending', overdue: 'alerting', waiting: 'offline' };

  function chip(state) { return h('span', { class: 'chip s-' + (CHIP[state] || state), 'data-state': state }, state); }

  function left(deadline) {
    const min = Math.round((new Date(deadline).getTime() - Date.now()) / 60000);
    const hm = (m) => (m >= 60 ? Math.floor(m / 60) + ' h ' + (m % 60) + ' min' : m + ' min');
    return min >= 0 ? hm(min) + ' left' : 'overdue by ' + hm(-min);
  }

  // stage is one stage of a log: its target and deadline, where it stands,
  // and how far the food has come from the stage's start to its target.
  function stage(l, n) {
    const target = n === 1 ? l.stage1_target_c : l.stage2_target_c;
    const deadline = n === 1 ? l.stage1_deadline : l.stage2_deadline;
    const at = n === 1 ? l.stage1_at : l.stage2_at;
    const current = n === 1 ? !l.stage1_at : !!l.stage1_at && !l.stage2_at;
    let state = 'waiting';
    if (at) state = 'reached';
    else if (l.status === 'failed' && l.failed_stage === n) state = 'missed';
    else if (l.status === 'running' && current) state = new Date(deadline) < Date.now() ? 'overdue' : 'in progress';
    const from = n === 1 ? l.start_c : l.stage1_target_c;
    let pct = null;
    if (at) pct = 100;
    else if (current && from !== null && from !== undefined && l.last_c !== null && l.last_c !== undefined && from !== target) {
      pct = Math.max(0, Math.min(100, (from - l.last_c) / (from - target) * 100));
    }
    return h('li', { 'data-stage': n, 'data-state': state },
      h('strong', null, 'Stage ' + n + ': to ' + temp(target) + ' by ' + when(deadline)), ' ', chip(state),
      h('div', { class: 'muted' }, at ? 'reached ' + when(at) : state === 'in progress' || state === 'overdue' ? left(deadline) : ''),
      pct === null ? null : h('progress', { max: 100, value: Math.round(pct), 'aria-label': 'Stage ' + n + ' progress' }));
  }

  FT.unitCooling = function (unit) {
    if (!KINDS.includes(unit.kind)) return null;
    const box = h('section', { class: 'card', id: 'cooling' });
    const base = 'units/' + unit.id + '/cooling';
    let timer = null;
    // The start form outlives a refresh, so a live update keeps what is
    // being typed.
    let form = null;

    function running(l) {
      const cancel = FT.D.can.operate ? h('button', { type: 'button', class: 'danger', id: 'cancel-cooling' }, 'Cancel this cooling log') : null;
      if (cancel) cancel.addEventListener('click', () => guard(cancel, async () => {
        await api('POST', base + '/' + l.id + '/cancel');
        toast('Cooling log cancelled.');
        await refresh();
      }));
      return h('div', { id: 'cooling-running', 'data-log': l.id },
        h('p', null, h('strong', null, l.item || 'Cooling'), ' · started ', when(l.started_at),
          l.start_c !== null && l.start_c !== undefined ? ' at ' + temp(l.start_c) : '',
          l.last_c !== null && l.last_c !== undefined ? ' · now ' + temp(l.last_c) : '',
          l.source === 'detected' ? h('span', { class: 'muted' }, ' (recognised in the readings)') : null),
        h('ol', { class: 'stages' }, [1, 2].map((n) => stage(l, n))),
        cancel ? h('div', { class: 'actions' }, cancel) : null);
    }

    function startForm() {
      const item = h('input', { name: 'food', type: 'text', required: true, maxlength: 200, placeholder: 'e.g. Beef stock, 20 l' });
      const start = h('input', { name: 'start_c', type: 'number', step: '0.1', inputmode: 'decimal', placeholder: FAHRENHEIT ? '160' : '71' });
      const submit = h('button', { type: 'submit', class: 'primary', id: 'start-cooling' }, 'Start cooling log');
      const el = h('form', { id: 'cooling-form' }, h('div', { class: 'grid2' }, field('What is cooled', item),
        field('Its temperature now (' + UNIT + ', optional)', start)), submit);
      el.addEventListener('submit', (ev) => {
        ev.preventDefault();
        guard(submit, async () => {
          const body = { item: item.value.trim() };
          if (start.value !== '') body.start_c = Math.round(toC(Number(start.value)) * 100) / 100;
          await api('POST', base, body);
          form.reset();
          toast('Cooling log started: ' + temp(21) + ' within 2 h, ' + temp(5) + ' within 6 h.');
          await refresh();
        });
      });
      return el;
    }

    function recent(logs) {
      if (!logs.length) return h('p', { class: 'muted' }, 'No cooling logs yet.');
      return h('div', { class: 'scroll' }, h('table', { id: 'cooling-logs' },
        h('thead', null, h('tr', null, h('th', null, 'Started'), h('th', null, 'Item'), h('th', null, 'Result'), h('th', null, 'Ended'))),
        h('tbody', null, logs.map((l) => h('tr', { 'data-log': l.id, 'data-status': l.status },
          h('td', null, when(l.started_at)), h('td', null, l.item || (l.source === 'detected' ? 'recognised in the readings' : '–')),
          h('td', null, chip(RESULT[l.status] || l.status), l.status === 'failed' && l.failed_stage ? ' stage ' + l.failed_stage + ' missed' : ''),
          h('td', null, l.ended_at ? when(l.ended_at) : '–'))))));
    }

    async function refresh() {
      let logs;
      try {
        logs = (await api('GET', base + '?limit=20')).items || [];
      } catch (e) { toast(e.message, 'error'); return; }
      const now = logs.find((l) => l.status === 'running');
      put(box, h('h2', null, 'Cooling logs'),
        h('p', { class: 'muted' }, 'Cooked food must reach ' + temp(21) + ' within 2 h and ' + temp(5) + ' within 6 h in all.'),
        now ? running(now) : FT.D.can.operate ? (form = form || startForm()) : h('p', { class: 'muted' }, 'No cooling log is running.'),
        h('h3', null, 'Recent'), recent(logs.filter((l) => l !== now)));
      box.dataset.running = now ? now.id : '';
      // Time alone moves a running log toward its deadlines.
      clearTimeout(timer);
      if (now) timer = setTimeout(refresh, 60000);
    }

    return { el: box, refresh };
  };
})();

// Settings for admins: the organisation's plan, its subscription and its
// sensors against the limit; owners subscribe through Stripe Checkout and
// manage the subscription in Stripe's customer portal.
'use strict';
(function () {
  const { D, h, api, toast, guard, when } = FT;
  const { human } = FT.settingsKit;

  const LIVE = ['trial', 'trialing', 'active', 'past_due', 'unpaid'];
  const STATUS = {
    none: 'No subscription', trial: 'Trial', trialing: 'Trial', active: 'Active', past_due: 'Payment overdue', unpaid: 'Unpaid',
    canceled: 'Canceled', paused: 'Paused', incomplete: 'Awaiting first payment', incomplete_expired: 'First payment failed',
  };

  function limitText(s) {
    return s.limit === null ? s.used + ' sensors (no limit)' : s.used + ' of ' + s.limit + ' sensors' + (s.contract ? ' (by contract)' : '');
  }

  async function billingSection(box) {
    const body = h('div');
    box.append(body);
    const q = new URLSearchParams(location.search);
    if (q.get('checkout') === 'done') toast('Thank you. Stripe is confirming the subscription; this page shows it once it has.');
    if (q.get('checkout') === 'cancelled') toast('Checkout cancelled: nothing changed.');
    let st;
    try {
      st = await api('GET', 'billing');
    } catch (err) {
      if (err.status === 503) {
        body.append(h('p', { class: 'card', id: 'billing-off' }, 'Billing is not configured on this server, so ' + D.org.name +
          ' has no plan to manage. Its sensor limit, if any, is set by whoever runs FreshTrack.'));
        return;
      }
      throw err;
    }
    const live = LIVE.includes(st.status);
    const rows = [
      ['Plan', human(st.plan)],
      ['Status', STATUS[st.status] || human(st.status)],
      ['Sensors', limitText(st.sensors)],
    ];
    if (st.trial_end && (st.status === 'trialing' || st.status === 'trial')) rows.push(['Trial ends', when(st.trial_end)]);
    if (st.current_period_end && live) rows.push([st.cancel_at_period_end ? 'Ends' : 'Renews', when(st.current_period_end)]);
    if (st.last_payment_failed_at && st.status !== 'active') rows.push(['Last payment failed', when(st.last_payment_failed_at)]);
    const summary = h('dl', { class: 'card facts', id: 'billing-summary' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    body.append(summary);
    if (st.sensors.blocked) body.append(h('p', { class: 'card warn', role: 'status' }, st.sensors.blocked));
    else if (st.grace_ends_at) body.append(h('p', { class: 'card warn', role: 'status' }, 'The last payment failed. New sensors can be added until ' + when(st.grace_ends_at) + '; readings are always stored.'));
    else if (!st.sensors.can_add) body.append(h('p', { class: 'card', role: 'status' }, 'The sensor limit is reached: retire a sensor or choose a larger plan to add more.'));

    if (!D.can.own) {
      body.append(h('p', { class: 'muted' }, 'Only owners of ' + D.org.name + ' can subscribe or change the plan.'));
    } else if (live) {
      const portal = h('button', { type: 'button', class: 'primary', id: 'billing-portal' }, 'Manage billing');
      portal.addEventListener('click', () => guard(portal, async () => {
        location.href = (await api('POST', 'billing/portal')).url;
      }));
      body.append(h('div', { class: 'actions' }, portal, h('small', { class: 'muted' }, ' Change plan, payment method or invoices, or cancel, at Stripe.')));
    } else {
      const plans = st.plans.filter((p) => p.price_id);
      if (!plans.length) body.append(h('p', { class: 'muted' }, 'No plan can be bought here; ask the operator of this FreshTrack.'));
      const list = h('ul', { class: 'plans' }, plans.map((p) => {
        const b = h('button', { type: 'button', class: 'primary', 'data-plan': p.name }, 'Subscribe to ' + human(p.name));
        b.addEventListener('click', () => guard(b, async () => {
          location.href = (await api('POST', 'billing/checkout', { plan: p.name })).url;
        }));
        return h('li', { class: 'card' }, h('strong', {}, human(p.name)), ' up to ' + p.sensors + ' sensors ', b);
      }));
      body.append(list);
    }
    const metered = st.metering.filter((m) => m.last_sent_hour || m.unsent || m.pending);
    if (metered.length) {
      body.append(h('h3', {}, 'Usage sent to Stripe'), h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Meter'), h('th', {}, 'Last hour sent'), h('th', {}, 'Not sent'))),
        h('tbody', {}, metered.map((m) => h('tr', {}, h('td', {}, m.event_name), h('td', {}, when(m.last_sent_hour)), h('td', {}, String(m.unsent)))))));
    }
  }

  FT.settingsKit.billingSection = billingSection;
})();

// My profile: how FreshTrack reaches the signed-in person (GET/PATCH
// /v1/me): name, phone (verified by a code sent to it), SMS and email
// opt-ins, time zone, and this organisation's digests with a site filter.
'use strict';
(function () {
  const { D, h, put, api, all, field, toast, guard } = FT;

  FT.pages.profile = async function (main) {
    const [me, sites] = await Promise.all([api('GET', '/v1/me'), all('sites')]);
    put(main, h('h1', {}, 'My profile'), h('p', { class: 'muted intro' }, 'How FreshTrack reaches you. Alerts use your phone only once you have confirmed it with the code sent to it.'));
    main.append(detailsForm(me), phoneBox(me), digestsBox(me, sites));
  };

  function detailsForm(me) {
    const name = h('input', { type: 'text', value: me.name || '', maxlength: 200, required: true });
    const zone = h('input', { type: 'text', value: me.timezone || '', placeholder: 'Europe/Berlin', list: 'zones' });
    const zones = h('datalist', { id: 'zones' }, (Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : []).map((z) => h('option', { value: z })));
    const sms = h('input', { type: 'checkbox', checked: me.sms_opt_in });
    const email = h('input', { type: 'checkbox', checked: me.email_opt_in });
    const save = h('button', { type: 'submit' }, 'Save');
    const form = h('form', { class: 'card', id: 'profile-form' },
      h('h2', {}, 'Details'),
      field('Name', name),
      field('Time zone', zone, 'IANA name; empty follows each site.'), zones,
      h('label', { class: 'check' }, sms, ' Alerts by SMS'),
      h('label', { class: 'check' }, email, ' Alerts by email'),
      save);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      guard(save, async () => {
        await api('PATCH', '/v1/me', { name: name.value, timezone: zone.value.trim(), sms_opt_in: sms.checked, email_opt_in: email.checked });
        toast('Profile saved.');
      });
    });
    return form;
  }

  function phoneBox(me) {
    const box = h('section', { class: 'card', id: 'profile-phone' });
    function render(me) {
      const state = me.phone ? (me.phone_verified ? 'verified' : (me.phone_pending ? 'waiting for the code' : 'not verified')) : 'none';
      const phone = h('input', { type: 'tel', value: me.phone || '', placeholder: '+4915112345678', pattern: '^\\+[1-9][0-9]{1,14}$' });
      const send = h('button', { type: 'submit' }, 'Send code');
      const form = h('form', {}, field('Phone', phone, 'International form. A 6-digit code is sent to it by SMS.'), send);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        guard(send, async () => {
          render(await api('PATCH', '/v1/me', { phone: phone.value.trim() }));
          toast('Code sent to ' + phone.value.trim() + '.');
        });
      });
      const parts = [h('h2', {}, 'Phone'), h('p', { id: 'phone-state' }, 'Phone: ' + (me.phone || '–') + ' (' + state + ')'), form];
      if (me.phone_pending) {
        const code = h('input', { type: 'text', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6, autocomplete: 'one-time-code', required: true });
        const ok = h('button', { type: 'submit' }, 'Confirm');
        const cf = h('form', { id: 'phone-confirm' }, field('Code', code), ok);
        cf.addEventListener('submit', (ev) => {
          ev.preventDefault();
          guard(ok, async () => {
            render(await api('POST', '/v1/me/phone/confirm', { code: code.value.trim() }));
            toast('Phone confirmed: alerts by SMS reach it now.');
          });
        });
        parts.push(cf);
      }
      put(box, parts);
    }
    render(me);
    return box;
  }

  const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

  function digestsBox(me, sites) {
    const box = h('section', { class: 'card', id: 'profile-digests' }, h('h2', {}, 'Digests of ' + D.org.name));
    for (const freq of ['daily', 'weekly']) {
      const cur = (me.digests || []).find((d) => d.org_id === D.org.id && d.frequency === freq);
      const on = h('input', { type: 'checkbox', checked: !!(cur && cur.enabled) });
      const hour = h('input', { type: 'number', min: 0, max: 23, value: cur ? cur.local_hour : 7 });
      const day = h('select', {}, DAYS.map((d, i) => h('option', { value: i, selected: (cur ? cur.weekday : 1) === i }, d)));
      const chosen = new Set((cur && cur.site_ids) || []);
      const siteBoxes = sites.map((s) => ({ id: s.id, box: h('input', { type: 'checkbox', checked: chosen.has(s.id) }), name: s.name }));
      const save = h('button', { type: 'submit' }, 'Save ' + freq + ' digest');
      const form = h('form', { 'data-frequency': freq },
        h('label', { class: 'check' }, on, ' ' + (freq === 'daily' ? 'Daily' : 'Weekly') + ' digest email'),
        field('Hour', hour),
        freq === 'weekly' ? field('Day', day) : null,
        h('fieldset', {}, h('legend', {}, 'Sites (none ticked: all)'), siteBoxes.map((s) => h('label', { class: 'check' }, s.box, ' ' + s.name))),
        save);
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        guard(save, async () => {
          const d = { org_id: D.org.id, frequency: freq, enabled: on.checked, local_hour: Number(hour.value), site_ids: siteBoxes.filter((s) => s.box.checked).map((s) => s.id) };
          if (freq === 'weekly') d.weekday = Number(day.value);
          await api('PATCH', '/v1/me', { digests: [d] });
          toast((freq === 'daily' ? 'Daily' : 'Weekly') + ' digest saved.');
        });
      });
      box.append(form);
    }
    return box;
  }
})();

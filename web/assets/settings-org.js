// Settings, the organisation itself: its name, the temperature unit people
// see, and whether unknown sensors register themselves. Managers see it;
// admins change it (PATCH /v1/orgs/{org} needs the administer permission).
'use strict';
(function () {
  const { D, h, api, field, toast, guard, ORG } = FT;
  const { quoted, uid, submitButton } = FT.settingsKit;

  const UNITS = [['C', 'Celsius (°C)'], ['F', 'Fahrenheit (°F)']];
  // A change the page reloads for is told after the reload.
  const SAVED = 'freshtrack.settings.saved';

  async function organisationSection(box, sec, heading) {
    const admin = !!D.can.administer;
    const formBox = h('div');
    box.append(h('p', { class: 'muted intro' }, admin
      ? 'How FreshTrack names ' + D.org.name + ' and shows its temperatures, and what it does with a sensor it does not know yet.'
      : 'How FreshTrack names ' + D.org.name + ' and shows its temperatures. Only admins can change these.'), formBox);
    const said = sessionStorage.getItem(SAVED);
    if (said) { sessionStorage.removeItem(SAVED); toast(said); }

    let org;
    async function load() { org = await api('GET', '/v1/orgs/' + ORG); }

    function render() {
      const settings = org.settings || {};
      const unit0 = settings.temperature_unit === 'F' ? 'F' : 'C';
      const auto0 = !!settings.auto_register_sensors;
      const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, autocomplete: 'organization', value: org.name });
      const radios = UNITS.map(([v, label]) => {
        const r = h('input', { type: 'radio', name: 'temperature_unit', id: uid('tu'), value: v, checked: v === unit0 });
        return { r, el: h('label', { for: r.id }, r, ' ', label) };
      });
      const unitGroup = h('fieldset', { class: 'field group' }, h('legend', {}, 'Temperature unit'), radios.map((x) => x.el),
        h('small', { class: 'muted' }, 'For everyone in ' + org.name + ': readings, safe ranges, thresholds and reports.'));
      const auto = h('input', { type: 'checkbox', name: 'auto_register_sensors', id: uid('cb'), checked: auto0 });
      const autoField = h('div', { class: 'field check wide' }, auto, h('label', { for: auto.id }, 'Register unknown sensors automatically'),
        h('small', { class: 'muted' }, 'When a device id the organisation does not know sends readings with one of its API keys, add it as an unassigned sensor instead of refusing the readings.'));
      const body = h('fieldset', { class: 'plain', disabled: !admin }, h('legend', { class: 'sr' }, 'Organisation'),
        h('div', { class: 'grid2' }, field('Name', name), unitGroup, autoField));
      const save = admin ? submitButton('Save changes') : null;
      const form = h('form', { id: 'org-form', class: 'card', 'data-version': org.version, novalidate: true }, body,
        save ? h('div', { class: 'actions' }, save) : null);
      if (admin) form.addEventListener('submit', (e) => {
        e.preventDefault();
        guard(save, async () => {
          const unit = radios.find((x) => x.r.checked).r.value;
          const patch = {};
          const newName = name.value.trim();
          if (newName !== org.name) {
            if (!newName) { name.focus(); throw new Error('The organisation needs a name.'); }
            patch.name = newName;
          }
          // The API replaces settings as a whole: send every key it has,
          // with the changed ones.
          if (unit !== unit0 || auto.checked !== auto0) {
            patch.settings = Object.assign({}, settings);
            if (unit !== unit0) patch.settings.temperature_unit = unit;
            if (auto.checked !== auto0) patch.settings.auto_register_sensors = auto.checked;
          }
          if (!Object.keys(patch).length) { toast('Nothing changed.'); return; }
          patch.version = org.version;
          let saved;
          try {
            saved = await api('PATCH', '/v1/orgs/' + ORG, patch);
          } catch (err) {
            if (err.status === 412) {
              await load();
              render();
              err.message = 'Someone else changed the organisation meanwhile. The form now shows the latest version; make your change again.';
            }
            throw err;
          }
          // The page's header, titles and FT.UNIT were set at load: a new
          // name or unit shows everywhere after a reload.
          if (patch.name !== undefined || unit !== unit0) {
            sessionStorage.setItem(SAVED, 'Organisation ' + quoted(saved.name) + ' saved.');
            location.reload();
            return;
          }
          org = saved;
          render();
          toast('Organisation ' + quoted(org.name) + ' saved.');
          heading.focus();
        });
      });
      formBox.replaceChildren(form);
    }

    await load();
    render();
  }

  FT.settingsKit.organisationSection = organisationSection;
})();

// Settings, notification policies: how an organisation, a site or a unit
// is told of its alerts, per alert kind. The most specific policy wins
// (unit + kind, unit, site + kind, site, organisation + kind,
// organisation); without one, alerts follow the escalation policies. The
// form is the generic one of settings.js, built from the API's schema;
// this file only words and orders it, and registers the section's
// configuration in FT.settingsKit.moreResources, which settings.js reads.
'use strict';
(function () {
  const { h } = FT;
  const { human, valueLabel, refName } = FT.settingsKit;

  function scopeText(st, i) {
    const where = i.unit_id ? 'Unit ' + refName(st, 'units', i.unit_id) : i.site_id ? 'Site ' + refName(st, 'sites', i.site_id) : 'Whole organisation';
    return where + (i.alert_kind ? ' · ' + valueLabel(i.alert_kind) : ' · any alert');
  }
  function stepText(st, s) {
    const who = (s.roles || []).map(human).concat((s.contact_ids || []).map((id) => refName(st, 'contacts', id)));
    return (s.after_minutes ? 'After ' + s.after_minutes + ' min' : 'At once') + ': ' +
      (s.channels || []).map(valueLabel).join(' + ') + ' to ' + (who.join(', ') || 'nobody');
  }
  function quietText(i) {
    if (!i.quiet_start) return 'None';
    return i.quiet_start + '–' + i.quiet_end + (i.quiet_overridden_by_critical ? ' (critical alerts still go out)' : ' (critical alerts wait too)');
  }

  FT.settingsKit.moreResources = Object.assign(FT.settingsKit.moreResources || {}, {
    'notification-policies': {
      intro: 'Who is told of an alert, on which channels, when and how often. A unit’s policy wins over its site’s, a site’s over the organisation’s, ' +
        'and one for an alert kind over one for any kind. Quiet hours are in the site’s time zone: messages due then wait until they end.',
      order: ['name', 'site_id', 'unit_id', 'alert_kind', 'min_severity', 'initial_channels', 'steps', 'ack_deadline_minutes', 'reminder_minutes',
        'quiet_start', 'quiet_end', 'quiet_overridden_by_critical', 'notify_on_resolve'],
      labels: {
        alert_kind: 'Alert kind', min_severity: 'Only alerts at least this severe', initial_channels: 'First message by',
        ack_deadline_minutes: 'Escalate no sooner than (minutes)', reminder_minutes: 'Remind every (minutes)',
        quiet_start: 'Quiet hours from (HH:MM)', quiet_end: 'Quiet hours until (HH:MM)',
        quiet_overridden_by_critical: 'Critical alerts ignore the quiet hours', notify_on_resolve: 'Tell everyone notified when the alert is resolved',
      },
      defaults: { quiet_overridden_by_critical: true, min_severity: 'info' },
      placeholders: { name: 'Freezers at night', quiet_start: '22:00', quiet_end: '07:00', ack_deadline_minutes: '0', reminder_minutes: '0' },
      hints: {
        site_id: 'Empty for the whole organisation or a unit policy.', unit_id: 'A unit policy leaves the site empty.',
        alert_kind: 'Empty: any kind of alert.', initial_channels: 'Empty: the first step’s own channels.',
        ack_deadline_minutes: 'The first people get this long to acknowledge before anyone else is told. 0: the steps’ own times.',
        reminder_minutes: '0: no reminders; else 5 to 1440. Reminders stop once someone acknowledges.',
        quiet_start: 'In the site’s time zone; may wrap midnight (22:00 until 07:00).', quiet_end: '', name: '',
      },
      needs: ['contacts', 'sites', 'units'],
      columns: (st) => [
        { label: 'Name', cell: (i) => i.name },
        { label: 'Applies to', cell: (i) => scopeText(st, i) },
        { label: 'Severity', cell: (i) => 'from ' + (i.min_severity || 'info') },
        { label: 'Steps', cell: (i) => h('ol', { class: 'compact' }, (i.steps || []).map((s) => h('li', {}, stepText(st, s)))) },
        { label: 'Quiet hours', cell: quietText },
        { label: 'Reminders', cell: (i) => (i.reminder_minutes ? 'every ' + i.reminder_minutes + ' min' : 'none') },
      ],
    },
  });
})();

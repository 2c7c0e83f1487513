// Rule kinds in people's words. A rule's threshold and confirm delay mean
// something different for each kind (alerting/rules.go): °C for the
// temperature rules, a lead time for a trend, minutes a day for time out of
// temperature, days ahead for a calibration... This file says how each one
// is labelled in the rule form, how a rule's or an alert's limit reads, and
// how the detectors' details of a triggered event read (FT.kinds).
'use strict';
(function () {
  const { h, temp, when, UNIT, FAHRENHEIT } = FT;

  // The kinds the food-safety detectors raise (alerting.Evaluated is false
  // for them): no temperature peak, a summary, details on 'triggered'.
  const FOOD_SAFETY = ['trend_warning', 'defrost', 'door_open', 'time_out_of_temp', 'cooling',
    'manual_log_missed', 'calibration_due', 'sensor_implausible'];
  const UNUSED = 'Not used for this kind of rule.';

  function delta(c) {
    const v = FAHRENHEIT ? c * 9 / 5 : c;
    return (Math.round(v * 10) / 10).toFixed(1) + ' ' + UNIT;
  }
  const num = (v) => String(Math.round(Number(v) * 100) / 100);
  const mins = (v) => num(v) + ' min';

  // Per kind: the threshold's label and hint in the rule form, how a value
  // of it reads (show), what an alert's limit row is called (limit), and
  // the confirm delay's label and hint where it is used.
  const RULES = {
    temp_high: { limit: 'Limit', show: (v) => temp(v) },
    temp_low: { limit: 'Limit', show: (v) => temp(v) },
    sensor_offline: {
      threshold: ['Threshold (minutes)', 'Minutes without a reading before the sensor counts as offline.'],
      limit: 'Offline after', show: (v) => mins(v) + ' without a reading',
    },
    battery_low: { threshold: ['Threshold (%)', 'Battery level below which to alert.'], limit: 'Battery below', show: (v) => num(v) + ' %' },
    sensor_fault: { threshold: ['Threshold', 'Not used for sensor faults.'], show: () => '' },
    trend_warning: {
      threshold: ['Lead time (minutes)', 'Warn when the trend will cross the unit’s limit within this many minutes.'],
      confirm: ['Sustained for (seconds)', 'How long the trend must hold before the warning is raised (600 = 10 min).'],
      limit: 'Lead time', show: (v) => mins(v) + ' ahead of the limit',
    },
    defrost: {
      threshold: ['Peak allowance (' + UNIT + ' above the learned peak)', 'How far above its learned peak a recognised defrost may rise without a temperature alert.'],
      confirm: ['Longer than learned by (seconds)', 'How much longer than its learned duration a defrost may run (900 = 15 min).'],
      limit: 'Allowed above the learned peak', show: (v) => delta(v) + ' above the learned peak', delta: true,
    },
    door_open: {
      threshold: ['Open for (minutes)', 'Minutes a door may stay open before it alerts.'],
      limit: 'Allowed open', show: (v) => mins(v) + ' open',
    },
    time_out_of_temp: {
      threshold: ['Out of range (minutes a day)', 'Minutes out of the safe range per local day, however short each excursion was (240: the 4-hour rule).'],
      limit: 'Allowed out of range', show: (v) => mins(v) + ' a day',
    },
    cooling: {
      threshold: ['Warn before the deadline (minutes)', 'Minutes before a cooling stage’s deadline at which a projected miss alerts.'],
      limit: 'Warns', show: (v) => mins(v) + ' before a stage’s deadline',
    },
    manual_log_missed: {
      threshold: ['Grace (minutes)', 'Minutes past the site’s manual-check cadence before a missed check alerts.'],
      limit: 'Grace', show: (v) => mins(v) + ' past the site’s cadence',
    },
    calibration_due: {
      threshold: ['Warn ahead (days)', 'Days of warning before a sensor’s calibration is due.'],
      limit: 'Warns', show: (v) => num(v) + ' days ahead',
    },
    sensor_implausible: {
      threshold: ['Stuck for (hours)', 'Hours one probe may repeat exactly one value (empty: 6). Impossible jumps always alert.'],
      limit: 'Stuck for', show: (v) => num(v) + ' h', none: '6 h (built-in)',
    },
  };

  const foodSafety = (k) => FOOD_SAFETY.includes(k);

  // threshold and confirm are a rule kind's form labels: [label, hint].
  function threshold(k) {
    const r = RULES[k] || {};
    return r.threshold || ['Threshold', ''];
  }
  function confirm(k) {
    const r = RULES[k] || {};
    if (r.confirm) return r.confirm;
    if (foodSafety(k)) return ['Confirm after (seconds)', UNUSED];
    return ['Confirm after (seconds)', 'How long the condition must hold before an alert opens (600 = 10 min).'];
  }
  // usesConfirm and usesHysteresis: the detectors read neither for most
  // of their kinds.
  const usesConfirm = (k) => !foodSafety(k) || !!(RULES[k] || {}).confirm;
  const usesHysteresis = (k) => !foodSafety(k) && k !== 'sensor_offline' && k !== 'sensor_fault';
  const thresholdIsDelta = (k) => !!(RULES[k] || {}).delta;

  // limit reads a rule's or an alert's threshold; '' when the kind has
  // none (sensor_fault).
  function limit(k, v) {
    const r = RULES[k];
    if (!r || !r.show) return v === null || v === undefined ? '' : num(v);
    if (v === null || v === undefined || (r.none && !v)) return r.none || '';
    return r.show(v);
  }
  function limitLabel(k) { return (RULES[k] || {}).limit || 'Limit'; }

  // ---- a triggered event's details -----------------------------------

  // What the alert itself shows already (kind, threshold, summary, times)
  // or only the system uses (ids: sensor is the internal key).
  const SKIP = new Set(['rule_id', 'kind', 'policy_id', 'summary', 'threshold', 'confirm_seconds', 'hysteresis',
    'started_at', 'confirmed_at', 'value', 'peak', 'sensor']);
  const KEY_LABELS = {
    slope_c_per_h: 'Trend', level_c: 'Temperature now', limit_c: 'Limit', predicted_cross: 'Expected to cross the limit',
    minutes_to_limit: 'Time to the limit', after_minutes: 'Allowed open', opened: 'Door opened', minutes: 'Duration',
    limit_minutes: 'Allowed out of range per day', day: 'Day', first_out: 'First out of range', low_c: 'Safe minimum',
    high_c: 'Safe maximum', stuck: 'Repeating one value', jump: 'Jumped', previous_c: 'Previous reading', c: 'Reading',
    stuck_hours: 'Allowed to repeat one value', max_jump_c: 'Largest plausible change', stage: 'Stage', target_c: 'Target',
    deadline: 'Deadline', projected_at: 'Projected to reach it', start_c: 'Start temperature', last_c: 'Latest temperature',
    due_at: 'Due', calibrated_at: 'Last calibrated', cadence_minutes: 'Cadence', last_check_at: 'Last manual check',
    now_c: 'Temperature now', projected: 'Projected to reach it', source: 'Cooling log',
  };
  // The figure a food-safety alert is about (Condition.Value), for the
  // kinds whose details do not say it already.
  const VALUE = { door_open: ['Open for', mins] };
  const WORDS = { manual: 'started by a person', detected: 'recognised in the readings' };
  const DELTA_KEY = /(^|_)(rise|jump|margin|delta|offset|allowance)_c$/;
  const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d/;

  function keyLabel(k) {
    if (KEY_LABELS[k]) return KEY_LABELS[k];
    const s = k.replace(/_(c|c_per_h|minutes|hours|seconds|at)$/, '').replace(/_/g, ' ');
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  // show reads one detail by its key's unit suffix; '' leaves it out.
  function show(k, v) {
    if (v === null || v === undefined || v === '') return '';
    if (typeof v === 'boolean') return v ? 'Yes' : 'No';
    if (Array.isArray(v)) return v.map((x) => show(k, x)).filter(Boolean).join(', ');
    if (typeof v === 'object') return Object.entries(v).map(([kk, x]) => { const s = show(kk, x); return s && keyLabel(kk) + ' ' + s; }).filter(Boolean).join('; ');
    if (typeof v === 'number') {
      if (/_c_per_h$/.test(k)) return (v > 0 ? '+' : '') + delta(v) + '/h';
      if (DELTA_KEY.test(k)) return delta(v);
      if (/_c$/.test(k) || k === 'c') return temp(v);
      if (/(^|_)minutes$|^minutes_/.test(k)) return mins(v);
      if (/(^|_)hours$|^hours_/.test(k)) return num(v) + ' h';
      if (/_seconds$/.test(k)) return mins(v / 60);
      return num(v);
    }
    const s = String(v);
    if (TIME.test(s) && !Number.isNaN(Date.parse(s))) return when(s);
    return WORDS[s] || s;
  }

  // details is a triggered event's details as a list a person reads, or
  // null when nothing is left to say.
  function details(kind, d) {
    if (!d || typeof d !== 'object') return null;
    const rows = [];
    const v = VALUE[kind];
    if (v && typeof d.value === 'number') rows.push(['value', v[0], v[1](d.value)]);
    for (const [k, x] of Object.entries(d)) {
      if (SKIP.has(k)) continue;
      const s = show(k, x);
      if (s) rows.push([k, keyLabel(k), s]);
    }
    if (!rows.length) return null;
    return h('dl', { class: 'details', 'data-details': kind },
      rows.map(([k, label, s]) => h('div', { 'data-key': k }, h('dt', null, label), h('dd', null, s))));
  }

  FT.kinds = { foodSafety, threshold, confirm, usesConfirm, usesHysteresis, thresholdIsDelta, limit, limitLabel, details };
})();

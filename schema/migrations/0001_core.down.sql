DROP TABLE IF EXISTS storage_mode, usage_reports, subscriptions, audit_log, notifications,
    corrective_actions, alert_events, alerts, contacts, escalation_policies, alert_rules,
    api_keys, sensors, units, areas, sites, memberships, users, organizations;
DROP FUNCTION IF EXISTS audit_log_chain(), audit_log_immutable();
DROP TYPE IF EXISTS member_role;

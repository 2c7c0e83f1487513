-- Live updates. The database announces, on one NOTIFY channel, the changes a
-- dashboard's event stream shows and those that end a stream: alert events,
-- notification status changes, memberships changed or removed, organisations
-- deleted. NOTIFY is delivered at commit, in commit order, to every
-- listening instance, so whichever process or transaction made the change,
-- every instance hears of it once it is visible, and never of a change that
-- rolled back.

-- recorded_at is when the event row was written (at is when the event
-- happened, which for an alert opened by a late reading may be long
-- before). A stream that resumes replays the events recorded since it
-- broke off.
ALTER TABLE alert_events ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE INDEX alert_events_org_recorded ON alert_events (org_id, recorded_at);

-- What a stream's client reads of an alert event and of a message's status:
-- the same JSON whether the event is announced at commit or replayed to a
-- stream that resumes.
CREATE FUNCTION freshtrack_alert_event_json(e alert_events) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('event_id', e.id, 'alert_id', e.alert_id, 'unit_id', a.unit_id, 'site_id', u.site_id,
               'alert_kind', a.kind, 'severity', a.severity, 'kind', e.kind,
               'action', CASE e.kind WHEN 'triggered' THEN 'opened' WHEN 'auto_resolved' THEN 'resolved'
                                     WHEN 'retriggered' THEN 'reopened' ELSE e.kind END,
               'at', e.at, 'recorded_at', e.recorded_at, 'actor_id', e.actor_id, 'details', e.details)
      FROM alerts a LEFT JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
     WHERE a.org_id = e.org_id AND a.id = e.alert_id
$$;

CREATE FUNCTION freshtrack_notification_json(n notifications) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('notification_id', n.id, 'alert_id', n.alert_id, 'unit_id', a.unit_id, 'site_id', u.site_id,
               'channel', n.channel, 'status', n.status, 'attempts', n.attempts, 'at', n.updated_at)
      FROM alerts a LEFT JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
     WHERE a.org_id = n.org_id AND a.id = n.alert_id
$$;

CREATE FUNCTION freshtrack_live_alert_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    data jsonb := freshtrack_alert_event_json(NEW);
BEGIN
    -- A NOTIFY payload holds at most 8000 bytes: a large event is announced
    -- without its details (the alert's page has them).
    IF octet_length(data::text) > 7000 THEN
        data := data - 'details' || '{"details_truncated": true}';
    END IF;
    PERFORM pg_notify('freshtrack_live', json_build_object('t', 'alert', 'org_id', NEW.org_id, 'site_id', data->>'site_id',
                 'unit_id', data->>'unit_id', 'data', data)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER alert_events_live AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION freshtrack_live_alert_event();

-- Messages about an alert only: a digest's status is its recipient's business.
CREATE FUNCTION freshtrack_live_notification() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    data jsonb := freshtrack_notification_json(NEW);
BEGIN
    PERFORM pg_notify('freshtrack_live', json_build_object('t', 'notification', 'org_id', NEW.org_id, 'site_id', data->>'site_id',
                 'unit_id', data->>'unit_id', 'data', data)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_live_insert AFTER INSERT ON notifications
    FOR EACH ROW WHEN (NEW.alert_id IS NOT NULL) EXECUTE FUNCTION freshtrack_live_notification();
CREATE TRIGGER notifications_live_status AFTER UPDATE OF status ON notifications
    FOR EACH ROW WHEN (NEW.alert_id IS NOT NULL AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION freshtrack_live_notification();

-- A member whose role changed or who was removed has their streams checked
-- again; a deleted organisation's streams end.
CREATE FUNCTION freshtrack_live_membership() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('freshtrack_live', json_build_object('t', 'membership', 'org_id', OLD.org_id, 'user_id', OLD.user_id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER memberships_live AFTER UPDATE OF role OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION freshtrack_live_membership();

CREATE FUNCTION freshtrack_live_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('freshtrack_live', json_build_object('t', 'organization', 'org_id', OLD.id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER organizations_live AFTER UPDATE OF deleted_at OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION freshtrack_live_organization();

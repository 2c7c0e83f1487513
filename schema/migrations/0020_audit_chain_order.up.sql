-- The audit chain's order is its ids' order, whatever the isolation level.
--
-- 0001's trigger took the chain's predecessor with a SELECT after an
-- advisory lock, but the row's id was drawn before the trigger ran. Two
-- appends at once in one organisation (an inspector's page reads its report,
-- chart and alerts in parallel, each view audited) could take ids 6 and 7
-- and then the lock in the order 7, 6: the chain was intact but no longer in
-- id order, and verifying by id reported it broken. And a REPEATABLE READ
-- transaction (a signature's single snapshot) could not see a row committed
-- after its snapshot, so its SELECT took an older predecessor: a fork.
--
-- Now each organisation's newest hash is a row of audit_heads, locked FOR
-- UPDATE by the append: appends queue on it, and the id is drawn after the
-- lock, so ids follow the chain. Under READ COMMITTED the lock returns the
-- newest head; under REPEATABLE READ a head that changed since the snapshot
-- is a serialization failure (40001) to retry, never a silent fork.
CREATE TABLE audit_heads (
    -- the organisation's id as text, '' for rows without one
    org_key  text PRIMARY KEY,
    hash     bytea NOT NULL
);
INSERT INTO audit_heads (org_key, hash)
SELECT DISTINCT ON (coalesce(org_id::text, '')) coalesce(org_id::text, ''), hash
  FROM audit_log ORDER BY coalesce(org_id::text, ''), id DESC;

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k text := coalesce(NEW.org_id::text, '');
BEGIN
    INSERT INTO audit_heads (org_key, hash) VALUES (k, '\x'::bytea) ON CONFLICT (org_key) DO NOTHING;
    SELECT hash INTO NEW.prev_hash FROM audit_heads WHERE org_key = k FOR UPDATE;
    NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    NEW.hash := sha256(NEW.prev_hash || convert_to(concat_ws(E'\x1f',
        NEW.id::text, coalesce(NEW.org_id::text, ''), to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        NEW.actor, NEW.action, NEW.target_type, NEW.target_id, NEW.details::text), 'UTF8'));
    UPDATE audit_heads SET hash = NEW.hash WHERE org_key = k;
    RETURN NEW;
END $$;

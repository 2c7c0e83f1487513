CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- serialise appends per organisation so the chain has no forks
    PERFORM pg_advisory_xact_lock(hashtextextended('freshtrack.audit:' || coalesce(NEW.org_id::text, ''), 0));
    SELECT hash INTO NEW.prev_hash FROM audit_log
     WHERE org_id IS NOT DISTINCT FROM NEW.org_id ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(NEW.prev_hash, '\x'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(concat_ws(E'\x1f',
        NEW.id::text, coalesce(NEW.org_id::text, ''), to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        NEW.actor, NEW.action, NEW.target_type, NEW.target_id, NEW.details::text), 'UTF8'));
    RETURN NEW;
END $$;
DROP TABLE audit_heads;

DROP INDEX IF EXISTS alerts_org_resolved;
DROP TABLE IF EXISTS digests_sent;
DROP TABLE IF EXISTS digest_subscriptions;

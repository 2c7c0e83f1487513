DROP TABLE IF EXISTS legacy_secrets;

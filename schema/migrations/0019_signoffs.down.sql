ALTER TABLE web_signins DROP COLUMN reauth;
DROP TABLE signing_reauths;
DROP TABLE record_signoffs;

DROP TABLE IF EXISTS web_signins;
DROP TABLE IF EXISTS web_sessions;

DROP TABLE IF EXISTS sensor_latest;

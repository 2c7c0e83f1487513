ALTER TABLE rollup_state DROP COLUMN hours_from, DROP COLUMN hours_through;
DROP TABLE reading_hours;

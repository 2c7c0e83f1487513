ALTER TABLE users DROP COLUMN name_chosen_at, DROP COLUMN phone_verified_at, DROP COLUMN timezone, DROP COLUMN email_opt_in, DROP COLUMN sms_opt_in;

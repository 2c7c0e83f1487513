-- What a person controls about how they are reached (issue 20). Contacts
-- linked to a user (contacts.user_id) follow that user's opt-ins: the alert
-- recipient resolution skips a channel the person opted out of and says so.
-- phone_verified_at is set when the person confirmed users.phone with a code
-- sent to it; changing the phone clears it. name_chosen_at is set when the
-- person named themselves in their profile: from then on a sign-in no longer
-- replaces the name with the identity provider's.
ALTER TABLE users
    ADD COLUMN sms_opt_in boolean NOT NULL DEFAULT true,
    ADD COLUMN email_opt_in boolean NOT NULL DEFAULT true,
    ADD COLUMN timezone text CHECK (timezone IS NULL OR length(timezone) BETWEEN 1 AND 100),
    ADD COLUMN phone_verified_at timestamptz,
    ADD COLUMN name_chosen_at timestamptz;

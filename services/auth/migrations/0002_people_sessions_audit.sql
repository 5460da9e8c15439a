-- People with passwords (argon2id; NULL for users made only for API keys), and what they may do.
ALTER TABLE auth.users
    ADD COLUMN password_hash       text,
    ADD COLUMN email               text,
    ADD COLUMN is_admin            boolean NOT NULL DEFAULT false,
    ADD COLUMN plan                text NOT NULL DEFAULT 'standard',
    ADD COLUMN password_changed_at timestamptz;
CREATE UNIQUE INDEX users_email ON auth.users (email) WHERE email IS NOT NULL;

-- Keys made before scopes existed could read and write; their prefix was never kept.
ALTER TABLE auth.api_keys
    ADD COLUMN scopes       text[] NOT NULL DEFAULT '{read,write}',
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN prefix       text NOT NULL DEFAULT '';
CREATE INDEX api_keys_user_newest ON auth.api_keys (user_id, created_at DESC, id DESC);

-- Only a SHA-256 of each invitation's token is kept; the token is shown once.
CREATE TABLE auth.invites (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   bytea NOT NULL UNIQUE,
    created_by   uuid NOT NULL REFERENCES auth.users (id),
    email        text,
    is_admin     boolean NOT NULL DEFAULT false,
    plan         text NOT NULL DEFAULT 'standard',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  uuid
);

-- Who did what, when and from where. No foreign key: the log outlives the users it names.
CREATE TABLE auth.audit_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    action      text NOT NULL,
    user_id     uuid,
    user_name   text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    subject_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_newest ON auth.audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user_newest ON auth.audit_events (user_id, at DESC, id DESC);

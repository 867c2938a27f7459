-- express-principal: the tables of postgresStore() (PostgreSQL 13 or later).
-- Creates them in the current schema (the first of search_path); for another one, run
--   SET search_path TO your_schema;
-- first and pass postgresStore({ pool, schema: 'your_schema' }). store.migrate() runs the same statements.

CREATE TABLE IF NOT EXISTS ep_records (
  key text PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS ep_records_expires_at ON ep_records (expires_at);

CREATE TABLE IF NOT EXISTS ep_subject_index (
  prefix text NOT NULL,
  subject text NOT NULL,
  member text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (prefix, subject, member)
);

CREATE INDEX IF NOT EXISTS ep_subject_index_expires_at ON ep_subject_index (expires_at);

CREATE TABLE IF NOT EXISTS ep_log_heads (
  log text PRIMARY KEY,
  generation uuid NOT NULL DEFAULT gen_random_uuid(),
  seq bigint NOT NULL,
  appended_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS ep_log (
  log text NOT NULL,
  seq bigint NOT NULL,
  fields text[] NOT NULL,
  appended_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (log, seq)
);

CREATE INDEX IF NOT EXISTS ep_log_expires_at ON ep_log (expires_at);

-- PostgreSQL only, applied (idempotently) after the shared migrations at every start.
-- Every statement that changes `characters`, from any process, notifies channel `dramatis_changes` at
-- commit; each API instance listens and drops its cached list pages (db::postgres::watch_changes).
-- Statement-level and with a fixed payload, so a transaction sends one notification however many rows.
CREATE OR REPLACE FUNCTION dramatis_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dramatis_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'characters_changed'
                   AND tgrelid = 'characters'::regclass) THEN
        CREATE TRIGGER characters_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON characters
            FOR EACH STATEMENT EXECUTE FUNCTION dramatis_notify_change();
    END IF;
END
$$;

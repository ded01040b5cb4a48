-- Registers announced job types; a later announcement replaces description and schema.
INSERT INTO job_types (name, description, payload_schema)
SELECT t.name, t.description, t.payload_schema::jsonb
FROM unnest(:names::text[], :descriptions::text[], :schemas::text[]) AS t(name, description, payload_schema)
ON CONFLICT (name) DO UPDATE
SET description = excluded.description,
    payload_schema = excluded.payload_schema,
    last_seen_at = now()

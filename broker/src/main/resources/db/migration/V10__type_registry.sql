-- Job types an admin registered: what the type is for, its documentation, the JSON Schemas of its payload
-- and result, what the job uses, and defaults for the fields a submit leaves out. What workers announce
-- stays in job_types; a type may be in either table or both. Submits of a registered type are checked
-- against its payload schema.
CREATE TABLE type_registry (
    name                 text        PRIMARY KEY,
    description          text        NOT NULL DEFAULT '',
    documentation        text        NOT NULL DEFAULT '',
    payload_schema       jsonb,
    result_schema        jsonb,
    uses                 text[]      NOT NULL DEFAULT '{}',
    default_queue        text,
    default_lease_ms     bigint,
    default_max_attempts integer,
    retry_initial_ms     bigint,
    retry_max_ms         bigint,
    -- 1 when first registered, one more with each change
    version              integer     NOT NULL DEFAULT 1,
    registered_by        text        NOT NULL,
    registered_at        timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One more with every registration, change and removal, in the same commit: each broker reads it every
-- second and reloads the registry when it moved.
CREATE TABLE type_registry_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch    bigint  NOT NULL
);
INSERT INTO type_registry_epoch (epoch) VALUES (0);

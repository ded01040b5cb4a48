-- The authenticated principal whose worker holds the lease: worker writes from any other principal are
-- refused like a stale lease, so a worker can only act on jobs leased to its own identity.
ALTER TABLE jobs ADD COLUMN lease_principal text;

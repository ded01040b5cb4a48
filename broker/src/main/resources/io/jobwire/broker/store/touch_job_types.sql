-- Job types served by live sessions were seen now.
UPDATE job_types SET last_seen_at = now() WHERE name = ANY (:names::text[])

SELECT key FROM rate_limits WHERE key = ANY (:keys::text[])

-- The owner's signing secret, made with :secret when it has none yet; with :rotate, :secret replaces it and
-- the one it replaces goes on signing for 24 hours.
INSERT INTO callback_secrets AS s (owner, secret)
VALUES (:owner, :secret)
ON CONFLICT (owner) DO UPDATE
SET previous = CASE WHEN :rotate THEN s.secret ELSE s.previous END,
    previous_until = CASE WHEN :rotate THEN now() + interval '24 hours' ELSE s.previous_until END,
    secret = CASE WHEN :rotate THEN EXCLUDED.secret ELSE s.secret END,
    rotated_at = CASE WHEN :rotate THEN now() ELSE s.rotated_at END
RETURNING owner, secret, CASE WHEN previous_until > now() THEN previous_until END AS previous_until

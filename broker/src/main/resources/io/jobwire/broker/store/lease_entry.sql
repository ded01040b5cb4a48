-- Included as "-- @include lease_entry" and followed by a FROM whose rows have id, attempt and
-- lease_expires_at: the lease ring's entry for each, in the segment of now. The reaper looks at it when
-- the lease ends or within five seconds, whichever is first, and writes it anew while the job runs, so
-- no entry keeps an old segment from being emptied.
INSERT INTO job_leases (seg, job_id, attempt, check_at)
SELECT jobwire_segment(), id, attempt, least(greatest(lease_expires_at, now()), now() + interval '5 seconds')

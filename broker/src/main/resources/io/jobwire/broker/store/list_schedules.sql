-- Schedules of one owner, or of all when :owner is null, by owner and name.
SELECT * FROM schedules
WHERE (:owner::text IS NULL OR owner = :owner::text)
ORDER BY owner, name

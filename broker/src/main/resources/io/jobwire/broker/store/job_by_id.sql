-- :owner null means any owner (admins); otherwise another owner's job is not found.
SELECT * FROM jobs WHERE id = :id AND (:owner::text IS NULL OR owner = :owner::text)

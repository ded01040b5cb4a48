SELECT * FROM jobs WHERE id = ANY (:ids::bigint[])

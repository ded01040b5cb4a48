DELETE FROM type_registry WHERE name = :name RETURNING *

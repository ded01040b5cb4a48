DELETE FROM quotas WHERE owner = :owner AND type_pattern = :pattern RETURNING *

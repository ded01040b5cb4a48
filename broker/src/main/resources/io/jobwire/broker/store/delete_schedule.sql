DELETE FROM schedules WHERE owner = :owner AND name = :name RETURNING *

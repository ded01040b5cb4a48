-- One delivery, if the owner may see it (:owner null: any).
SELECT * FROM callback_deliveries WHERE id = :id AND (:owner::text IS NULL OR owner = :owner::text)

SELECT * FROM type_registry ORDER BY name

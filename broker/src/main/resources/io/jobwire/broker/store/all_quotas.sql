SELECT * FROM quotas ORDER BY owner, type_pattern

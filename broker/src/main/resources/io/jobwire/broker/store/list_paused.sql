SELECT * FROM pauses ORDER BY paused_at, kind, name

-- Room on each page of live_jobs for every row's next version. A job's row is inserted, updated once
-- when it is claimed, and deleted when it finishes. The update is HOT (no new index entry) only when
-- the new version fits on the row's own page; with fillfactor 80 a page had room for the claim of one
-- row in five or six once pruning could not free space (a transaction left open holds every old
-- version): the other claims wrote their versions to other pages and a new entry into live_jobs_pkey,
-- which every claim, finish and Get then reads past. At 45 a page keeps room for one more version of
-- each row on it. live_jobs holds only queued and running jobs, so the pages this leaves empty are few.
ALTER TABLE live_jobs SET (fillfactor = 45);

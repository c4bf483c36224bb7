-- bopt schema v3: progress.worker is the coordinator's lane (0 … n-1), not a worker (README "How it
-- works": lane and worker are different words), so the column is called lane. The rows are kept.
ALTER TABLE progress RENAME COLUMN worker TO lane;

-- bopt schema v5: a sweep's dispatch order (most expensive first, then grid order) as an index, so
-- that a coordinator reads its pending tasks page by page instead of holding a whole grid in memory.

-- The task's cost (as its sweep computed it) copied into its membership, so that the order is one
-- index of sweep_tasks, read without sorting.
ALTER TABLE sweep_tasks ADD COLUMN cost REAL NOT NULL DEFAULT 0;
UPDATE sweep_tasks SET cost = (SELECT t.cost FROM tasks t WHERE t.key = sweep_tasks.task_key);
CREATE INDEX sweep_tasks_dispatch ON sweep_tasks (sweep_id, cost DESC, position);

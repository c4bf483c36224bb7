-- bopt schema v8: the index of tasks by state holds only the states that are looked up by it, running
-- (by holder: a coordinator's own tasks, orphans to reclaim, `bopt watch`) and failed (--retry-failed,
-- the analysis's failed keys). Pending and done tasks, nearly all of a large sweep's, are found through
-- their sweep (sweep_tasks), never by state, so tasks_state (state) only cost every registered task an
-- index entry, and every finished one a move within it. Each partial index below is used by a query
-- whose WHERE names its state (state = 'running', state = 'failed'), as SQLite requires.
DROP INDEX tasks_state;
CREATE INDEX tasks_running ON tasks (holder) WHERE state = 'running';
CREATE INDEX tasks_failed ON tasks (state) WHERE state = 'failed';

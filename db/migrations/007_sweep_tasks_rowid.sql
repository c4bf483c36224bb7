-- bopt schema v7: sweep_tasks becomes a table with a rowid, so that its secondary index (the dispatch
-- order) refers to a membership by its 8-byte rowid instead of repeating the 64-character task key:
-- the dispatch index shrinks from about 90 to about 20 bytes a row. It is the one tree a grid's
-- key-ordered insert visits in random order, so a small one stays in the page cache instead of being
-- rewritten by every write transaction of a large grid. Columns, the (sweep_id, task_key) key and the
-- views that read the table are unchanged; the views are dropped and recreated around the rebuild.
DROP VIEW runs;
DROP VIEW sweep_status;
DROP VIEW failures;

CREATE TABLE sweep_tasks_v7 (
  sweep_id  INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  task_key  TEXT NOT NULL REFERENCES tasks (key),
  position  INTEGER NOT NULL,            -- order in the expanded grid
  cost      REAL NOT NULL DEFAULT 0,     -- the task's cost as its sweep computed it (dispatch order)
  PRIMARY KEY (sweep_id, task_key)
);
INSERT INTO sweep_tasks_v7 (sweep_id, task_key, position, cost)
SELECT sweep_id, task_key, position, cost FROM sweep_tasks ORDER BY sweep_id, task_key;
DROP TABLE sweep_tasks;
ALTER TABLE sweep_tasks_v7 RENAME TO sweep_tasks;
CREATE INDEX sweep_tasks_dispatch ON sweep_tasks (sweep_id, cost DESC, position);

-- Every run of a sweep with its parameters and result: the one-liner for most questions.
-- noise_scale is the paper's g = eps (N/B - 1) / (1 - m).
CREATE VIEW runs AS
SELECT
  s.name                                          AS sweep,
  t.key                                           AS task_key,
  t.engine                                        AS engine,
  json_extract(t.params, '$.model')               AS model,
  json_extract(t.params, '$.dataset')             AS dataset,
  json_extract(t.params, '$.labels')              AS labels,
  json_extract(t.params, '$.hidden')              AS hidden,
  json_extract(t.params, '$.lr')                  AS lr,
  json_extract(t.params, '$.batch_size')          AS batch_size,
  json_extract(t.params, '$.n_train')             AS n_train,
  json_extract(t.params, '$.momentum')            AS momentum,
  json_extract(t.params, '$.l2')                  AS l2,
  json_extract(t.params, '$.steps')               AS steps,
  json_extract(t.params, '$.seed')                AS seed,
  json_extract(t.params, '$.lr') * (CAST(json_extract(t.params, '$.n_train') AS REAL)
    / json_extract(t.params, '$.batch_size') - 1) / (1 - json_extract(t.params, '$.momentum')) AS noise_scale,
  r.train_accuracy, r.train_loss, r.test_accuracy, r.test_loss,
  r.steps_done, r.diverged, r.wall_ms, r.backend,
  r.log_evidence, r.log_evidence_per_example
FROM sweep_tasks st
JOIN sweeps s  ON s.id = st.sweep_id
JOIN tasks t   ON t.key = st.task_key
JOIN results r ON r.task_key = t.key;

-- Task counts by state for every sweep.
CREATE VIEW sweep_status AS
SELECT
  s.name AS sweep,
  count(*) AS total,
  sum(t.state = 'pending') AS pending,
  sum(t.state = 'running') AS running,
  sum(t.state = 'done')    AS done,
  sum(t.state = 'failed')  AS failed
FROM sweeps s
JOIN sweep_tasks st ON st.sweep_id = s.id
JOIN tasks t ON t.key = st.task_key
GROUP BY s.id;

-- Failed tasks with their last error.
CREATE VIEW failures AS
SELECT s.name AS sweep, t.key AS task_key, t.attempts, t.last_error, t.params
FROM sweep_tasks st
JOIN sweeps s ON s.id = st.sweep_id
JOIN tasks t  ON t.key = st.task_key
WHERE t.state = 'failed';

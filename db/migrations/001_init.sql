-- bopt schema v1. Applied by src/storage/migrate.ts; PRAGMA user_version records the last migration.
-- Times are milliseconds since the Unix epoch (INTEGER) unless the column name ends in _iso.

CREATE TABLE sweeps (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  file          TEXT,
  spec          TEXT NOT NULL,           -- the sweep file's text, as last run
  spec_hash     TEXT NOT NULL,           -- sha256 of the normalised spec
  code_version  TEXT NOT NULL,           -- bopt version that last ran it
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);

-- A task is one complete, canonical parameter set; its key is the hash of it (plus the engine's
-- version tag), so the same configuration in two sweeps is one task, trained once.
CREATE TABLE tasks (
  key            TEXT PRIMARY KEY,
  params         TEXT NOT NULL,          -- canonical JSON of the TrainConfig
  engine         TEXT NOT NULL,
  engine_version TEXT NOT NULL,
  cost           REAL NOT NULL,          -- relative cost (steps x batch x model size), orders work and the ETA
  state          TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  holder         TEXT,                   -- coordinator that runs it (lease holder id) while running
  worker         TEXT,                   -- worker that ran the last attempt
  last_error     TEXT,
  created_at     INTEGER NOT NULL,
  started_at     INTEGER,
  finished_at    INTEGER
);
CREATE INDEX tasks_state ON tasks (state);

CREATE TABLE sweep_tasks (
  sweep_id  INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  task_key  TEXT NOT NULL REFERENCES tasks (key),
  position  INTEGER NOT NULL,            -- order in the expanded grid
  PRIMARY KEY (sweep_id, task_key)
) WITHOUT ROWID;

-- At most one result per task: the primary key makes a second write a no-op.
CREATE TABLE results (
  task_key         TEXT PRIMARY KEY REFERENCES tasks (key),
  train_accuracy   REAL,
  train_loss       REAL,
  test_accuracy    REAL,
  test_loss        REAL,
  steps_done       INTEGER NOT NULL,
  diverged         INTEGER NOT NULL CHECK (diverged IN (0, 1)),
  wall_ms          REAL NOT NULL,
  engine           TEXT NOT NULL,
  engine_version   TEXT NOT NULL,
  backend          TEXT NOT NULL,
  worker           TEXT,
  log_evidence     REAL,                 -- E = C(w0) + 1/2 sum ln(lambda_i/lambda) - N ln n (logistic regression)
  log_evidence_per_example REAL,
  created_at       INTEGER NOT NULL
);

CREATE TABLE curves (
  task_key       TEXT NOT NULL REFERENCES results (task_key) ON DELETE CASCADE,
  step           INTEGER NOT NULL,
  train_loss     REAL,
  test_loss      REAL,
  test_accuracy  REAL,
  PRIMARY KEY (task_key, step)
) WITHOUT ROWID;

-- One live coordinator per sweep: a holder renews heartbeat_at; a lease whose expires_at has passed
-- (or whose process is gone, on the same host) may be taken over.
CREATE TABLE leases (
  sweep_id      INTEGER PRIMARY KEY REFERENCES sweeps (id) ON DELETE CASCADE,
  holder        TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  host          TEXT NOT NULL,
  acquired_at   INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
);

-- Step-level progress of running tasks, published by the coordinator a few times a second so that
-- `bopt watch` in another process can show it. Rows are removed when the task ends.
CREATE TABLE progress (
  task_key     TEXT PRIMARY KEY REFERENCES tasks (key),
  holder       TEXT NOT NULL,
  worker       INTEGER NOT NULL,
  step         INTEGER NOT NULL,
  total_steps  INTEGER NOT NULL,
  loss         REAL,
  updated_at   INTEGER NOT NULL
);

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

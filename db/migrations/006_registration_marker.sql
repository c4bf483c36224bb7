-- bopt schema v6: a sweep records which grid it has stored completely, so that `bopt run` and
-- `bopt resume` of an unchanged sweep skip expanding and storing its tasks again. NULL (every sweep of
-- an older database, or a registration cut short) means: register the grid, idempotently, as before.
ALTER TABLE sweeps ADD COLUMN registered TEXT;

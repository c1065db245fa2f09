-- Operator queries for the catalog-sync state store. Each runs unchanged in psql (PostgreSQL) and in the
-- sqlite3 shell: paste one, nothing to fill in. tests/store/test_operator_queries.py runs every query on
-- both databases and checks its answer.
--
-- The two databases share no date arithmetic, so "recent" means the last 20 runs, not the last day.
-- Percentiles are nearest-rank (the smallest duration whose ROW_NUMBER() * 100 >= p * COUNT(*) in its
-- group; SQLite has no percentile function), the same rule as the run report in sync_core/reports.py.
-- Each query starts with a "-- name: <slug>" line and a one-line description.

-- name: recent-runs
-- The last 20 runs, newest first, with their counters (finished_at is NULL while a run goes on).
SELECT id, pipeline, scope, status, dry_run, started_at, finished_at,
       fetched, pushed, unchanged, skipped, failed, requests, error
FROM sync_runs
ORDER BY id DESC
LIMIT 20;

-- name: top-failure-reasons
-- Open failures (pending and dead) by context and reason, most frequent first, with their age range.
SELECT context,
       reason,
       COUNT(*) AS failures,
       SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS dead,
       MAX(attempts) AS max_attempts,
       MIN(first_failed_at) AS first_failed_at,
       MAX(last_failed_at) AS last_failed_at
FROM failures
WHERE status IN ('pending', 'dead')
GROUP BY context, reason
ORDER BY failures DESC, context, reason
LIMIT 20;

-- name: p95-request-duration
-- Per provider over the requests of the last 20 runs: attempts, p50, p95 and max duration in ms.
WITH ranked AS (
    SELECT provider, duration_ms,
           ROW_NUMBER() OVER (PARTITION BY provider ORDER BY duration_ms) AS rn,
           COUNT(*) OVER (PARTITION BY provider) AS n
    FROM external_requests
    WHERE run_id IN (SELECT id FROM sync_runs ORDER BY id DESC LIMIT 20)
)
SELECT provider,
       MAX(n) AS requests,
       MIN(CASE WHEN rn * 100 >= 50 * n THEN duration_ms END) AS p50_ms,
       MIN(CASE WHEN rn * 100 >= 95 * n THEN duration_ms END) AS p95_ms,
       MAX(duration_ms) AS max_ms
FROM ranked
GROUP BY provider
ORDER BY provider;

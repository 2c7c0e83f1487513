-- postgres storage mode: nothing to do. Version 7 moved the timescale mode
-- onto the rollup invalidation log that this mode has had since version 2;
-- every version exists in both modes.
SELECT 1;

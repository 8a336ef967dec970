-- The audit-log query: an actor with any of the five low-cardinality filters (issue 17).
-- Each actor's number of events per combination (migration 0027), kept by the sequencer
-- in the leaf's transaction like audit_combo's counts, and recounted by verification.
-- An actor and an action that never meet, or meet a thousand times in a million, then
-- have an exact count and the exact list of their combinations: the query answers
-- nothing at once, or reads only those combinations' entries of the actor, instead of
-- guessing from how common each is alone (actors are many: no statistic knows which
-- of them does what).
CREATE TABLE audit_actor_combo (
    actor_id TEXT    NOT NULL,
    combo    INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (actor_id, combo)
) WITHOUT ROWID;
INSERT INTO audit_actor_combo (actor_id, combo, count)
SELECT actor_id, combo, count(*) FROM audit_index WHERE actor_id IS NOT NULL GROUP BY actor_id, combo;

-- Incidents with response-time SLAs (issue 16): incidents and their timelines.
-- (filled in by the incidents work)
SELECT 1;

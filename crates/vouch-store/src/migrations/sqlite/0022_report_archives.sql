-- Report archives (issue 16): each generated report's files (JSON, PDF, CSV and their
-- .sig) are sealed into WORM storage like a period's evidence; `archive` holds the
-- archive record (folder, stored objects with URIs and SHA-256, encryption, retention)
-- as canonical JSON, or why the report was not archived. NULL: not archived yet.
ALTER TABLE reports ADD COLUMN archive TEXT;

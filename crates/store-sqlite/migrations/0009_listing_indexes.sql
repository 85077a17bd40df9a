-- What the web UI's lists read, newest first, a page at a time: people by workspace, and the
-- activity log filtered by type or by name (an event's name, or an attribute's). Without them
-- a page filtered by a rare name read the whole log (10 s and more at 20 million events).
CREATE INDEX people_by_workspace ON people(workspace_id, seq) WHERE deleted_at IS NULL;
CREATE INDEX activities_by_kind ON activities(workspace_id, kind, seq);
CREATE INDEX activities_by_name ON activities(workspace_id, name, seq) WHERE name IS NOT NULL;

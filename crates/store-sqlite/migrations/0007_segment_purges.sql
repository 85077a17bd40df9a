-- Deleted segments whose members and history are still being removed. Deleting a segment
-- removes its row at once and leaves its rows here, so that a segment of a million members is
-- removed a chunk per background job instead of in one write that holds every other; a restart
-- carries on with whatever is listed.
CREATE TABLE segment_purges (
    segment_id INTEGER PRIMARY KEY
);

-- Questions a node asks the engines of the other nodes, when each engine holds only the people
-- of its node's partitions (a segment's count, a page of its members, a preview), and their
-- answers, one per node. Both are encoded by the segments crate; the store keeps bytes. Left on
-- the coordinator on Citus: they belong to no workspace, and live for seconds.
CREATE TABLE engine_questions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    node TEXT NOT NULL,
    asked_at BIGINT NOT NULL,
    body BYTEA NOT NULL
);

CREATE TABLE engine_answers (
    question BIGINT NOT NULL,
    node TEXT NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (question, node)
);

-- Nothing reads segment_members by person: a person's segments come from the engine, and a
-- restart reads the table by segment. The index cost one more B-tree write per stored change,
-- a million of them when a million deadlines fall due at the same second.
DROP INDEX segment_members_by_person;

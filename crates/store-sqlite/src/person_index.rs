//! How a person's activities are found: the `activities_by_person` index is keyed by workspace,
//! then by block of activity numbers (`seq >> 16`, 65,536 numbers a block), then by person.
//!
//! New activities always land in the last block, so the writer updates a few hundred index
//! pages that stay in its cache rather than one random page per event (see the migration that
//! made it, 0019). A query for one person seeks once per block, which [`BLOCKS`] lists: at
//! twenty million events that is about 300 seeks in a B-tree whose upper pages are cached, well
//! under the time of reading the rows they find. Every query by person names the index
//! (`INDEXED BY`), so that a plan that cannot use it is an error in the tests rather than a
//! scan of the whole log in production.

/// The blocks from the first activity's to the last's, as a subquery for `(seq >> 16) IN …`.
/// Both ends are read from the rowid B-tree's edges; an empty log gives one NULL, which no
/// block equals.
const BLOCKS: &str = "(WITH RECURSIVE blocks(b) AS (
        SELECT (SELECT min(seq) FROM activities) >> 16
        UNION ALL SELECT b + 1 FROM blocks WHERE b < (SELECT max(seq) FROM activities) >> 16
    ) SELECT b FROM blocks)";

/// The condition that finds one person's activities through the index, block by block, for a
/// query that names it (`INDEXED BY activities_by_person`): `table` is how the query names the
/// activities (`a.` or nothing) and `person` the parameter holding the person's number. The
/// block must be written as the index writes it, `seq >> 16`, or the planner cannot use it.
pub(crate) fn person_rows(table: &str, person: &str) -> String {
    format!("({table}seq >> 16) IN {BLOCKS} AND {table}person_seq = {person}")
}

/// The block of an activity number, as the index computes it.
pub(crate) fn block_of(seq: i64) -> i64 {
    seq >> 16
}

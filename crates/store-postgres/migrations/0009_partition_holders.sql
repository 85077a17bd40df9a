-- Whether a partition's owner's engine holds its people yet. A node whose engine holds only
-- its partitions' people loads a partition's people after it takes the lease; until it reports
-- them held, the node that gave the partition up keeps them and answers for them, so that reads
-- about everyone have an answer for every partition while partitions move (leases.rs).
ALTER TABLE partition_leases ADD COLUMN owner_holds BOOLEAN NOT NULL DEFAULT TRUE;

// Package buffer keeps received uplinks on the gateway's flash while a
// connection's endpoint cannot take them: one durable FIFO queue per
// connection, all in one bbolt file.
//
// Layout of the file (flat on purpose: every extra bucket level is one more
// page rewritten per commit):
//
//	meta        version key; its bucket sequence is the store-wide record
//	            sequence, so seqs keep rising even across DeleteQueue
//	r/<queue>   records: 8-byte big-endian seq -> header + data
//	d/<queue>   dead letters: original seq -> header + reason + data
//
// What must land together is said explicitly: a Batch holds appends to
// several queues and state writes, and Commit writes it in one transaction
// (Append and UpdateStates are batches of one part). All writes go through
// one writer goroutine that also coalesces what independent callers submit
// meanwhile (another handler's batch, a lane's acks, maintenance) into the
// same transaction (group commit): a commit costs two fdatasyncs and several
// rewritten pages whatever its size, so batching is what keeps flash wear
// and latency down. A group of acks alone waits for the next append's
// commit when one is due soon (docs/decisions/buffer-ack-batching.md,
// docs/decisions/explicit-commits.md).
//
// Delivery is at-least-once: a record is removed only by Ack, and an Ack that
// has not been committed when the process dies is lost, so the record is sent
// again after a restart.
package buffer

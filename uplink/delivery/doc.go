/*
Package delivery moves uplinks from the decoder to every connection's
endpoint: one ordered lane per connection, backed by the durable buffer
(Store), retried with backoff, expired, dead-lettered, and marked Late
when they come from the backlog.

# Basics

A Manager owns one lane per Connection. Manager.Enqueue hands it the
uplinks of a datagram: with PersistOnOutage they wait in the lane's memory
and go to flash only when the connection fails, when one waits longer than
SpillAfter, when more than MaxMemory wait, and at Stop; with PersistAlways
they are committed to the lane's queue first and the lane reads them back.
Everything on flash is older than everything in memory, so a lane sends
flash first, then memory, in reception order, a batch at a time (up to
the connector's MaxBatch requests in flight, started in order). An uplink
the endpoint accepted is acked (removed from flash in batches) and not
sent again unless the agent crashes before the ack is committed.

# Goroutines

Each lane has three, started by Manager.Start or Add and ended by Stop or
Remove (or when the context given to Start ends):

  - the loop (lane.run) owns all the lane's state: the memory queue, the
    uplinks in flight, the flash bookkeeping (acked and dead-lettered
    sequence numbers), the backoff, the held refusals and the status. The
    others reach it only through its inbox: offers, append notices, the
    sender's answers, status requests, the timer and the stop, put under
    a mutex with a wake on a one-slot channel, which the loop waits on
    alone (a select over six channels cost 5 % of an uplink's
    instructions on ARM). Its one timer is set to the earliest thing it
    must do unasked (a merge window's end, a retry, a spill, an ack
    flush) and is reset only when that changes; an idle lane sets none.
    Spills and dead letters commit on the loop, so nothing moves while
    they do.
  - the sender calls the connector, one batch at a time (a Connector is
    called by one goroutine), and hands the answers back to the loop. An
    answer whose uplinks were all accepted waits for the loop's next wake
    when the loop, before it waited, marked the inbox quiet: a batch out
    and its timer set at the next uplink's due time (at a steady pace the
    next arrival takes the answer along: one wake per uplink, not two).
    Any other answer, the timer's firing and the stop wake it at once.
  - the committer applies the loop's ack batches: the buffer may hold an
    ack commit back for up to a second to share an append's (AckWait), and
    the loop must not wait for that.

Options.OnResult runs on the loop: it must not block.

# Caveats

Delivery is at least once: a crash re-sends what was delivered in the
last ackFlushDelay (up to ackBatch uplinks) and the batch in flight. A
clean Stop loses nothing: it gives a request in flight sendGrace to
answer (cancelling it could resend an uplink the endpoint took), then
writes what is in memory to flash. An uplink leaves at the first wakeup
of the loop after its merge window (MergeWindow) ends (or mergeSlack
before), and at most maxCarry later: at a steady pace the next arrival's
wakeup takes it, and the timer (1 s) is the fallback for when arrivals
stop. At a steady pace the first uplink of a batch also waits, up to
BatchWait past its window, for the ones due behind it: a wakeup costs a
gateway more than the requests it sends (docs/decisions/batch-wait.md). A lane busy with a flash commit queues up to offerQueue
offers; beyond that Enqueue waits for it.
*/
package delivery

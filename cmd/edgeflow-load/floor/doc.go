// Command floor is the reference that edgeflow's CPU per uplink at a
// gateway's pace is read against: the least a forwarder on the gateway
// does per uplink. It reads each PUSH_DATA, sends its PUSH_ACK and, with
// -url, POSTs the datagram's JSON to the endpoint through net/http on a
// kept-alive connection, before it reads the next. No decoding, storage,
// merge window or second goroutine of its own. Its sockets are read and
// written as the agent's are, with raw system calls (-plain: Go's
// ordinary calls, which wake the runtime's monitor thread).
//
// Why: at 10 uplinks/s the host decides much of a run's CPU (every
// uplink starts from cold caches, and the VM's neighbours decide how
// cold), so a figure alone moves by ±40 % from one run to the next. The floor run at the same time as the agent sees the same host:
// agent ÷ floor moves by 5–15 %, and the floor itself says what an
// agent built on net/http cannot go below on that host.
// cmd/edgeflow-load/compare.sh runs it beside the agents; the method is
// in docs/performance.md.
//
// Goroutines: main reads, acks and posts, one datagram at a time;
// net/http's Transport keeps a reader and a writer goroutine per
// connection. GOMAXPROCS is 1, as in the agent.
//
// Caveats: a measuring tool, not a forwarder. It posts the packet
// forwarder's JSON as it came, answers only PUSH_DATA and keeps no
// uplink that the endpoint refused.
package main

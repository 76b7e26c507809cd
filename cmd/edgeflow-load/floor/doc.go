// Command floor is the reference that edgeflow's CPU per uplink at a
// gateway's pace is read against: the least a forwarder on the gateway
// does per uplink. It reads each PUSH_DATA, sends its PUSH_ACK and, with
// -url, POSTs the datagram's JSON to the endpoint through net/http on a
// kept-alive connection, before it reads the next. No decoding, storage,
// merge window or second goroutine of its own.
//
// Why: at 10 uplinks/s the host decides most of a run's CPU (every uplink
// starts from cold caches; under qemu a wakeup costs more than the
// agent's code), so a figure alone moves by ±40 % from one run to the
// next. The floor run at the same time as the agent sees the same host:
// agent ÷ floor is steady to a few per cent, and the floor itself says
// what no agent built on net/http can go below on that host.
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

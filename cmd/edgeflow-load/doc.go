// Command edgeflow-load measures the edgeflow agent under load from outside
// the process: it starts the agent (or watches one given by --pid), plays
// the packet forwarder over UDP and the HTTP endpoint, and reads the
// agent's CPU, memory and disk writes from /proc. See docs/performance.md.
//
// Goroutines: main sends the datagrams (paced by --rate, bounded by
// --window) and writes the report; one reader per source socket takes the
// PUSH_ACKs and one expirer counts the datagrams unacknowledged after 2 s
// (forwarder.go); the endpoint is a net/http server (endpoint.go) whose
// handlers record each document once, keyed by DevEUI and FCntUp; an RSS
// sampler polls /proc/PID/status (proc.go); a waiter reaps the agent.
//
// Caveats: CPU is read in clock ticks (10 ms), so a short run at a low rate
// has a coarse figure per uplink; under --qemu the emulator is measured,
// translation included; the machine is shared, so compare binaries in
// one run, at a gateway's pace side by side with each other and with the
// floor (compare.sh, ./floor), never with figures from another day.
package main

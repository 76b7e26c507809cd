// Package connector delivers one uplink to one cloud endpoint, the way a
// ThingPark X IoT Flow connector does, and classifies what the endpoint
// answered so that the delivery engine knows whether to retry.
//
// There are two connectors. HTTP (actility-http-iot) POSTs each uplink's
// DevEUI_uplink document (uplink.AppendDocument) through net/http's
// Transport: keep-alive, HTTP/2 when an https endpoint offers it (ALPN),
// the connection's proxy or the environment's (http, https, socks5), and
// ThingPark's tunnel interface parameters and Token when LRC is set (lrc.go).
// MQTT (actility-mqtt-iot) publishes the same document with QoS 1 and
// returns on the broker's PUBACK. A nil error from Send means the endpoint
// took the uplink; any other error is an *Error whose Kind tells the lane
// what to do with it: retry it, dead-letter it, or probe with another
// uplink to tell a bad uplink from a bad connection (answer.go).
//
// The answer is read in words a technician can act on (describe,
// classify): a redirect names where to, an HTML error page is reduced to
// its text, a TLS failure says whether caFile or the system's CA bundle is
// the one to fix. Errors are redacted (config.Redact): Go's HTTP client
// quotes whole URLs, credentials included.
//
// # Goroutines and what each owns
//
//   - The caller (one delivery lane per connection) calls Send and
//     SendBatch, one call at a time. It owns the connector's reusable
//     state: the slots' document and header buffers.
//   - A SendBatch of more than one uplink runs each request on its
//     slot's worker goroutine (HTTP.work), started at the slot's first
//     batch, kept from batch to batch (a new goroutine's stack grew for
//     net/http at every batch) and ended by Close. Each request starts
//     once the one before it wrote its headers (httptrace, a token on
//     the slot's started channel), so that the endpoint sees the uplinks
//     in order even on separate connections; each worker writes only its
//     own slot and its own errs entry, and the caller waits for all.
//   - One timer (deadline.go), kept from batch to batch, cancels a batch
//     that outlives delivery.timeout; it runs a goroutine only when it
//     fires.
//   - net/http's Transport runs a reader and a writer goroutine per
//     connection (up to Concurrency connections, or one HTTP/2
//     connection's streams) and a timer per idle connection; Close
//     releases the idle ones. Its dialer hands it rawTCP sockets
//     (rawconn_linux.go): reads and writes by raw system call, so that a
//     request does not wake the runtime's monitor thread.
//   - MQTT: paho's client runs its own goroutines per connection; the
//     connector connects on demand and never reconnects by itself (the
//     lane's retry is the one policy), and disconnects on a goroutine of
//     its own, bounded in time, because paho's Disconnect has hung on a
//     dead connection.
//
// # Caveats
//
// Cost: net/http hands each request from the caller to the connection's
// writer goroutine, back to the caller, and from its reader to the caller.
// With one P (the agent's default) those are goroutine switches on one
// thread, and a request paced as a gateway's traffic costs 4–5 context
// switches; with two Ps each hand-off may wake a second thread (about 14;
// BenchmarkHTTPSendPaced measures both). Of about 43 allocations per
// request, all but a few are net/http's own.
//
// An https proxy is verified against the system roots (HTTPConfig's
// SystemRoots in tests) and the endpoint against caFile when it has one:
// each certificate is checked against its own authority, and a failure says
// which side failed.
//
// A request is sent once: net/http repeats a POST only when none of it was
// written, unless the configured headers carry an Idempotency-Key.
//
// A slot's document buffer is reused by the slot's next request, while
// net/http may still be writing the previous body when the endpoint
// answered before reading it all (RoundTrip returns on the answer). The
// endpoint has answered for that uplink by then, so its outcome stands,
// but the rest of that body may be the next document's bytes.
package connector

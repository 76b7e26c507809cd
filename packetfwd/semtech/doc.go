// Package semtech serves the Semtech UDP packet forwarder (GWMP, see
// packetfwd/gwmp): Listen binds the socket, Run reads it. PUSH_DATA gives
// radio.Frames to the Handler and is acknowledged after it returns;
// PULL_DATA is acknowledged at once and records the gateway's downlink
// path; TX_ACK is checked for errors. Every datagram is also handed to the
// relay (packetfwd/relay) when upstreams are configured. The source policy
// (limits.go) refuses datagrams from networks not allowed (by default
// loopback only), from gateway EUIs not listed, and above a rate per
// source address.
//
// Goroutines and what each owns:
//
//   - Run's read loop owns the socket's reads, the parsing, the Handler
//     call and the acks of every datagram, and the reader's buffers. It is
//     the only goroutine that calls the Handler, so the Handler sees
//     frames in arrival order. One path for every datagram: a read yields
//     a batch (reader.go), each datagram is parsed (datagram.go, then
//     push.go, pull.go or txack.go), the batch's frames go to the Handler
//     in one call, and the acks go out together.
//   - Run itself waits for ctx, then closes the socket, which ends the
//     read loop, and stops the relay (whose goroutines relay's doc lists).
//   - The gateway registry and the rate limiter are read by the agent's
//     status (Gateways) under their own locks.
//
// Caveats:
//
//   - The PUSH_ACK goes only after HandleFrames returns (with
//     buffer.persist "always", after the commit): a slow Handler delays the
//     acks and the forwarder's own queue, so a Handler must return quickly.
//   - A panic while handling a batch is recovered and counted (reason
//     "panic"): the PUSH_DATA whose frames had not reached the Handler go
//     unacked, and the loop goes on with the next batch.
//   - On Linux a read takes up to 16 datagrams and one system call sends
//     their acks (recvmmsg/sendmmsg, batch_linux.go,
//     docs/decisions/udp-batch-raw-syscalls.md); elsewhere, or on a kernel
//     without recvmmsg, a batch is one datagram (single.go,
//     batch_other.go).
package semtech

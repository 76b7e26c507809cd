// Package packetfwd speaks to the gateway's frame sources and turns what they
// send into Frames for a Handler; it never decodes LoRaWAN. It holds three
// parts:
//
//   - UDPServer: the Semtech UDP packet forwarder (GWMP, see gwmp). It
//     answers PUSH_DATA and PULL_DATA itself, keeps a registry of the
//     gateways it hears (GatewayStatus), and applies the source policy
//     (allowed source networks, by default loopback only; allowed gateway
//     EUIs; a rate limit). On Linux
//     it reads datagrams and sends their PUSH_ACKs in batches
//     (udp_batch_linux.go, docs/decisions/udp-batch-raw-syscalls.md).
//   - The relay (UDPConfig.Upstreams): copies every datagram of the
//     forwarder, unchanged, to upstream network servers and routes their
//     downlinks back to the right gateway (relay.go explains how).
//   - MQTTSource: a ChirpStack Gateway Bridge's uplinks from an MQTT broker,
//     in JSON v3, JSON v4 or protobuf, told apart by content (bridge.go).
//
// Goroutines and what each owns:
//
//   - UDPServer.Start starts the read loop, which owns the socket's reads,
//     the parsing, the Handler call and the PUSH_ACK of every datagram, and
//     a watcher that closes the socket when ctx ends.
//   - Each upstream of the relay has a sender (its queue and its sockets'
//     writes), a resolver (its name, re-resolved with backoff, so that DNS
//     hanging on a gateway without backhaul delays nothing else) and one
//     reader per gateway socket (the upstream's answers and downlinks).
//   - MQTTSource runs on paho's goroutines, which deliver one message at a
//     time to the Handler, plus a watcher that disconnects when ctx ends.
//
// Caveats:
//
//   - The PUSH_ACK goes only after HandleFrames returns (with
//     buffer.persist "always", after the commit): a slow Handler delays the
//     acks and the forwarder's own queue, so a Handler must return quickly.
//   - A panic while handling one datagram or message is recovered and
//     counted (reason "panic"); the loop goes on with the next one.
//   - Two UDP paths exist: batches on Linux, one datagram at a time
//     elsewhere (udp_batch_other.go); both must behave alike.
package packetfwd

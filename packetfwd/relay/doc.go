// Package relay copies every datagram of a Semtech UDP packet forwarder,
// unchanged, to upstream network servers, and routes their downlinks back
// to the right gateway, in the manner of chirpstack-packet-multiplexer v4.
// It is a tap of the UDP server (packetfwd/semtech), which hands it each
// datagram (Forward) and lends it its socket for downlinks (Gateways):
//
//   - edgeflow answers PUSH_DATA and PULL_DATA itself; the upstreams'
//     PUSH_ACK/PULL_ACK only tell that they are alive.
//   - Each upstream gets one socket per gateway EUI. A PULL_RESP carries no
//     gateway EUI, so the socket it arrives on is the only way to know which
//     gateway a downlink is for; and the network server keys its downlink
//     path by the source address of that gateway's PULL_DATA, so two gateways
//     sharing one socket would get each other's downlinks.
//   - The sockets are not connected: re-resolving the upstream's name moves
//     the destination without changing the source port the server knows.
//   - A PULL_RESP goes, from the server's own socket, to the address of the
//     gateway's last PULL_DATA (the forwarder connect()s its sockets), in
//     the protocol version the gateway speaks. A TX_ACK goes only to the
//     upstream whose last PULL_RESP for that gateway had the same token.
//
// Goroutines and what each owns:
//
//   - Forward runs on the server's read loop: it copies the datagram once
//     and queues it for each upstream, never blocking.
//   - Each upstream has a sender (its queue and its sockets' writes), a
//     resolver (its name, re-resolved with backoff, so that DNS hanging on
//     a gateway without backhaul delays no PUSH_ACK) and one reader per
//     gateway socket (the upstream's answers and downlinks, and the
//     OnDownlink hook).
//
// Caveats:
//
//   - A full queue drops (edgeflow_relay_dropped_total{reason="queue_full"})
//     rather than slow the forwarder's acks.
//   - At most MaxLinks sockets per upstream: spoofed EUIs replace the least
//     recently used, and a real gateway silent for LinkIdle loses its socket
//     (the network server then sees a new source port).
package relay

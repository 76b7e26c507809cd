// Package packetfwd is the tree of the gateway's frame sources; it holds
// no code. Each source turns what its peer sends into radio.Frames for a
// radio.Handler, never decodes LoRaWAN, and runs as a radio.Source:
//
//   - semtech: the Semtech UDP packet forwarder (GWMP). It answers
//     PUSH_DATA and PULL_DATA itself, keeps a registry of the gateways it
//     hears and applies the source policy (allowed networks, allowed
//     gateway EUIs, a rate limit).
//   - relay: a tap of the semtech server that copies every datagram to
//     upstream network servers and routes their downlinks back.
//   - bridge: a ChirpStack Gateway Bridge's uplinks from an MQTT broker, in
//     JSON v3, JSON v4 or protobuf, told apart by content.
//
// Beside them: gwmp (the UDP protocol's packets), fwdconf (the packet
// forwarder's own configuration files) and internal/ratelog (warnings
// about peers at a bounded rate, shared by semtech and relay).
package packetfwd

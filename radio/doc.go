// Package radio holds what crosses the tree between the frame sources and
// the decoder: Frame (one reception of a LoRa frame by one gateway, with
// its radio metadata), Handler (what a source hands frames to) and Source
// (what the agent runs). It is a leaf: it imports no source's protocol, so
// that uplink depends on neither MQTT nor protobuf nor the packet
// forwarder's wire format.
//
// Nothing here starts a goroutine. A Source's Run blocks; its handler
// calls come from the source's own goroutines (see each source's doc).
package radio

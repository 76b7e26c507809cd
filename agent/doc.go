// Package agent wires edgeflow's parts together and owns their lifecycle:
// frame sources (packetfwd) → decoder (uplink) → durable buffer (buffer) →
// delivery to every connection (uplink/delivery, uplink/connector), with the
// local API (agent/api) beside them. It implements the API's Backend, so
// that the API package stays about HTTP.
//
// Start opens the buffer, restores the device sessions, starts delivery,
// then binds the UDP source, the API and the MQTT source, in that order, so
// that nothing is acknowledged before it can be kept; Stop goes the other
// way. Reload applies a new configuration in place (connections, devices,
// relay upstreams) and names the settings that need a restart.
//
// Goroutines and what each owns:
//
//   - The frame sources' goroutines (packetfwd) call handleFrames: decode,
//     publish to the API's event hub, enqueue for delivery. With
//     buffer.persist "always" the frame counters are flushed on a goroutine
//     of their own beside the enqueue, so that both usually share one
//     commit, and handleFrames returns only once both are on flash.
//   - One goroutine runs the uplink.Persister, which owns saving the device
//     sessions (on a ticker, when a join makes it urgent, and once more at
//     Stop).
//   - One goroutine samples the queues' backlogs for the local web page's
//     charts; the recent uplinks and readings are recorded in memory on the
//     frame path.
//   - Delivery, the buffer's writer and the API server run their own.
//
// Caveats: Start unwinds what it opened by hand when a later step fails;
// the configuration is swapped whole (an atomic pointer), so readers see
// the old or the new one, never a mix.
package agent

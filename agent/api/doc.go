// Package api is edgeflow's local REST API: ThingPark X IoT Flow's
// connection resource (GET/POST /connections, GET/PUT/DELETE
// /connections/{id}), status, devices, metrics, dead letters and a live
// stream of events. It speaks HTTP and JSON, checks the token and masks
// secrets; what it shows and changes comes from a Backend, which the agent
// implements, so the agent package stays about wiring and lifecycle.
//
// The endpoints and their shapes are written down in docs/api.md; a web
// page is built against them, so change them only together.
//
// Goroutines: Start serves on one goroutine of its own (net/http then runs
// a goroutine per connection). Hub fans events out to the /events streams;
// Publish never blocks, so a stream that falls behind misses events and is
// told how many, rather than slowing the uplink path.
//
// Caveats: Start refuses to bind beyond loopback without a token
// (ErrNoToken). Secrets are masked in every answer, and a PUT that sends
// the mask back keeps the stored value. Close ends the event streams before
// shutting the server down, since they never go idle on their own.
package api

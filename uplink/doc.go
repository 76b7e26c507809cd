// Package uplink turns received frames into the uplinks of known devices
// (session lookup, 32-bit frame counter, MIC, decryption, de-duplication) and
// encodes them as ThingPark DevEUI_uplink documents. Its subpackages deliver
// them: connector speaks to cloud endpoints, delivery orders and retries.
//
// The parts: Sessions is the table of ABP sessions from the configuration
// and OTAA sessions learnt from joins; Joiner learns those sessions from a
// configured device's join-requests and the network server's join-accept
// passing by on its way to the gateway; Decoder turns frames into Uplinks;
// Merger adds the receptions of a frame heard again after its uplink was
// decoded; Clock tells whether the wall clock can be trusted yet and
// corrects the reception times of uplinks received before; Persister
// saves the sessions and frame counters to a SessionStore.
//
// Goroutines: none of its own. Decoder, Sessions, Joiner and Merger are safe
// for concurrent use: the frame sources call the Decoder from their
// goroutines, and its calls are serialised so that one Decoder shared by
// every source also de-duplicates across them. Lookups read an immutable
// session table through an atomic pointer; each device's counter state has
// its own lock. Persister.Run is the saving loop; the agent gives it a
// goroutine.
//
// Caveats: keys never leave through fmt, slog or encoding/json (Session and
// Device mask them), so a Session is not a storage format. A frame counter
// not yet saved when the power goes lets an uplink already accepted be
// accepted again after the restart, and a learnt session not saved is lost
// until the device joins again: session changes are saved at once, and with
// buffer.persist "always" the agent saves the counters before the PUSH_ACK.
package uplink

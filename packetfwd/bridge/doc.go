// Package bridge takes a ChirpStack Gateway Bridge's uplink events from an
// MQTT broker (usually the one on the gateway) and hands their
// radio.Frames to a Handler. The events come in JSON v3, JSON v4 or
// protobuf, told apart by content (uplink.go, json.go, proto.go); the
// downlink commands a network server publishes are watched for
// join-accepts (downlink.go). Open checks the configuration; Run connects.
//
// Goroutines and what each owns:
//
//   - paho's goroutines own the connection: they reconnect with a backoff,
//     subscribe again on every connect (the session is clean) and deliver
//     one message at a time to handleMessage, which calls the Handler.
//   - Run waits for ctx, then disconnects.
//   - limitConn (limit.go) sits under paho's reader and drops, unread,
//     packets larger than a bridge ever sends.
//
// Caveats:
//
//   - A message whose frames the Handler refuses is dropped and counted
//     (reason "handler_error"): MQTT has no negative acknowledgement.
//   - A panic while handling a message is recovered and counted (reason
//     "panic"); later messages still flow.
package bridge

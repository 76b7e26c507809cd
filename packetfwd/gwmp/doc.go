// Package gwmp encodes and decodes the Semtech UDP packet forwarder protocol
// (GWMP), versions 1 and 2, one file per packet type.
//
// Decoders are lenient where real forwarders are sloppy (trailing NUL bytes,
// unknown JSON fields, unpadded base64, empty or odd timestamps) and strict
// where a wrong guess would corrupt data (header, version, type, lengths).
// Every failure is one of the named errors in packet.go, whose Reason is a
// short snake_case label meant for metrics.
//
// The JSON of a PUSH_DATA is decoded by go-json-experiment with
// encoding/json's semantics. What forwarders send takes a fast path: the
// library's tokenizer validates the JSON, the fast path reads the
// validated bytes itself and gives up on anything ambiguous, which the
// library then decodes. FuzzPushDataDecodeMatchesJSON holds the decoder to
// encoding/json and the fast path to the library
// (docs/decisions/gwmp-decoder.md). RXPK.Data stays base64 text, so that
// one bad payload costs only its own rxpk; Payload and AppendPayload decode
// it.
//
// The package starts no goroutines and keeps no state between calls. A
// PushDataPacket may be reused (the UDP server decodes every datagram into
// one): UnmarshalBinary zeroes it, reuses its RXPK slice and its fast
// path's scratch space, so it must not be shared between goroutines, and
// nothing may keep a pointer into that slice past the next call.
package gwmp

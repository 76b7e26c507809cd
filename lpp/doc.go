// Package lpp decodes Cayenne Low Power Payload (LPP) frames into readings
// for people: channel, quantity, value and unit. It only reads; the agent
// still sends the payload itself to the endpoints, unchanged. This is the
// payload sense of "decode"; uplink.Decoder, which checks and decrypts
// LoRaWAN frames, is another thing.
//
// A frame is a sequence of [channel][type][data…] with big-endian values
// (myDevices' reference, plus the extended types of the ElectronicCats and
// TTN libraries): kinds maps each type byte to its fields, their sizes,
// signedness, resolution and unit. Decode accepts a payload only when
// every byte is part of a known item: a payload that does not parse
// completely is not LPP, and guessing would show a wrong value.
// Reading.String writes one reading as text (the API's Reading.Text, which
// the page shows); Format joins readings on one line.
//
// Goroutines: none. Decode and Format are pure functions over their
// arguments and the read-only kinds table, safe from any goroutine; the
// agent calls them when the status or the devices are asked for (the API,
// the page), not on the frame path, so a payload is decoded only when
// someone looks.
//
// Caveats: LPP has no header or checksum, so a payload in another format
// may happen to parse as LPP and show made-up readings. The agent
// therefore tries LPP only when the device's payloadFormat says
// cayenne-lpp, or, left to auto, when an active connection has brand
// CAYENNE (which reads payloads as LPP); payloadFormat hex turns it off
// (config.PayloadFormats). Values are float64 scaled by the type's
// resolution: Reading.Decimals says how many decimals are meaningful.
package lpp

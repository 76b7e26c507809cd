package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"edgeflow/uplink"
)

// LRCConfig turns on ThingPark's "Basic HTTP compliance" (IoT Flow's
// lrcCompliance): each POST carries the query parameters an LRC sends to an
// application server, so that servers written for ThingPark's tunnel
// interface accept edgeflow's requests.
type LRCConfig struct {
	// ASID is AS_ID, the application server's id as ThingPark knows it.
	ASID string
	// LrnInfos is ThingPark's opaque routing information; "" sends the
	// EUI of the gateway that heard the uplink best, which is what routes
	// it on a gateway.
	LrnInfos string
	// Key is the Tunnel Interface Authentication Key (32 hex). Empty sends
	// no Token, as an LRC without a key does.
	Key string
}

// lrcTimeLayout is the Time parameter's: ThingPark's, milliseconds and a
// numeric offset.
const lrcTimeLayout = "2006-01-02T15:04:05.000-07:00"

// lrcQuery returns the encoded query (without "?") for u sent at now. The
// Token covers the decoded parameters, which is what Actility's own
// verifiers hash (reference §1.3: the URL-encoded Time does not match).
func lrcQuery(c LRCConfig, customerID string, u *uplink.Uplink, now time.Time) string {
	devEUI := string(appendUpperHex(nil, u.DevEUI[:]))
	fport := strconv.Itoa(int(u.FPort))
	ts := now.Format(lrcTimeLayout)
	infos := c.LrnInfos
	if infos == "" && len(u.Receptions) > 0 {
		infos = string(appendUpperHex(nil, u.Receptions[0].GatewayEUI[:]))
	}
	params := [5][2]string{{"LrnDevEui", devEUI}, {"LrnFPort", fport}, {"LrnInfos", infos}, {"AS_ID", c.ASID}, {"Time", ts}}
	var enc, dec strings.Builder
	for i, p := range params {
		if i > 0 {
			enc.WriteByte('&')
			dec.WriteByte('&')
		}
		enc.WriteString(p[0] + "=" + url.QueryEscape(p[1]))
		dec.WriteString(p[0] + "=" + p[1])
	}
	if c.Key != "" {
		enc.WriteString("&Token=")
		enc.WriteString(TunnelToken(TokenBody(customerID, u), dec.String(), c.Key))
	}
	return enc.String()
}

// TokenBody is the uplink's part of the Token: CustomerID, DevEUI, FPort,
// FCntUp and payload_hex run together, each as the document writes it.
func TokenBody(customerID string, u *uplink.Uplink) string {
	if customerID == "" {
		customerID = "0" // what the document says (uplink.DocOptions)
	}
	b := make([]byte, 0, len(customerID)+16+3+10+2*len(u.Payload))
	b = append(b, customerID...)
	b = appendUpperHex(b, u.DevEUI[:])
	b = strconv.AppendUint(b, uint64(u.FPort), 10)
	b = strconv.AppendUint(b, uint64(u.FCnt), 10)
	b = hex.AppendEncode(b, u.Payload)
	return string(b)
}

// TunnelToken is ThingPark's tunnel interface Token: lower-case hex of
// SHA-256(bodyElements + queryParameters + key), the key in lower case.
// It is a plain hash over a concatenation, not an HMAC: that is the
// published recipe the servers check.
func TunnelToken(bodyElements, queryParameters, key string) string {
	h := sha256.New()
	h.Write([]byte(bodyElements))
	h.Write([]byte(queryParameters))
	h.Write([]byte(strings.ToLower(key)))
	return hex.EncodeToString(h.Sum(nil))
}

// CheckTIAK tells what is wrong with a Tunnel Interface Authentication Key.
func CheckTIAK(key string) error {
	if len(key) != 32 {
		return fmt.Errorf("the key must be 32 hex digits, got %d characters", len(key))
	}
	if _, err := hex.DecodeString(key); err != nil {
		return fmt.Errorf("the key must be 32 hex digits (0-9, a-f)")
	}
	return nil
}

// withQuery puts the LRC query q before the destination URL's own query
// (TAGO's "?authorization=…"): verifiers hash "everything before
// &Token=", which must then be exactly the LRC parameters; those that parse
// the parameters one by one do not mind the order.
func withQuery(dest, q string) string {
	base, own, found := strings.Cut(dest, "?")
	if !found || own == "" {
		return base + "?" + q
	}
	return base + "?" + q + "&" + own
}

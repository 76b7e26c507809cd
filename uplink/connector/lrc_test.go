package connector

import (
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"edgeflow/uplink"
)

// The two vectors published with the recipe (reference §1.3): Actility's
// verify_token_in_uplink.py and the iotacademy ThingPark simulator.
func TestTunnelTokenPublishedVectors(t *testing.T) {
	cases := []struct {
		name, customer, devEUI, payload, query, key, want string
		fport                                             uint8
		fcnt                                              uint32
	}{
		{
			name: "actility", customer: "100002167", devEUI: "20635F0108000496", fport: 17, fcnt: 18,
			payload: "032ce4850919d85d4c9f793ad148d24f32f3c6b5488f5a087cbeb1488f5a998c83ab",
			query:   "LrnDevEui=20635F0108000496&LrnFPort=17&LrnInfos=TWA_100002167.1111.AS-1-111974&AS_ID=TWA_100002167.1111.AS&Time=2021-04-07T08:49:51.551+00:00",
			key:     "f3203a20a2e8dfaf6686b621f56d05e3",
			want:    "196c22898bf95fcf48b72be198c89256410660b9b514539651344baa594ad74f",
		},
		{
			name: "iotacademy", customer: "100006246", devEUI: "0059AC000010020D", fport: 2, fcnt: 3,
			payload: "00277c0878fd9b2e000000000000ffff",
			query:   "LrnDevEui=0059AC000010020D&LrnFPort=2&LrnInfos=TWA_100006246.167.AS-1-1361149&AS_ID=hookbin&Time=2016-07-05T08:58:26.911+02:00",
			key:     "00112233445566778899AABBCCDDEEFF", // upper case on purpose: the recipe lowers it
			want:    "18f44bb294f9dd33b5168eeb92a0c7f9fa807914097dc9bb2ed5a789a65fad33",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := &uplink.Uplink{FPort: c.fport, FCnt: c.fcnt}
			mustHex(t, u.DevEUI[:], c.devEUI)
			var err error
			if u.Payload, err = hex.DecodeString(c.payload); err != nil {
				t.Fatal(err)
			}
			body := TokenBody(c.customer, u)
			if got := TunnelToken(body, c.query, c.key); got != c.want {
				t.Fatalf("token %s, want %s", got, c.want)
			}
			// The URL-encoded Time must not match: that is the pitfall.
			enc := strings.Replace(c.query, c.query[strings.Index(c.query, "Time=")+5:], url.QueryEscape(c.query[strings.Index(c.query, "Time=")+5:]), 1)
			if TunnelToken(body, enc, c.key) == c.want {
				t.Fatal("the encoded query gave the same token")
			}
		})
	}
}

// lrcQuery must rebuild vector A's query and token from the uplink, the
// configuration and the send time.
func TestLRCQueryRebuildsVector(t *testing.T) {
	u := &uplink.Uplink{FPort: 17, FCnt: 18}
	mustHex(t, u.DevEUI[:], "20635F0108000496")
	u.Payload, _ = hex.DecodeString("032ce4850919d85d4c9f793ad148d24f32f3c6b5488f5a087cbeb1488f5a998c83ab")
	now := time.Date(2021, 4, 7, 8, 49, 51, 551e6, time.UTC)
	c := LRCConfig{ASID: "TWA_100002167.1111.AS", LrnInfos: "TWA_100002167.1111.AS-1-111974", Key: "f3203a20a2e8dfaf6686b621f56d05e3"}
	got := lrcQuery(c, "100002167", u, now)
	want := "LrnDevEui=20635F0108000496&LrnFPort=17&LrnInfos=TWA_100002167.1111.AS-1-111974&AS_ID=TWA_100002167.1111.AS" +
		"&Time=2021-04-07T08%3A49%3A51.551%2B00%3A00&Token=196c22898bf95fcf48b72be198c89256410660b9b514539651344baa594ad74f"
	if got != want {
		t.Fatalf("query\n got %s\nwant %s", got, want)
	}
	c.Key = ""
	if q := lrcQuery(c, "100002167", u, now); strings.Contains(q, "Token") {
		t.Fatalf("no key, yet a token: %s", q)
	}
}

func TestWithQuery(t *testing.T) {
	for in, want := range map[string]string{
		"https://a/b":                 "https://a/b?X=1",
		"https://a/b?authorization=k": "https://a/b?X=1&authorization=k",
		"https://a/b?":                "https://a/b?X=1",
	} {
		if got := withQuery(in, "X=1"); got != want {
			t.Errorf("withQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckTIAK(t *testing.T) {
	if err := CheckTIAK("f3203a20a2e8dfaf6686b621f56d05e3"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "f3203a20", "g3203a20a2e8dfaf6686b621f56d05e3"} {
		if CheckTIAK(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func mustHex(t *testing.T, dst []byte, s string) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		t.Fatalf("bad hex %q", s)
	}
	copy(dst, b)
}

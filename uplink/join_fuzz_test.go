package uplink

import (
	"bytes"
	"testing"

	"github.com/brocaar/lorawan"
)

// FuzzJoin feeds an arbitrary join-request and an arbitrary downlink to a
// Joiner that knows the V10 device and a test device, after a genuine
// join-request of the latter, so that every downlink is tried against a
// pending request. Nothing may panic, the inputs stay untouched, and what
// the Joiner accepts brocaar/lorawan must accept too.
func FuzzJoin(f *testing.F) {
	// Seed corpus: testdata/fuzz/FuzzJoin (V9, V10) and a generated pair.
	dev := newOTAADev(7)
	req, dn := dev.joinRequest(f)
	acc, _ := dev.joinAccept(f, dn, 5, lorawan.DevAddr{1, 2, 3, 4})
	f.Add(req, acc)
	v10 := RootKeys{DevEUI: lorawan.EUI64{2, 2, 2, 2, 2, 2, 2, 2}, JoinEUI: lorawan.EUI64{1, 1, 1, 1, 1, 1, 1, 1}, AppKey: aesKey(f, v10Key)}
	f.Fuzz(func(t *testing.T, req, acc []byte) {
		if len(req) > 64 || len(acc) > 64 {
			return // refused by length alone
		}
		s := NewSessions()
		j := NewJoiner(s, JoinerOptions{}, nil, nil)
		if err := j.SetDevices([]RootKeys{dev.RootKeys, v10}); err != nil {
			t.Fatal(err)
		}
		genuine, _ := dev.joinRequest(t)
		if err := j.HandleJoinRequest(lorawan.EUI64{}, genuine); err != nil {
			t.Fatal(err)
		}
		inReq, inAcc := bytes.Clone(req), bytes.Clone(acc)
		if j.HandleJoinRequest(lorawan.EUI64{}, req) == nil {
			var p lorawan.PHYPayload
			if err := p.UnmarshalBinary(req); err != nil {
				t.Fatalf("accepted a join-request brocaar cannot parse: %v", err)
			}
			jr, ok := p.MACPayload.(*lorawan.JoinRequestPayload)
			if !ok {
				t.Fatal("accepted something else as a join-request")
			}
			key := dev.AppKey
			if jr.DevEUI == v10.DevEUI {
				key = v10.AppKey
			}
			if ok, err := p.ValidateUplinkJoinMIC(key); err != nil || !ok {
				t.Fatalf("accepted a join-request whose MIC brocaar refuses: %v", err)
			}
		}
		if j.HandleJoinAccept(lorawan.EUI64{}, acc) == nil {
			var p lorawan.PHYPayload
			if err := p.UnmarshalBinary(acc); err != nil {
				t.Fatalf("accepted a join-accept brocaar cannot parse: %v", err)
			}
			ok := false
			for _, k := range []lorawan.AES128Key{dev.AppKey, v10.AppKey} {
				q := p
				if q.DecryptJoinAcceptPayload(k) != nil {
					continue
				}
				ja := q.MACPayload.(*lorawan.JoinAcceptPayload)
				if v, err := q.ValidateDownlinkJoinMIC(lorawan.JoinRequestType, lorawan.EUI64{}, 0, k); err == nil && v {
					ok = len(s.tab.Load().byAddr[ja.DevAddr]) > 0
				}
			}
			if !ok {
				t.Fatal("accepted a join-accept brocaar refuses, or made no session at its DevAddr")
			}
		}
		if !bytes.Equal(req, inReq) || !bytes.Equal(acc, inAcc) {
			t.Fatal("input modified")
		}
	})
}

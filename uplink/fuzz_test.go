package uplink

import (
	"bytes"
	"testing"

	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

// FuzzDecode feeds arbitrary PHYPayloads to a Decoder that knows the
// reference devices (two of them share a DevAddr). It checks that nothing
// panics, that every frame is accounted for exactly once, and that the
// hand-written header parser, MIC and cipher agree with brocaar/lorawan.
func FuzzDecode(f *testing.F) {
	// Seed corpus: testdata/fuzz/FuzzDecode (the reference vectors).
	v8 := Session{DevEUI: eui(8), DevAddr: devAddr(f, "01020304"), NwkSKey: aesKey(f, k02), AppSKey: aesKey(f, k01)}
	v8b := Session{DevEUI: eui(9), DevAddr: devAddr(f, "01020304"), NwkSKey: aesKey(f, k01), AppSKey: aesKey(f, k01)}
	v5 := Session{DevEUI: eui(5), DevAddr: devAddr(f, "fc00dc06"), NwkSKey: aesKey(f, v5Nwk), AppSKey: aesKey(f, k02)}
	f.Fuzz(func(t *testing.T, phy []byte) {
		if len(phy) > 2*maxPHYPayload {
			return // all refused by length alone; spend the time elsewhere
		}
		fx := newFixture(t, v1Session(t), v8, v8b, v5)
		in := bytes.Clone(phy)
		ups := fx.d.Decode([]radio.Frame{frame(phy, 1, -80, 7), frame(phy, 2, -70, 7)})
		if !bytes.Equal(in, phy) {
			t.Fatal("Decode modified the frame")
		}
		var n uint64
		for _, r := range DropReasons {
			n += fx.dropped(r)
		}
		if n+fx.forwarded() != 1 || uint64(len(ups)) != fx.forwarded() {
			t.Fatalf("dropped %d + forwarded %d for one frame, %d uplinks", n, fx.forwarded(), len(ups))
		}
		for _, u := range ups {
			if u.FPort == 0 || (u.MType != lorawan.UnconfirmedDataUp && u.MType != lorawan.ConfirmedDataUp) ||
				len(u.Receptions) != 2 || u.Receptions[0].RSSI != -70 {
				t.Fatalf("bad uplink %+v", u)
			}
		}
		// A frame refused for its address or key is remembered for the
		// status: the address, or the devices it named.
		if us := fx.d.UnknownAddrs(); fx.dropped(ErrUnknownDevAddr) == 1 && (len(us) != 1 || us[0].Count != 1) || fx.dropped(ErrUnknownDevAddr) == 0 && len(us) != 0 {
			t.Fatalf("unknown_devaddr %d, remembered %+v", fx.dropped(ErrUnknownDevAddr), us)
		}
		if rj := fx.d.Rejections(); (fx.dropped(ErrMICFailure)+fx.dropped(ErrFCntReplay) == 1) != (len(rj) > 0) {
			t.Fatalf("mic_failure %d, fcnt_replay %d, rejections %+v", fx.dropped(ErrMICFailure), fx.dropped(ErrFCntReplay), rj)
		}
		// A second decode of the same frame is never delivered again.
		if again := fx.d.Decode([]radio.Frame{frame(phy, 3, -80, 7)}); len(again) != 0 {
			t.Fatal("frame delivered twice")
		}
		checkAgainstBrocaar(t, phy)
	})
}

// checkAgainstBrocaar compares parseFrame, the MIC and the cipher with
// brocaar/lorawan on one data frame.
func checkAgainstBrocaar(t *testing.T, phy []byte) {
	if len(phy) < 1 || len(phy) > maxPHYPayload {
		return
	}
	if phy[0]&0x1f != 0 {
		var df dataFrame
		if err := parseFrame(phy, &df); err != ErrBadFrame && err != ErrProprietary && err != ErrDownlink {
			t.Fatalf("MHDR %#x: %v", phy[0], err)
		}
		return
	}
	mt := lorawan.MType(phy[0] >> 5)
	if mt != lorawan.UnconfirmedDataUp && mt != lorawan.ConfirmedDataUp {
		return
	}
	var df dataFrame
	err := parseFrame(phy, &df)
	var p lorawan.PHYPayload
	berr := p.UnmarshalBinary(phy)
	if (err != nil) != (berr != nil) {
		t.Fatalf("parseFrame err %v, brocaar err %v", err, berr)
	}
	if err != nil {
		return
	}
	mp := p.MACPayload.(*lorawan.MACPayload)
	var bfrm []byte
	if len(mp.FRMPayload) > 0 {
		bfrm = mp.FRMPayload[0].(*lorawan.DataPayload).Bytes
	}
	if mp.FHDR.DevAddr != df.devAddr || mp.FHDR.FCnt != uint32(df.fcnt16) || mp.FHDR.FCtrl.ADR != df.adr() ||
		mp.FHDR.FCtrl.ACK != df.ack() || (mp.FPort != nil) != df.hasPort || p.MIC != df.mic ||
		(df.hasPort && *mp.FPort != df.fport) || !bytes.Equal(bfrm, df.frm) {
		t.Fatalf("parse differs: brocaar %+v fport %v, mine %+v", mp.FHDR, mp.FPort, df)
	}

	// MIC with a full counter above 16 bits, and decryption.
	fcnt := 0x30000 | uint32(df.fcnt16)
	mp.FHDR.FCnt = fcnt
	key := aesKey(t, v1Nwk)
	ck, _ := newCMACKey(key)
	var s cryptoScratch
	mine := ck.uplinkMIC(&s, df.devAddr, fcnt, df.msg)
	if err := p.SetUplinkDataMIC(lorawan.LoRaWAN1_0, 0, 0, 0, key, key); err != nil {
		return // brocaar cannot re-marshal it (e.g. FPort 0 with FOpts); nothing to compare
	}
	if p.MIC != mine {
		t.Fatalf("MIC %s, brocaar %s", lorawan.MIC(mine), p.MIC)
	}
	if df.hasPort && df.fport > 0 && len(df.frm) > 0 {
		want, err := lorawan.EncryptFRMPayload(key, true, df.devAddr, fcnt, bytes.Clone(df.frm))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(df.frm))
		decryptFRM(&s, ck.b, df.devAddr, fcnt, got, df.frm)
		if !bytes.Equal(got, want) {
			t.Fatalf("decrypt %x, brocaar %x", got, want)
		}
	}
}

// TestCMACSubkeys checks the subkeys of RFC 4493 §4 (the key of V12).
func TestCMACSubkeys(t *testing.T) {
	k, err := newCMACKey(aesKey(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.k1[:], unhex(t, "fbeed618357133667c85e08f7236a8de")) ||
		!bytes.Equal(k.k2[:], unhex(t, "f7ddac306ae266ccf90bc11ee46d513b")) {
		t.Fatalf("k1 %x k2 %x", k.k1, k.k2)
	}
}

// TestMICAgainstBrocaar covers every message length a frame can have, at
// counters on both sides of the 16-bit wrap.
func TestMICAgainstBrocaar(t *testing.T) {
	s := v1Session(t)
	for n := 0; n <= 222; n++ {
		for _, fc := range []uint32{0, 65535, 65536, 0xfedcba98} {
			var payload []byte
			var fp *uint8
			if n > 0 {
				payload, fp = make([]byte, n), port(uint8(n))
			}
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			phy := buildUp(t, s, fc, fp, payload, n%2 == 0)
			checkAgainstBrocaar(t, phy)
		}
	}
}

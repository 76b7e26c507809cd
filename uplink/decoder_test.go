package uplink

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"

	"edgeflow/radio"
)

func TestDecodeVectors(t *testing.T) {
	v5 := Session{DevEUI: eui(5), DevAddr: devAddr(t, "fc00dc06"), NwkSKey: aesKey(t, v5Nwk)}
	v7 := Session{DevEUI: eui(7), DevAddr: devAddr(t, "01020304"), NwkSKey: aesKey(t, v7Nwk), AppSKey: aesKey(t, v7App)}
	v8 := Session{DevEUI: eui(8), DevAddr: devAddr(t, "01020304"), NwkSKey: aesKey(t, k02), AppSKey: aesKey(t, k01)}
	v8b := Session{DevEUI: eui(9), DevAddr: devAddr(t, "01020304"), NwkSKey: aesKey(t, k01), AppSKey: aesKey(t, k01)}
	tests := []struct {
		name    string
		phy     string
		devs    []Session
		drop    error
		eui     lorawan.EUI64
		mtype   lorawan.MType
		fcnt    uint32
		fport   uint8
		adr     bool
		payload string
		mic     string
	}{
		{name: "V1 test", phy: v1Hex, devs: []Session{v1Session(t)}, eui: eui(1), mtype: lorawan.UnconfirmedDataUp,
			fcnt: 2, fport: 1, payload: "test", mic: "2b11ff0d"},
		{name: "V2 44 bytes", phy: v2Hex, devs: []Session{v1Session(t)}, eui: eui(1), mtype: lorawan.UnconfirmedDataUp,
			fcnt: 4, fport: 1, payload: "The quick brown fox jumps over the lazy dog.", mic: "0af3c5e7"},
		{name: "V3 empty", phy: v3Hex, devs: []Session{v1Session(t)}, eui: eui(1), mtype: lorawan.UnconfirmedDataUp,
			fcnt: 3, fport: 1, payload: "", mic: "2a3518af"},
		{name: "V7 confirmed", phy: v7Hex, devs: []Session{v7}, eui: eui(7), mtype: lorawan.ConfirmedDataUp,
			fcnt: 0, fport: 10, payload: "\x01\x02\x03\x04", mic: "e117d2c0"},
		{name: "V8 hello", phy: v8Hex, devs: []Session{v8}, eui: eui(8), mtype: lorawan.UnconfirmedDataUp,
			fcnt: 1, fport: 1, adr: true, payload: "hello", mic: "d6c3b582"},
		{name: "V8 FOpts and data", phy: v8bHex, devs: []Session{v8b}, eui: eui(9), mtype: lorawan.UnconfirmedDataUp,
			fcnt: 0, fport: 1, payload: "\x01\x02\x03\x04", mic: "b64dc039"},
		{name: "V8 port 0", phy: v8cHex, devs: []Session{v8b}, drop: ErrMACOnly},
		{name: "V5 port 0", phy: v5Hex, devs: []Session{v5}, drop: ErrMACOnly},
		{name: "V3 bad MIC", phy: v3Bad, devs: []Session{v1Session(t)}, drop: ErrMICFailure},
		{name: "V1 wrong NwkSKey", phy: v1Hex, devs: []Session{{DevEUI: eui(1), DevAddr: devAddr(t, "49be7df1"), NwkSKey: aesKey(t, v5Nwk)}}, drop: ErrMICFailure},
		{name: "V1 unknown", phy: v1Hex, devs: []Session{v5}, drop: ErrUnknownDevAddr},
		{name: "V4 downlink", phy: v4Hex, devs: []Session{v1Session(t)}, drop: ErrDownlink},
		{name: "V9 join", phy: v9Hex, drop: ErrJoinRequest},
		{name: "V10 join", phy: v10Hex, drop: ErrJoinRequest},
		{name: "join accept", phy: "2023cf335489aae3183c0be0baa8dee5f3", drop: ErrDownlink},
		{name: "proprietary", phy: "e0010203040506", drop: ErrProprietary},
		{name: "major 2", phy: "42f17dbe4900020001954378762b11ff0d", devs: []Session{v1Session(t)}, drop: ErrBadFrame},
		{name: "MHDR RFU bits", phy: "58f17dbe4900020001954378762b11ff0d", devs: []Session{v1Session(t)}, drop: ErrBadFrame},
		{name: "short", phy: "40f17dbe49", drop: ErrBadFrame},
		{name: "FOptsLen too long", phy: "40f17dbe490f020001954378", drop: ErrBadFrame},
		{name: "empty", phy: "", drop: ErrBadFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.devs...)
			ups := f.d.Decode([]radio.Frame{frame(unhex(t, tc.phy), 1, -80, 7)})
			if tc.drop != nil {
				if len(ups) != 0 {
					t.Fatalf("got %d uplinks, want drop %v", len(ups), tc.drop)
				}
				if got := f.dropped(tc.drop); got != 1 {
					t.Fatalf("dropped{%v} = %d, want 1", tc.drop, got)
				}
				return
			}
			if len(ups) != 1 {
				t.Fatalf("got %d uplinks, want 1; mic_failure=%d", len(ups), f.dropped(ErrMICFailure))
			}
			u := ups[0]
			if u.DevEUI != tc.eui || u.MType != tc.mtype || u.FCnt != tc.fcnt || u.FPort != tc.fport ||
				u.ADR != tc.adr || string(u.Payload) != tc.payload || u.MIC.String() != tc.mic {
				t.Fatalf("got %+v", u)
			}
			if f.forwarded() != 1 {
				t.Fatalf("forwarded = %d", f.forwarded())
			}
		})
	}
}

func TestDecodeFCntWrap(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	for _, fc := range []uint32{65534, 65535, 65536, 65537} {
		ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, fc, port(1), []byte("x"), false), 1, -80, 7)})
		if len(ups) != 1 || ups[0].FCnt != fc {
			t.Fatalf("fcnt %d: got %+v (mic_failure=%d)", fc, ups, f.dropped(ErrMICFailure))
		}
	}
	// The example of the brief: last 0x1FFFE, then 16-bit 0x0003.
	if !f.s.RestoreFCnt(s.DevEUI, 0x1fffe) {
		t.Fatal("RestoreFCnt: device unknown")
	}
	ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, 0x20003, port(1), []byte("y"), false), 1, -80, 7)})
	if len(ups) != 1 || ups[0].FCnt != 0x20003 {
		t.Fatalf("got %+v", ups)
	}
	if st := f.s.Snapshot(); len(st) != 1 || st[0].FCnt != 0x20003 || !st[0].HasFCnt || st[0].Uplinks != 5 {
		t.Fatalf("snapshot %+v", st)
	}
}

func TestFullFCnt(t *testing.T) {
	tests := []struct {
		last uint32
		has  bool
		f16  uint16
		want uint32
	}{
		{0, false, 7, 7},
		{0, false, 65535, 65535},
		{5, true, 6, 6},
		{5, true, 5, 5},         // repeat: replay after the MIC
		{65535, true, 0, 65536}, // wrap
		{0x1fffe, true, 3, 0x20003},
		{70000, true, 100, 65636}, // forward jump 61172 > MAX_FCNT_GAP: an old frame, as is
		{70000, true, 20000, 0x10000 + 20000},
		{100, true, 30000, 30000}, // big jump without wrap: the MIC decides
		{0xffffffff, true, 0, 0xffff0000},
	}
	for _, tc := range tests {
		if got := fullFCnt(tc.last, tc.has, tc.f16); got != tc.want {
			t.Errorf("fullFCnt(%#x, %v, %#x) = %#x, want %#x", tc.last, tc.has, tc.f16, got, tc.want)
		}
	}
}

func TestDecodeReplayAndDuplicate(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	f10 := buildUp(t, s, 10, port(1), []byte("a"), false)
	f9 := buildUp(t, s, 9, port(1), []byte("b"), false)
	if ups := f.d.Decode([]radio.Frame{frame(f10, 1, -80, 7)}); len(ups) != 1 {
		t.Fatal("first uplink not accepted")
	}
	// The same frame in a second datagram 300 ms later, from another gateway.
	f.clk.Add(300 * time.Millisecond)
	if ups := f.d.Decode([]radio.Frame{frame(f10, 2, -90, 3)}); len(ups) != 0 {
		t.Fatal("duplicate delivered")
	}
	if f.dropped(ErrDuplicate) != 1 || f.dropped(ErrFCntReplay) != 0 {
		t.Fatalf("duplicate=%d replay=%d", f.dropped(ErrDuplicate), f.dropped(ErrFCntReplay))
	}
	// An older counter is a replay.
	if ups := f.d.Decode([]radio.Frame{frame(f9, 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("older counter delivered")
	}
	// The same frame after the window is a replay, not a duplicate.
	f.clk.Add(time.Minute)
	if ups := f.d.Decode([]radio.Frame{frame(f10, 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("replay delivered")
	}
	if f.dropped(ErrFCntReplay) != 2 || f.dropped(ErrDuplicate) != 1 {
		t.Fatalf("replay=%d duplicate=%d", f.dropped(ErrFCntReplay), f.dropped(ErrDuplicate))
	}
	// A replayed MAC-only frame is also caught: the counter moved on.
	f11 := buildUp(t, s, 11, port(0), []byte{0x02}, false)
	f.d.Decode([]radio.Frame{frame(f11, 1, -80, 7)})
	f.d.Decode([]radio.Frame{frame(f11, 1, -80, 7)})
	if f.dropped(ErrMACOnly) != 1 || f.dropped(ErrDuplicate) != 2 {
		t.Fatalf("mac_only=%d duplicate=%d", f.dropped(ErrMACOnly), f.dropped(ErrDuplicate))
	}
	if ups := f.d.Decode([]radio.Frame{frame(f10, 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("replay delivered")
	}
}

func TestDecodeFirstUplinkAbove16Bits(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	// A device the agent has never heard, already at counter 1,000,000.
	ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, 1_000_000, port(1), []byte("old"), false), 1, -80, 7)})
	if len(ups) != 1 || ups[0].FCnt != 1_000_000 || string(ups[0].Payload) != "old" {
		t.Fatalf("got %+v (mic_failure=%d)", ups, f.dropped(ErrMICFailure))
	}
	// Beyond the search, the agent needs the counter (RestoreFCnt).
	f2 := newFixture(t, s)
	if ups := f2.d.Decode([]radio.Frame{frame(buildUp(t, s, 3_000_000, port(1), []byte("x"), false), 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("counter beyond the search accepted")
	}
	f2.s.RestoreFCnt(s.DevEUI, 2_999_990)
	if ups := f2.d.Decode([]radio.Frame{frame(buildUp(t, s, 3_000_000, port(1), []byte("x"), false), 1, -80, 7)}); len(ups) != 1 {
		t.Fatal("restored counter not used")
	}
}

func TestDecodeFarJump(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	f.s.RestoreFCnt(s.DevEUI, 0x1fff0)
	// 40976 ahead across the wrap: beyond MAX_FCNT_GAP, so not taken as a
	// wrap; the MIC then fails (LoRaWAN 1.0 drops such frames).
	far := buildUp(t, s, 0x2a000, port(1), []byte("far"), false)
	if ups := f.d.Decode([]radio.Frame{frame(far, 1, -80, 7)}); len(ups) != 0 {
		t.Fatalf("far jump delivered: %+v", ups)
	}
	if f.dropped(ErrMICFailure) != 1 {
		t.Fatalf("mic_failure=%d", f.dropped(ErrMICFailure))
	}
	// A big jump that needs no wrap is the MIC's to accept.
	big := buildUp(t, s, 0x1fff0+16000, port(1), []byte("big"), false)
	if ups := f.d.Decode([]radio.Frame{frame(big, 1, -80, 7)}); len(ups) != 1 || ups[0].FCnt != 0x1fff0+16000 {
		t.Fatalf("got %+v", ups)
	}
}

func TestDecodeDevAddrCollision(t *testing.T) {
	a := v1Session(t)
	b := Session{DevEUI: eui(2), DevAddr: a.DevAddr, NwkSKey: aesKey(t, k01), AppSKey: aesKey(t, k02)}
	f := newFixture(t, a, b)
	fa := buildUp(t, a, 1, port(1), []byte("from a"), false)
	fb := buildUp(t, b, 1, port(2), []byte("from b"), true)
	ups := f.d.Decode([]radio.Frame{frame(fa, 1, -80, 7), frame(fb, 1, -80, 7)})
	if len(ups) != 2 {
		t.Fatalf("got %d uplinks", len(ups))
	}
	if l := f.s.Lookup(a.DevAddr); len(l) != 2 || l[0].DevEUI != a.DevEUI || l[1].DevEUI != b.DevEUI {
		t.Fatalf("Lookup %v", l)
	}
	if ups[0].DevEUI != a.DevEUI || string(ups[0].Payload) != "from a" ||
		ups[1].DevEUI != b.DevEUI || string(ups[1].Payload) != "from b" || ups[1].MType != lorawan.ConfirmedDataUp {
		t.Fatalf("got %+v", ups)
	}
	// Device a's counter moved, b's is its own.
	if ups := f.d.Decode([]radio.Frame{frame(buildUp(t, b, 2, port(2), []byte("b2"), false), 1, -80, 7)}); len(ups) != 1 || ups[0].DevEUI != b.DevEUI {
		t.Fatalf("got %+v", ups)
	}
}

func TestDecodeMultiAntenna(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	phy := buildUp(t, s, 1, port(1), []byte("hi"), false)
	other := buildUp(t, s, 2, port(1), []byte("ho"), false)
	fr := []radio.Frame{
		frame(phy, 1, -100, 2),
		frame(phy, 2, -90, -1),
		frame(other, 2, -95, 1),
		frame(phy, 3, -90, 5), // ties on RSSI, better SNR: best
		frame(phy, 4, -50, 9), // bad CRC: not a reception
	}
	fr[3].Frequency, fr[3].SF, fr[3].DataRate = 868.3, 9, "SF9BW125"
	fr[3].HasPosition, fr[3].Latitude, fr[3].Longitude = true, 45.5, 1.25
	fr[3].GPSTime = false
	fr[4].CRCStatus = -1
	ups := f.d.Decode(fr)
	if len(ups) != 2 {
		t.Fatalf("got %d uplinks", len(ups))
	}
	u := ups[0]
	var gws []byte
	for _, r := range u.Receptions {
		gws = append(gws, r.GatewayEUI[7])
	}
	if !bytes.Equal(gws, []byte{3, 2, 1}) {
		t.Fatalf("reception order %v", gws)
	}
	if u.Frequency != 868.3 || u.SF != 9 || u.DataRate != "SF9BW125" || !u.Receptions[0].HasPosition {
		t.Fatalf("radio fields not from the best reception: %+v", u)
	}
	if !u.ReceivedAt.Equal(t0) || u.ReceivedAt.Location() != time.UTC {
		t.Fatalf("ReceivedAt %v", u.ReceivedAt)
	}
	if len(ups[1].Receptions) != 1 || string(ups[1].Payload) != "ho" {
		t.Fatalf("second uplink %+v", ups[1])
	}
	if f.dropped(ErrBadCRC) != 1 || f.forwarded() != 2 {
		t.Fatalf("bad_crc=%d forwarded=%d", f.dropped(ErrBadCRC), f.forwarded())
	}
}

func TestDecodeTimeFallback(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	fr := frame(buildUp(t, s, 1, port(1), []byte("x"), false), 1, -80, 7)
	fr.Time, fr.GPSTime = time.Time{}, false
	f.clk.Add(time.Hour)
	ups := f.d.Decode([]radio.Frame{fr})
	if len(ups) != 1 || !ups[0].ReceivedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("got %+v", ups)
	}
}

func TestDecodeRelaxFCnt(t *testing.T) {
	s := v1Session(t)
	s.RelaxFCnt = true
	f := newFixture(t, s)
	for _, fc := range []uint32{500, 0, 1} { // the device reset after 500
		ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, fc, port(1), []byte("r"), false), 1, -80, 7)})
		if len(ups) != 1 || ups[0].FCnt != fc {
			t.Fatalf("fcnt %d: got %+v", fc, ups)
		}
	}
	// Within the window a repeat is still a duplicate.
	phy := buildUp(t, s, 1, port(1), []byte("r"), false)
	if ups := f.d.Decode([]radio.Frame{frame(phy, 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("duplicate delivered")
	}
	// A reset from a counter above 65535.
	f.s.RestoreFCnt(s.DevEUI, 70000)
	ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, 2, port(1), []byte("r"), false), 1, -80, 7)})
	if len(ups) != 1 || ups[0].FCnt != 2 {
		t.Fatalf("got %+v", ups)
	}
}

func TestDecodeReloadKeepsCounter(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	f.d.Decode([]radio.Frame{frame(buildUp(t, s, 10, port(1), []byte("a"), false), 1, -80, 7)})
	other := Session{DevEUI: eui(2), DevAddr: devAddr(t, "01020304"), NwkSKey: aesKey(t, k01), AppSKey: aesKey(t, k01)}
	if err := f.s.Set([]Session{other, s}); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Minute)
	if ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, 9, port(1), []byte("a"), false), 1, -80, 7)}); len(ups) != 0 {
		t.Fatal("counter state lost on reload")
	}
	// New keys: a new session, counted from scratch.
	s.AppSKey = aesKey(t, k02)
	if err := f.s.Set([]Session{s}); err != nil {
		t.Fatal(err)
	}
	if ups := f.d.Decode([]radio.Frame{frame(buildUp(t, s, 9, port(1), []byte("a"), false), 1, -80, 7)}); len(ups) != 1 {
		t.Fatal("new session refused")
	}
	if err := f.s.Set([]Session{s, s}); err == nil {
		t.Fatal("duplicate DevEUI accepted")
	}
	if f.s.Len() != 1 {
		t.Fatalf("failed Set changed the table: %d sessions", f.s.Len())
	}
}

func TestDecoderMetricsExposition(t *testing.T) {
	f := newFixture(t, v1Session(t))
	f.d.Decode([]radio.Frame{frame(unhex(t, v3Bad), 1, -80, 7), frame(unhex(t, v1Hex), 1, -80, 7)})
	var b bytes.Buffer
	f.set.WritePrometheus(&b)
	for _, want := range []string{
		`edgeflow_uplink_dropped_total{reason="mic_failure"} 1`,
		`edgeflow_uplink_dropped_total{reason="duplicate"} 0`,
		`edgeflow_uplink_forwarded_total 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}

// TestRelaxFCntRecordedRunReplayed: a RelaxFCnt device restarted twice;
// a recording of its run before the last restart, replayed from its
// start, is not another restart, and survives a save and load of the
// counter state.
func TestRelaxFCntRecordedRunReplayed(t *testing.T) {
	t.Run("full records", func(t *testing.T) { relaxRecordedRun(t, &memStore{}) })
	// A large room: the counter state goes as deltas.
	t.Run("deltas", func(t *testing.T) { relaxRecordedRun(t, newMemCounterStore(1<<20)) })
}

func relaxRecordedRun(t *testing.T, store SessionStore) {
	s := v1Session(t)
	s.RelaxFCnt = true
	f := newOTAAFixture(t, store, []Session{s})
	runA := make([][]byte, 30)
	for fc := range runA {
		runA[fc] = buildUp(t, s, uint32(fc), port(1), []byte("run A"), false)
		f.clk.Add(time.Minute) // past the de-duplication window
		if len(f.up(runA[fc])) != 1 {
			t.Fatalf("run A, frame %d refused", fc)
		}
	}
	if err := f.p.Flush(t.Context()); err != nil { // the full record; what follows is a counter change
		t.Fatal(err)
	}
	// The device restarts (new payloads, so new MICs) and runs to 20.
	for fc := range 20 {
		f.clk.Add(time.Minute)
		if len(f.up(buildUp(t, s, uint32(fc), port(1), []byte("run B"), false))) != 1 {
			t.Fatalf("run B, frame %d refused", fc)
		}
	}
	if err := f.p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cs, ok := store.(*memCounterStore); ok && cs.deltaSaves == 0 {
		t.Fatal("the counter state was not saved as a delta")
	}
	f = newOTAAFixture(t, store, []Session{s}) // the agent restarts
	for fc := range 5 {
		f.clk.Add(time.Minute)
		if len(f.up(runA[fc])) != 0 {
			t.Fatalf("run A's frame %d, replayed, was taken for a restart", fc)
		}
	}
	// A real restart is still one.
	f.clk.Add(time.Minute)
	if len(f.up(buildUp(t, s, 0, port(1), []byte("run C"), false))) != 1 {
		t.Fatal("a real restart was refused")
	}
}

// DecodeAt decodes at the caller's reading of the clock: a frame without a
// time of its own is received then, not at the decoder's clock.
func TestDecodeAtTakesTheCallersNow(t *testing.T) {
	s := v1Session(t)
	f := newFixture(t, s)
	fr := frame(buildUp(t, s, 1, port(1), []byte("x"), false), 1, -80, 7)
	fr.Time, fr.GPSTime = time.Time{}, false
	at := t0.Add(time.Hour)
	ups := f.d.DecodeAt([]radio.Frame{fr}, &at)
	if len(ups) != 1 || !ups[0].ReceivedAt.Equal(at) {
		t.Fatalf("decoded %+v, want one uplink received at %v (the decoder's clock says %v)", ups, at, t0)
	}
}

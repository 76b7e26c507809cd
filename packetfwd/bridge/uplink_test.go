package bridge

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brocaar/lorawan"
	"github.com/chirpstack/chirpstack/api/go/v4/common"
	"github.com/chirpstack/chirpstack/api/go/v4/gw"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"edgeflow/radio"
)

// The samples are what the bridges published for the README's PUSH_DATA
// (testdata/bridge, copied from the shared samples).
var (
	sampleTime = time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
	euiV4      = lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 1}
	euiV3      = lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 1, 2}
)

func sampleFrame(eui lorawan.EUI64) radio.Frame {
	return radio.Frame{PHYPayload: v1PHY, GatewayEUI: eui, Time: sampleTime, GPSTime: true, Tmst: 123456,
		Frequency: 868.5, Modulation: "LORA", DataRate: "SF7BW125", SF: 7, Bandwidth: 125, CodeRate: "4/5",
		Channel: 2, RSSI: -57, SNR: 7.25, CRCStatus: 1}
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bridge", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v4Proto is the v4 sample as the bridge's default (protobuf) marshaler
// publishes it; testdata/bridge/v4-event-up.pb holds the same bytes.
func v4Proto() *gw.UplinkFrame {
	return &gw.UplinkFrame{
		PhyPayload: v1PHY,
		TxInfo: &gw.UplinkTxInfo{Frequency: 868500000, Modulation: &gw.Modulation{Parameters: &gw.Modulation_Lora{
			Lora: &gw.LoraModulationInfo{Bandwidth: 125000, SpreadingFactor: 7, CodeRate: gw.CodeRate_CR_4_5}}}},
		RxInfo: &gw.UplinkRxInfo{GatewayId: "aa555a0000000101", UplinkId: 1027, GwTime: timestamppb.New(sampleTime),
			Rssi: -57, Snr: 7.25, Channel: 2, Context: []byte{0, 1, 0xe2, 0x40}, CrcStatus: gw.CRCStatus_CRC_OK},
	}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeBridgeSamples(t *testing.T) {
	pb := mustMarshal(t, v4Proto())
	if !bytes.Equal(pb, readSample(t, "v4-event-up.pb")) {
		t.Error("testdata/bridge/v4-event-up.pb is stale; rewrite it from v4Proto")
	}
	// v3 over protobuf: the legacy fields 2/3 of the v4 message, with v3's
	// units (bandwidth in kHz, code rate as a string).
	v3pb := mustMarshal(t, &gw.UplinkFrame{
		PhyPayload: v1PHY,
		TxInfoLegacy: &gw.UplinkTxInfoLegacy{Frequency: 868500000, Modulation: common.Modulation_LORA,
			ModulationInfo: &gw.UplinkTxInfoLegacy_LoraModulationInfo{LoraModulationInfo: &gw.LoraModulationInfo{
				Bandwidth: 125, SpreadingFactor: 7, CodeRateLegacy: "4/5"}}},
		RxInfoLegacy: &gw.UplinkRxInfoLegacy{GatewayId: euiV3[:], Time: timestamppb.New(sampleTime),
			Rssi: -57, LoraSnr: 7.25, Channel: 2, Context: []byte{0, 1, 0xe2, 0x40}, CrcStatus: gw.CRCStatus_CRC_OK},
	})
	now := time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    radio.Frame
	}{
		{"v4 json", readSample(t, "v4-event-up.json"), sampleFrame(euiV4)},
		{"v4 protobuf", pb, sampleFrame(euiV4)},
		{"v3 json", readSample(t, "v3-event-up.json"), sampleFrame(euiV3)},
		{"v3 protobuf", v3pb, sampleFrame(euiV3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeUplink(tc.payload, now)
			if err != nil {
				t.Fatal(err)
			}
			assertFrames(t, got, []radio.Frame{tc.want})
		})
	}
}

func TestDecodeBridgeVariants(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC)
	v4 := string(readSample(t, "v4-event-up.json"))
	v3 := string(readSample(t, "v3-event-up.json"))
	for _, tc := range []struct {
		name, payload string
		check         func(t *testing.T, f radio.Frame)
	}{
		{"v4 docs: time instead of gwTime, no crcStatus is NO_CRC", `{"phyPayload":"gKb+agGABQABOIc6cwQ=",
			"txInfo":{"frequency":867300000,"modulation":{"lora":{"bandwidth":125000,"spreadingFactor":7,"codeRate":"CR_4_5"}}},
			"rxInfo":{"gatewayId":"0016c001f153a14c","uplinkId":7895,"time":"2022-08-03T14:37:43.383634108Z","rssi":-52,"snr":13.75,"context":"xwx0GQ==","crcStatus":"CRC_OK"}}`,
			func(t *testing.T, f radio.Frame) {
				if !f.GPSTime || !f.Time.Equal(time.Date(2022, 8, 3, 14, 37, 43, 383634108, time.UTC)) ||
					f.Tmst != 0xc70c7419 || f.Frequency != 867.3 || f.SNR != 13.75 {
					t.Errorf("%+v", f)
				}
			}},
		{"v4 without time: the clock", strings.Replace(v4, `"gwTime":"2026-11-25T10:00:00.123456Z",`, "", 1),
			func(t *testing.T, f radio.Frame) {
				if f.GPSTime || !f.Time.Equal(now) {
					t.Errorf("time %v gps %v", f.Time, f.GPSTime)
				}
			}},
		{"v4 proto names", `{"phy_payload":"QPF9vkkAAgABlUN4disR_w0","tx_info":{"frequency":"868500000","modulation":{"lora":{"bandwidth":125000,"spreading_factor":7,"code_rate":1}}},
			"rx_info":{"gateway_id":"AA555A0000000101","rssi":-57,"snr":7.25,"channel":2,"context":"AAHiQA==","crc_status":2}}`,
			func(t *testing.T, f radio.Frame) {
				if !bytes.Equal(f.PHYPayload, v1PHY) || f.GatewayEUI != euiV4 || f.CodeRate != "4/5" || f.Tmst != 123456 {
					t.Errorf("%+v", f)
				}
			}},
		{"v4 fsk", `{"phyPayload":"AQI=","txInfo":{"frequency":868800000,"modulation":{"fsk":{"frequencyDeviation":25000,"datarate":50000}}},
			"rxInfo":{"gatewayId":"0102030405060708","rssi":-80,"crcStatus":"CRC_OK"}}`,
			func(t *testing.T, f radio.Frame) {
				if f.Modulation != "FSK" || f.DataRate != "50000" || f.SF != 0 {
					t.Errorf("%+v", f)
				}
			}},
		{"v4 lr-fhss", `{"phyPayload":"AQI=","txInfo":{"frequency":868800000,"modulation":{"lrFhss":{"operatingChannelWidth":137000,"codeRate":"CR_2_6","gridSteps":52}}},
			"rxInfo":{"gatewayId":"0102030405060708","rssi":-80,"crcStatus":"CRC_OK"}}`,
			func(t *testing.T, f radio.Frame) {
				if f.Modulation != "LR-FHSS" || f.DataRate != "M0CW137" || f.CodeRate != "2/6" {
					t.Errorf("%+v", f)
				}
			}},
		{"v3 without crcStatus predates it", strings.Replace(v3, `,"crcStatus":"CRC_OK"`, "", 1),
			func(t *testing.T, f radio.Frame) {
				if f.CRCStatus != 1 {
					t.Errorf("%+v", f)
				}
			}},
		{"v3 early: timestamp, no context, time null", strings.Replace(strings.Replace(v3, `"context":"AAHiQA==",`, `"timestamp":42,`, 1),
			`"time":"2026-11-25T10:00:00.123456Z"`, `"time":null`, 1),
			func(t *testing.T, f radio.Frame) {
				if f.Tmst != 42 || f.GPSTime || !f.Time.Equal(now) {
					t.Errorf("%+v", f)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeUplink([]byte(tc.payload), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d frames", len(got))
			}
			tc.check(t, got[0])
		})
	}
}

func TestDecodeBridgeRejects(t *testing.T) {
	v4 := string(readSample(t, "v4-event-up.json"))
	v3 := string(readSample(t, "v3-event-up.json"))
	pb := mustMarshal(t, v4Proto())
	noRx := v4Proto()
	noRx.RxInfo = nil
	badCRC := v4Proto()
	badCRC.RxInfo.CrcStatus = gw.CRCStatus_BAD_CRC
	noCRC := v4Proto()
	noCRC.RxInfo.CrcStatus = gw.CRCStatus_NO_CRC
	badFreq := v4Proto()
	badFreq.TxInfo.Frequency = 12
	for _, tc := range []struct {
		name, reason string
		payload      []byte
	}{
		{"empty", "no_phy_payload", nil},
		{"random bytes that parse as protobuf", "no_phy_payload", []byte{0x28, 0x01}},
		{"truncated protobuf", "bad_protobuf", pb[:len(pb)-3]},
		{"phy payload only", "bad_rx_info", mustMarshal(t, &gw.UplinkFrame{PhyPayload: []byte{1}})},
		{"protobuf without rx info", "bad_rx_info", mustMarshal(t, noRx)},
		{"protobuf bad crc", "crc_error", mustMarshal(t, badCRC)},
		{"protobuf no crc", "no_crc", mustMarshal(t, noCRC)},
		{"protobuf bad frequency", "bad_tx_info", mustMarshal(t, badFreq)},
		{"json truncated", "bad_json", []byte(v4[:40])},
		{"json array", "bad_json", []byte(`{`)},
		{"json wrong types", "bad_rx_info", []byte(strings.Replace(v4, `"rssi":-57`, `"rssi":"loud"`, 1))},
		{"json bad base64", "bad_phy_payload", []byte(strings.Replace(v4, `QPF9vkkAAgABlUN4disR/w0=`, `!!`, 1))},
		{"json no phy payload", "no_phy_payload", []byte(strings.Replace(v4, `"phyPayload":"QPF9vkkAAgABlUN4disR/w0=",`, ``, 1))},
		{"v4 hex id too short", "bad_gateway_id", []byte(strings.Replace(v4, `aa555a0000000101`, `aa55`, 1))},
		{"v3 id not base64 of 8", "bad_gateway_id", []byte(strings.Replace(v3, `qlVaAAAAAQI=`, `qlVa`, 1))},
		{"v4 no crcStatus", "no_crc", []byte(strings.Replace(v4, `,"crcStatus":"CRC_OK"`, ``, 1))},
		{"v4 bad crc", "crc_error", []byte(strings.Replace(v4, `CRC_OK`, `BAD_CRC`, 1))},
		{"v4 unknown crc", "bad_rx_info", []byte(strings.Replace(v4, `CRC_OK`, `MAYBE`, 1))},
		{"v4 SF13", "bad_tx_info", []byte(strings.Replace(v4, `"spreadingFactor":7`, `"spreadingFactor":13`, 1))},
		{"v4 no modulation", "bad_tx_info", []byte(strings.Replace(v4, `"modulation":{"lora"`, `"modulation":{"other"`, 1))},
		{"v3 bandwidth in Hz", "bad_tx_info", []byte(strings.Replace(v3, `"bandwidth":125`, `"bandwidth":125000`, 1))},
		{"v3 bad time", "bad_rx_info", []byte(strings.Replace(v3, `2026-11-25T10`, `yesterday`, 1))},
		{"too large", "too_large", bytes.Repeat([]byte{' '}, maxBridgePayload+1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := DecodeUplink(tc.payload, recvTime)
			var be *DecodeError
			if !errors.As(err, &be) || be.Reason != tc.reason || frames != nil {
				t.Fatalf("got %v, %v; want reason %s", frames, err, tc.reason)
			}
			if !slices.Contains(bridgeDecodeReasons, be.Reason) {
				t.Fatalf("reason %q not in bridgeDecodeReasons", be.Reason)
			}
		})
	}
}

// FuzzDecodeBridgeUplink: never a panic; an accepted message gives one
// sane Frame; a refusal always has a known reason. Seeds: the samples in
// testdata/bridge and testdata/fuzz/FuzzDecodeBridgeUplink.
func FuzzDecodeBridgeUplink(f *testing.F) {
	for _, name := range []string{"v3-event-up.json", "v4-event-up.json", "v4-event-up.pb"} {
		f.Add(readSample(f, name))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := bytes.Clone(in) // scribbled on below
		frames, err := DecodeUplink(b, recvTime)
		if err != nil {
			var be *DecodeError
			if !errors.As(err, &be) || !slices.Contains(bridgeDecodeReasons, be.Reason) || frames != nil {
				t.Fatalf("error %v (%T), frames %v", err, err, frames)
			}
			return
		}
		if len(frames) != 1 {
			t.Fatalf("%d frames", len(frames))
		}
		fr := frames[0]
		if len(fr.PHYPayload) == 0 || len(fr.PHYPayload) > 255 || fr.CRCStatus != 1 ||
			fr.Frequency < 100 || fr.Frequency > 3000 || fr.DataRate == "" {
			t.Fatalf("accepted %+v", fr)
		}
		if fr.Modulation == "LORA" && (fr.SF < 5 || fr.SF > 12 || fr.Bandwidth <= 0) {
			t.Fatalf("LoRa without SF/BW: %+v", fr)
		}
		if !fr.GPSTime && !fr.Time.Equal(recvTime) {
			t.Fatalf("time %v without gateway time", fr.Time)
		}
		if js := bytes.TrimLeft(in, " \t\r\n"); len(js) == 0 || js[0] != '{' {
			agreeWithGenerated(t, in, fr)
		}
		// The frame owns its payload: handlers may keep it after the
		// message is gone.
		before := bytes.Clone(fr.PHYPayload)
		for i := range b {
			b[i] ^= 0xff
		}
		if !bytes.Equal(before, fr.PHYPayload) {
			t.Fatal("payload aliases the message")
		}
	})
}

// agreeWithGenerated checks the hand-written protobuf reader against the
// generated chirpstack code on a message the reader accepted.
func agreeWithGenerated(t *testing.T, b []byte, fr radio.Frame) {
	var m gw.UplinkFrame
	if proto.Unmarshal(b, &m) != nil {
		// The generated code parses fields the reader skips (location,
		// metadata, …) and refuses invalid UTF-8 in strings: a message
		// broken only there is one the reader may accept.
		return
	}
	var eui string
	var rssi int32
	var snr float64
	if rx := m.RxInfo; rx != nil {
		eui, rssi, snr = strings.ToLower(rx.GatewayId), rx.Rssi, float64(rx.Snr)
	} else {
		rx := m.RxInfoLegacy
		eui, rssi, snr = hex.EncodeToString(rx.GatewayId), rx.Rssi, rx.LoraSnr
	}
	freq := m.GetTxInfo().GetFrequency()
	if m.TxInfo == nil {
		freq = m.TxInfoLegacy.GetFrequency()
	}
	if !bytes.Equal(m.PhyPayload, fr.PHYPayload) || eui != fr.GatewayEUI.String() ||
		float64(rssi) != fr.RSSI || snr != fr.SNR || float64(freq)/1e6 != fr.Frequency {
		t.Fatalf("reader %+v, generated %v", fr, &m)
	}
}

package uplink_test

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/brocaar/lorawan"

	"edgeflow/radio"
	"edgeflow/uplink"
)

// The whole path of one frame: sessions, decoder, buffer record, document.
func Example() {
	var s uplink.Session
	_ = s.DevEUI.UnmarshalText([]byte("70B3D57ED0000001"))
	_ = s.DevAddr.UnmarshalText([]byte("49be7df1"))
	_ = s.NwkSKey.UnmarshalText([]byte("44024241ed4ce9a68c6a8bc055233fd3"))
	_ = s.AppSKey.UnmarshalText([]byte("ec925802ae430ca77fd3dd73cb2cc588"))
	sessions := uplink.NewSessions()
	if err := sessions.Set([]uplink.Session{s}); err != nil {
		panic(err)
	}
	set := metrics.NewSet()
	dec := uplink.NewDecoder(sessions, uplink.DecoderOptions{}, nil, set)

	phy, _ := hex.DecodeString("40F17DBE4900020001954378762B11FF0D") // V1: "test"
	frame := radio.Frame{
		PHYPayload: phy,
		GatewayEUI: lorawan.EUI64{0xaa, 0x55, 0x5a, 0, 0, 0, 0x01, 0x01},
		Time:       time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC), GPSTime: true,
		Frequency: 868.1, DataRate: "SF7BW125", SF: 7, RSSI: -80, SNR: 7, CRCStatus: 1,
	}
	other := frame // the same frame heard by a second gateway
	other.GatewayEUI[7], other.RSSI, other.SNR = 0x02, -97, -3
	ups := dec.Decode([]radio.Frame{other, frame}) // one uplink, best reception first
	u := &ups[0]

	rec, _ := u.MarshalBinary() // what the buffer stores
	var back uplink.Uplink
	if err := back.UnmarshalBinary(rec); err != nil {
		panic(err)
	}
	fmt.Printf("%s %d %q\n", back.DevEUI, back.FCnt, back.Payload)
	fmt.Println(string(uplink.AppendDocument(nil, &back, false, uplink.DocOptions{})))
	// Output:
	// 70b3d57ed0000001 2 "test"
	// {"DevEUI_uplink":{"Time":"2026-11-25T12:00:00.123+00:00","DevEUI":"70B3D57ED0000001","DevAddr":"49BE7DF1","FPort":1,"FCntUp":2,"MType":2,"AckRequested":0,"payload_hex":"74657374","mic_hex":"2b11ff0d","LrrRSSI":-80,"LrrSNR":7,"LrrESP":-80.790097,"SpFact":7,"Frequency":868.1,"Lrrid":"00000101","Lrrs":{"Lrr":[{"Lrrid":"00000101","Chain":0,"LrrRSSI":-80,"LrrSNR":7,"LrrESP":-80.790097},{"Lrrid":"00000102","Chain":0,"LrrRSSI":-97,"LrrSNR":-3,"LrrESP":-101.764349}]},"DevLrrCnt":2,"Late":0,"CustomerID":"0","PayloadEncryption":0}}
}

package bridge

import (
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// The bridge's protobuf gw.UplinkFrame is read field by field with
// protowire instead of through the generated chirpstack api/go/v4/gw
// package: that package and the protobuf runtime it needs add some 3.5 MB
// to a stripped MIPS binary, this reader a few kilobytes. The tests check
// it against the generated code. Field numbers are those of
// chirpstack/chirpstack api/proto/gw/gw.proto (v4.14.1); the legacy fields
// 2 and 3 have the layout of v3's UplinkTXInfo/UplinkRXInfo.

// Enum values of gw.proto.
const (
	protoNoCRC  = 0
	protoBadCRC = 1
	protoCRCOK  = 2

	protoModLoRa   = 0 // common.Modulation, legacy tx info
	protoModFSK    = 1
	protoModLRFHSS = 2
)

// codeRateNames are gw.CodeRate's values as the UDP path writes them,
// with their protojson names.
var codeRateNames = []struct{ json, udp string }{
	{"CR_UNDEFINED", ""}, {"CR_4_5", "4/5"}, {"CR_4_6", "4/6"}, {"CR_4_7", "4/7"}, {"CR_4_8", "4/8"},
	{"CR_3_8", "3/8"}, {"CR_2_6", "2/6"}, {"CR_1_4", "1/4"}, {"CR_1_6", "1/6"}, {"CR_5_6", "5/6"},
	{"CR_LI_4_5", "4/5LI"}, {"CR_LI_4_6", "4/6LI"}, {"CR_LI_4_8", "4/8LI"},
}

// crcNames are gw.CRCStatus's protojson names, by value.
var crcNames = []string{"NO_CRC", "BAD_CRC", "CRC_OK"}

// protoField is one field of a message: x for varint and fixed types, v
// for length-delimited ones.
type protoField struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	v   []byte
}

// protoWalk calls f for each field of message b. Groups (deprecated, never
// in gw.proto) are skipped like unknown fields.
func protoWalk(b []byte, f func(protoField)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		fld := protoField{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			fld.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			fld.x = uint64(x)
		case protowire.Fixed64Type:
			fld.x, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			fld.v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			typ = -1 // not passed on
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ >= 0 {
			f(fld)
		}
	}
	return nil
}

// protoMessages collects the embedded messages of the given field numbers.
// A message field given more than once merges, which for the encoding is
// concatenation.
func protoMessages(b []byte, nums ...protowire.Number) (map[protowire.Number][]byte, error) {
	out := make(map[protowire.Number][]byte, len(nums))
	err := protoWalk(b, func(f protoField) {
		if f.typ != protowire.BytesType {
			return
		}
		for _, n := range nums {
			if f.num == n {
				out[n] = append(out[n][:len(out[n]):len(out[n])], f.v...)
			}
		}
	})
	return out, err
}

func decodeBridgeProto(b []byte) (bridgeUplink, error) {
	var u bridgeUplink
	var sub map[protowire.Number][]byte
	err := protoWalk(b, func(f protoField) {
		if f.num == 1 && f.typ == protowire.BytesType {
			u.phy = f.v
		}
	})
	if err == nil {
		sub, err = protoMessages(b, 2, 3, 4, 5)
	}
	if err != nil {
		return u, bridgeErr("bad_protobuf", "%v", err)
	}
	if len(u.phy) == 0 {
		// Most random bytes end here: they parse, but as nothing.
		return u, bridgeErr("no_phy_payload", "no phy_payload")
	}
	_, hasRx := sub[5]
	_, hasRxLegacy := sub[3]
	_, hasTx := sub[4]
	_, hasTxLegacy := sub[2]
	switch {
	case hasRx:
		err = u.protoRx(sub[5])
	case hasRxLegacy:
		err = u.protoRxLegacy(sub[3])
	default:
		return u, bridgeErr("bad_rx_info", "no rx_info")
	}
	if err != nil {
		return u, err
	}
	switch {
	case hasTx:
		err = u.protoTx(sub[4])
	case hasTxLegacy:
		err = u.protoTxLegacy(sub[2])
	default:
		return u, bridgeErr("bad_tx_info", "no tx_info")
	}
	return u, err
}

// protoRx reads gw.UplinkRxInfo.
func (u *bridgeUplink) protoRx(b []byte) error {
	var id []byte
	var ts []byte
	crc := uint64(protoNoCRC)
	err := protoWalk(b, func(f protoField) {
		switch {
		case f.typ == protowire.BytesType:
			switch f.num {
			case 1:
				id = f.v
			case 3:
				ts = f.v
			case 13:
				u.context = f.v
			}
		case f.typ == protowire.VarintType:
			switch f.num {
			case 6:
				u.rssi = float64(int32(f.x))
			case 8:
				u.channel = uint64(uint32(f.x))
			case 9:
				u.rfChain = uint64(uint32(f.x))
			case 10:
				u.board = uint64(uint32(f.x))
			case 11:
				u.antenna = uint64(uint32(f.x))
			case 16:
				crc = uint64(int32(f.x))
			}
		case f.typ == protowire.Fixed32Type && f.num == 7:
			u.snr = float64(math.Float32frombits(uint32(f.x)))
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "rx_info: %v", err)
	}
	if len(id) != 16 || u.eui.UnmarshalText(id) != nil {
		return bridgeErr("bad_gateway_id", "gateway_id %q", truncate(string(id)))
	}
	u.hasEUI = true
	u.crc = crcStatus(crc)
	if ts != nil {
		if u.time, err = protoTimestamp(ts); err != nil {
			return err
		}
	}
	return nil
}

// protoRxLegacy reads gw.UplinkRxInfoLegacy (v3's UplinkRXInfo).
func (u *bridgeUplink) protoRxLegacy(b []byte) error {
	var ts []byte
	crc := uint64(protoNoCRC)
	err := protoWalk(b, func(f protoField) {
		switch {
		case f.typ == protowire.BytesType:
			switch f.num {
			case 1:
				if len(f.v) == 8 {
					copy(u.eui[:], f.v)
					u.hasEUI = true
				} else {
					u.hasEUI = false
				}
			case 2:
				ts = f.v
			case 15:
				u.context = f.v
			}
		case f.typ == protowire.VarintType:
			switch f.num {
			case 5:
				u.rssi = float64(int32(f.x))
			case 7:
				u.channel = uint64(uint32(f.x))
			case 8:
				u.rfChain = uint64(uint32(f.x))
			case 9:
				u.board = uint64(uint32(f.x))
			case 10:
				u.antenna = uint64(uint32(f.x))
			case 17:
				crc = uint64(int32(f.x))
			}
		case f.typ == protowire.Fixed64Type && f.num == 6:
			u.snr = math.Float64frombits(f.x)
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "rx_info_legacy: %v", err)
	}
	u.crc = crcStatus(crc)
	if ts != nil {
		if u.time, err = protoTimestamp(ts); err != nil {
			return err
		}
	}
	return nil
}

// protoTx reads gw.UplinkTxInfo: frequency and a Modulation message whose
// oneof is lora (3), fsk (4) or lr_fhss (5).
func (u *bridgeUplink) protoTx(b []byte) error {
	err := protoWalk(b, func(f protoField) {
		if f.num == 1 && f.typ == protowire.VarintType {
			u.freqHz = uint64(uint32(f.x))
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "tx_info: %v", err)
	}
	sub, err := protoMessages(b, 2)
	if err == nil {
		err = u.protoModulationOneof(sub[2], 3, 4, 5, false)
	}
	return err
}

// protoTxLegacy reads gw.UplinkTxInfoLegacy: frequency, the modulation as
// an enum, and the same oneof at 3/4/5, with the LoRa bandwidth in kHz.
func (u *bridgeUplink) protoTxLegacy(b []byte) error {
	var modu uint64
	err := protoWalk(b, func(f protoField) {
		if f.typ == protowire.VarintType {
			switch f.num {
			case 1:
				u.freqHz = uint64(uint32(f.x))
			case 2:
				modu = uint64(int32(f.x))
			}
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "tx_info_legacy: %v", err)
	}
	if err := u.protoModulationOneof(b, 3, 4, 5, true); err != nil {
		return err
	}
	want := map[uint64]string{protoModLoRa: "LORA", protoModFSK: "FSK", protoModLRFHSS: "LR-FHSS"}[modu]
	if u.modu != want {
		u.modu = "" // the enum and the info disagree: no modulation
	}
	return nil
}

// protoModulationOneof reads whichever of the LoRa, FSK and LR-FHSS infos
// b holds; as for any oneof, the last one given wins.
func (u *bridgeUplink) protoModulationOneof(b []byte, lora, fsk, lrfhss protowire.Number, kHz bool) error {
	var last protowire.Number
	err := protoWalk(b, func(f protoField) {
		if f.typ == protowire.BytesType && (f.num == lora || f.num == fsk || f.num == lrfhss) {
			last = f.num
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "modulation: %v", err)
	}
	if last == 0 {
		return nil
	}
	sub, err := protoMessages(b, last)
	if err != nil {
		return bridgeErr("bad_protobuf", "modulation: %v", err)
	}
	var x [6]uint64
	var legacyCR string
	err = protoWalk(sub[last], func(f protoField) {
		switch {
		case f.typ == protowire.VarintType && f.num > 0 && f.num < 6:
			x[f.num] = uint64(uint32(f.x))
		case f.typ == protowire.BytesType && ((last == lora && f.num == 3) || (last == lrfhss && f.num == 2)):
			legacyCR = string(f.v)
		}
	})
	if err != nil {
		return bridgeErr("bad_protobuf", "modulation: %v", err)
	}
	switch last {
	case lora: // bandwidth 1, spreading_factor 2, code_rate_legacy 3, code_rate 5
		u.modu, u.sf, u.bwHz = "LORA", x[2], x[1]
		if kHz {
			u.bwHz *= 1000
		}
		u.codr = codeRate(x[5], legacyCR)
	case fsk: // frequency_deviation 1, datarate 2
		u.modu, u.fskRate = "FSK", x[2]
	case lrfhss: // operating_channel_width 1, code_rate_legacy 2, grid_steps 3, code_rate 4
		u.modu, u.ocwHz = "LR-FHSS", x[1]
		u.codr = codeRate(x[4], legacyCR)
	}
	return nil
}

// protoTimestamp reads a google.protobuf.Timestamp, checked as
// timestamppb's CheckValid does.
func protoTimestamp(b []byte) (time.Time, error) {
	var sec, nsec int64
	err := protoWalk(b, func(f protoField) {
		if f.typ == protowire.VarintType {
			switch f.num {
			case 1:
				sec = int64(f.x)
			case 2:
				nsec = int64(int32(f.x))
			}
		}
	})
	const minSec, maxSec = -62135596800, 253402300799 // years 1 and 9999
	if err != nil || sec < minSec || sec > maxSec || nsec < 0 || nsec >= 1e9 {
		return time.Time{}, bridgeErr("bad_rx_info", "bad timestamp")
	}
	return time.Unix(sec, nsec).UTC(), nil
}

func crcStatus(v uint64) int {
	switch v {
	case protoCRCOK:
		return 1
	case protoBadCRC:
		return -1
	default:
		return 0
	}
}

// codeRate gives the code rate as the UDP path writes it ("4/5"): from the
// enum, else the legacy string as it came.
func codeRate(enum uint64, legacy string) string {
	if enum > 0 && enum < uint64(len(codeRateNames)) {
		return codeRateNames[enum].udp
	}
	return truncate(legacy)
}

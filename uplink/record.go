package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/brocaar/lorawan"
)

// The record is the Uplink as the buffer stores it: compact, fixed-width
// where the width is fixed, varints elsewhere, and a version byte first so
// that a later format can still read records written by this one.
//
// Version 1:
//
//	version(1) DevEUI(8) DevAddr(4) MType(1) flags(1: ADR, ACK) FCnt(4 LE)
//	FPort(1) MIC(4) ReceivedAt: unix seconds(8 LE) nanoseconds(4 LE)
//	Frequency(8, float64 bits) SF(varint) DataRate(uvarint length, bytes)
//	Payload(uvarint length, bytes) receptions(uvarint count) then each:
//	GatewayEUI(8) RSSI(8) SNR(8) Channel, RFChain, Antenna (varints)
//	flags(1: HasPosition) [Latitude(8) Longitude(8)]
//	then, when flags has Unsynced: boot ID(16) time since boot(8 LE, ns)
const recordVersion1 = 1

// Record errors.
var (
	ErrRecordVersion = errors.New("record_version") // written by an unknown format
	ErrRecordCorrupt = errors.New("record_corrupt") // truncated or inconsistent
)

const (
	flagADR         = 1 << 0
	flagACK         = 1 << 1
	flagUnsynced    = 1 << 2
	flagHasPosition = 1 << 0
	recordFixed     = 1 + 8 + 4 + 1 + 1 + 4 + 1 + 4 + 8 + 4 + 8
	receptionMin    = 8 + 8 + 8 + 1 + 1 + 1 + 1
)

// MarshalBinary encodes the Uplink as a buffer record.
func (u *Uplink) MarshalBinary() ([]byte, error) {
	n := recordFixed + 3*binary.MaxVarintLen64 + len(u.DataRate) + len(u.Payload) +
		len(u.Receptions)*(receptionMin+3*binary.MaxVarintLen64+16)
	return u.AppendBinary(make([]byte, 0, n))
}

// AppendBinary appends the record of the Uplink to b.
func (u *Uplink) AppendBinary(b []byte) ([]byte, error) {
	if !fitsInt32(u.SF) {
		return b, fmt.Errorf("uplink record: SF %d out of range", u.SF)
	}
	for i := range u.Receptions {
		r := &u.Receptions[i]
		if !fitsInt32(r.Channel) || !fitsInt32(r.RFChain) || !fitsInt32(r.Antenna) {
			return b, fmt.Errorf("uplink record: reception %d: channel, chain or antenna out of range", i)
		}
	}
	var flags byte
	if u.ADR {
		flags |= flagADR
	}
	if u.ACK {
		flags |= flagACK
	}
	if u.Unsynced {
		flags |= flagUnsynced
	}
	b = append(b, recordVersion1)
	b = append(b, u.DevEUI[:]...)
	b = append(b, u.DevAddr[:]...)
	b = append(b, byte(u.MType), flags)
	b = binary.LittleEndian.AppendUint32(b, u.FCnt)
	b = append(b, u.FPort)
	b = append(b, u.MIC[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(u.ReceivedAt.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(u.ReceivedAt.Nanosecond()))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(u.Frequency))
	b = binary.AppendVarint(b, int64(u.SF))
	b = binary.AppendUvarint(b, uint64(len(u.DataRate)))
	b = append(b, u.DataRate...)
	b = binary.AppendUvarint(b, uint64(len(u.Payload)))
	b = append(b, u.Payload...)
	b = binary.AppendUvarint(b, uint64(len(u.Receptions)))
	for i := range u.Receptions {
		r := &u.Receptions[i]
		b = append(b, r.GatewayEUI[:]...)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.RSSI))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.SNR))
		b = binary.AppendVarint(b, int64(r.Channel))
		b = binary.AppendVarint(b, int64(r.RFChain))
		b = binary.AppendVarint(b, int64(r.Antenna))
		if !r.HasPosition {
			b = append(b, 0)
			continue
		}
		b = append(b, flagHasPosition)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Latitude))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Longitude))
	}
	if u.Unsynced {
		b = append(b, u.Boot.ID[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(u.Boot.Since))
	}
	return b, nil
}

// UnmarshalBinary decodes a record into u, replacing all of it. It copies
// what it keeps, so data may be reused (bbolt's memory is valid only inside
// its transaction). Any truncated, oversized or inconsistent record is an
// error wrapping ErrRecordCorrupt or ErrRecordVersion.
func (u *Uplink) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrRecordCorrupt)
	}
	if data[0] != recordVersion1 {
		return fmt.Errorf("%w: %d", ErrRecordVersion, data[0])
	}
	r := recReader{b: data[1:]}
	var v Uplink
	copy(v.DevEUI[:], r.bytes(8))
	copy(v.DevAddr[:], r.bytes(4))
	v.MType = lorawan.MType(r.byte())
	flags := r.byte()
	v.ADR, v.ACK, v.Unsynced = flags&flagADR != 0, flags&flagACK != 0, flags&flagUnsynced != 0
	v.FCnt = r.u32()
	v.FPort = r.byte()
	copy(v.MIC[:], r.bytes(4))
	sec, nsec := int64(r.u64()), r.u32()
	v.Frequency = math.Float64frombits(r.u64())
	v.SF = r.int()
	v.DataRate = string(r.bytes(r.length(1)))
	if n := r.length(1); n > 0 {
		v.Payload = append([]byte(nil), r.bytes(n)...)
	}
	if n := r.length(receptionMin); n > 0 && r.err == nil {
		v.Receptions = make([]Reception, n)
		for i := range v.Receptions {
			rc := &v.Receptions[i]
			copy(rc.GatewayEUI[:], r.bytes(8))
			rc.RSSI = math.Float64frombits(r.u64())
			rc.SNR = math.Float64frombits(r.u64())
			rc.Channel, rc.RFChain, rc.Antenna = r.int(), r.int(), r.int()
			switch r.byte() {
			case 0:
			case flagHasPosition:
				rc.HasPosition = true
				rc.Latitude = math.Float64frombits(r.u64())
				rc.Longitude = math.Float64frombits(r.u64())
			default:
				r.fail("reception flags")
			}
		}
	}
	if v.Unsynced {
		copy(v.Boot.ID[:], r.bytes(16))
		v.Boot.Since = time.Duration(r.u64())
	}
	switch {
	case r.err != nil:
	case flags&^(flagADR|flagACK|flagUnsynced) != 0:
		r.fail("flags")
	case v.MType > lorawan.Proprietary:
		r.fail("mtype")
	case nsec >= 1e9:
		r.fail("nanoseconds")
	case len(r.b) != 0:
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return r.err
	}
	v.ReceivedAt = time.Unix(sec, int64(nsec)).UTC()
	*u = v
	return nil
}

// fitsInt32 keeps records readable on 32-bit gateways.
func fitsInt32(v int) bool { return int64(v) >= math.MinInt32 && int64(v) <= math.MaxInt32 }

// recReader reads a record; after the first error it returns zero values
// and keeps that error.
type recReader struct {
	b   []byte
	err error
}

func (r *recReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrRecordCorrupt, what)
	}
	r.b = nil
}

func (r *recReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *recReader) byte() byte {
	if p := r.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *recReader) u32() uint32 {
	if p := r.bytes(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *recReader) u64() uint64 {
	if p := r.bytes(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// int reads a varint that must fit an int on every target (32-bit ARM/MIPS).
func (r *recReader) int() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 || v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

// length reads a count of items of at least size bytes each, refusing one
// the rest of the record cannot hold, so corrupt input cannot make a huge
// allocation.
func (r *recReader) length(size int) int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n)/uint64(size) {
		r.fail("length")
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

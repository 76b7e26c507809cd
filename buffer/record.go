package buffer

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// Record is one buffered item: opaque data (the uplink package encodes it)
// and its reception time, which drives expiry and the oldest-age figure.
type Record struct {
	Seq  uint64 // set by the store; rises across all queues, never reused
	Time time.Time
	Data []byte
}

// DeadLetter is a record the endpoint refused, kept for inspection/replay.
type DeadLetter struct {
	Record        // Seq is the record's seq when it was dead-lettered
	Reason string // why it was set aside, e.g. "http 400: bad DevEUI"
	At     time.Time
}

// Value layouts, version byte first so the format can change later:
//
//	record:      1 | CRC-32C of the rest (uint32 BE) | rx time (unix ns, int64 BE) | data
//	dead letter: 1 | rx time | dead-letter time | reason len (uint16 BE) | reason | data
//
// bbolt checksums only its meta pages; the CRC catches a flipped bit in a
// record on worn flash, which then goes to the dead letters instead of
// being delivered wrong or failing the whole file.
const (
	formatVersion = 1
	recHeader     = 1 + 4 + 8
	dlHeader      = 1 + 8 + 8 + 2
	maxReason     = 1024
	// elemOverhead approximates what bbolt spends per key/value beyond the
	// value itself (8-byte key + 16-byte leaf element header).
	elemOverhead = 8 + 16
)

var (
	metaBucket = []byte("meta")
	versionKey = []byte("version")
)

func recBucket(queue string) []byte { return []byte("r/" + queue) }
func dlBucket(queue string) []byte  { return []byte("d/" + queue) }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: key of %d bytes", ErrDamaged, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeRecord(t time.Time, data []byte) []byte {
	v := make([]byte, recHeader+len(data))
	v[0] = formatVersion
	binary.BigEndian.PutUint64(v[5:], uint64(unixNano(t)))
	copy(v[recHeader:], data)
	binary.BigEndian.PutUint32(v[1:], crc32.Checksum(v[5:], castagnoli))
	return v
}

// decodeRecord copies the value: bbolt's slices die with the transaction.
// It checks the layout, not the CRC (see recordIntact): a bad layout means
// a damaged page, a bad CRC one damaged record.
func decodeRecord(k, v []byte) (Record, error) {
	seq, err := keySeq(k)
	if err != nil {
		return Record{}, err
	}
	if len(v) < recHeader || v[0] != formatVersion {
		return Record{}, fmt.Errorf("%w: record %d has a bad header", ErrDamaged, seq)
	}
	return Record{
		Seq:  seq,
		Time: recordTime(v),
		Data: append([]byte(nil), v[recHeader:]...),
	}, nil
}

func recordIntact(v []byte) bool {
	return len(v) >= recHeader && crc32.Checksum(v[5:], castagnoli) == binary.BigEndian.Uint32(v[1:])
}

// recordTime reads only the header, for scans that need no data.
func recordTime(v []byte) time.Time {
	if len(v) < recHeader {
		return time.Time{}
	}
	return fromUnixNano(int64(binary.BigEndian.Uint64(v[5:])))
}

func encodeDeadLetter(rx, at time.Time, reason string, data []byte) []byte {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	v := make([]byte, dlHeader+len(reason)+len(data))
	v[0] = formatVersion
	binary.BigEndian.PutUint64(v[1:], uint64(unixNano(rx)))
	binary.BigEndian.PutUint64(v[9:], uint64(unixNano(at)))
	binary.BigEndian.PutUint16(v[17:], uint16(len(reason)))
	n := copy(v[dlHeader:], reason)
	copy(v[dlHeader+n:], data)
	return v
}

func decodeDeadLetter(k, v []byte) (DeadLetter, error) {
	seq, err := keySeq(k)
	if err != nil {
		return DeadLetter{}, err
	}
	if len(v) < dlHeader || v[0] != formatVersion {
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d has a bad header", ErrDamaged, seq)
	}
	rl := int(binary.BigEndian.Uint16(v[17:]))
	if len(v) < dlHeader+rl {
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d is truncated", ErrDamaged, seq)
	}
	return DeadLetter{
		Record: Record{
			Seq:  seq,
			Time: fromUnixNano(int64(binary.BigEndian.Uint64(v[1:]))),
			Data: append([]byte(nil), v[dlHeader+rl:]...),
		},
		Reason: string(v[dlHeader : dlHeader+rl]),
		At:     fromUnixNano(int64(binary.BigEndian.Uint64(v[9:]))),
	}, nil
}

// dataLen is the caller-visible size of a stored value.
func recDataLen(v []byte) int64 { return int64(len(v) - recHeader) }

func dlDataLen(v []byte) int64 {
	if len(v) < dlHeader {
		return 0
	}
	return int64(len(v) - dlHeader - int(binary.BigEndian.Uint16(v[17:])))
}

package uplink

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"

	"github.com/brocaar/lorawan"
)

// The hot path reads the LoRaWAN 1.0 frame header itself and runs the MIC
// and FRMPayload cipher on keys expanded once per session: brocaar's
// UnmarshalBinary + ValidateUplinkDataMIC + DecryptFRMPayload cost 42
// allocations and three AES key schedules per frame, which matters on a
// soft-float MIPS gateway. brocaar/lorawan stays the reference: the tests
// and FuzzDecode check every field, MIC and plaintext against it.

// maxPHYPayload is the largest frame a LoRa radio can carry.
const maxPHYPayload = 255

// maxFCntGap is LoRaWAN 1.0's MAX_FCNT_GAP: the largest forward jump for
// which a 16-bit counter below the last one is taken as a wrap.
const maxFCntGap = 16384

// dataFrame is a parsed data uplink; its slices alias the PHYPayload.
type dataFrame struct {
	mtype   lorawan.MType
	devAddr lorawan.DevAddr
	fctrl   byte
	fcnt16  uint16
	hasPort bool
	fport   uint8
	frm     []byte // encrypted FRMPayload
	msg     []byte // MHDR..FRMPayload, what the MIC covers
	mic     lorawan.MIC
}

func (f *dataFrame) adr() bool { return f.fctrl&0x80 != 0 }
func (f *dataFrame) ack() bool { return f.fctrl&0x20 != 0 }

// parseFrame classifies a PHYPayload and parses data uplinks. It returns nil
// and the drop reason for anything that is not a well-formed data uplink.
func parseFrame(b []byte, f *dataFrame) error {
	if len(b) < 5 || len(b) > maxPHYPayload {
		return ErrBadFrame
	}
	mhdr := b[0]
	mt := lorawan.MType(mhdr >> 5)
	switch mt {
	case lorawan.Proprietary:
		return ErrProprietary
	case lorawan.JoinAccept, lorawan.UnconfirmedDataDown, lorawan.ConfirmedDataDown:
		return ErrDownlink
	}
	if mhdr&0x1f != byte(lorawan.LoRaWANR1) {
		// An RFU major version, or RFU bits that no device sets (and that
		// brocaar and ChirpStack drop before computing the MIC).
		return ErrBadFrame
	}
	switch mt {
	case lorawan.JoinRequest:
		if len(b) != 23 {
			return ErrBadFrame
		}
		return ErrJoinRequest
	case lorawan.RejoinRequest:
		return ErrJoinRequest
	}
	// Data uplink: MHDR(1) FHDR(7+FOptsLen) [FPort(1) FRMPayload] MIC(4).
	if len(b) < 12 {
		return ErrBadFrame
	}
	fol := int(b[5] & 0x0f)
	end := len(b) - 4
	if end < 8+fol {
		return ErrBadFrame
	}
	f.mtype = mt
	f.devAddr = lorawan.DevAddr{b[4], b[3], b[2], b[1]}
	f.fctrl = b[5]
	f.fcnt16 = binary.LittleEndian.Uint16(b[6:8])
	f.hasPort, f.fport, f.frm = false, 0, nil
	if end > 8+fol {
		f.hasPort, f.fport = true, b[8+fol]
		f.frm = b[9+fol : end]
		if f.fport == 0 && fol > 0 && len(f.frm) > 0 {
			return ErrBadFrame // MAC commands in both FOpts and FRMPayload
		}
	}
	f.msg = b[:end]
	copy(f.mic[:], b[end:])
	return nil
}

// fullFCnt rebuilds the 32-bit counter from its 16 transmitted bits and the
// last accepted value. A value below the last is taken as a wrap only when
// the forward jump stays within MAX_FCNT_GAP; otherwise it is tried as it
// is, and the MIC decides (an old frame then verifies and is a replay).
func fullFCnt(last uint32, has bool, fcnt16 uint16) uint32 {
	if !has {
		return uint32(fcnt16)
	}
	c := last&0xffff0000 | uint32(fcnt16)
	if c < last && c+0x10000 > c && c+0x10000-last <= maxFCntGap {
		c += 0x10000
	}
	return c
}

// cmacKey is an AES-CMAC key (RFC 4493) with its subkeys precomputed.
type cmacKey struct {
	b      cipher.Block
	k1, k2 [16]byte
}

func newCMACKey(key lorawan.AES128Key) (cmacKey, error) {
	b, err := aes.NewCipher(key[:])
	if err != nil {
		return cmacKey{}, err
	}
	k := cmacKey{b: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	k.k1 = dbl(l)
	k.k2 = dbl(k.k1)
	return k, nil
}

func dbl(in [16]byte) (out [16]byte) {
	for i := 0; i < 15; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15] << 1
	if in[0]&0x80 != 0 {
		out[15] ^= 0x87
	}
	return out
}

// cryptoScratch holds the blocks the cipher works on. It lives in the
// Decoder (under its lock) so that no block escapes to the heap through the
// cipher.Block interface.
type cryptoScratch struct {
	x, blk [16]byte
}

// uplinkMIC is LoRaWAN 1.0's uplink MIC: the first four bytes of
// AES-CMAC(NwkSKey, B0 | msg), B0 carrying DevAddr and the full 32-bit FCnt.
func (k *cmacKey) uplinkMIC(s *cryptoScratch, devAddr lorawan.DevAddr, fcnt uint32, msg []byte) (mic lorawan.MIC) {
	x := &s.x
	*x = [16]byte{0: 0x49, 15: byte(len(msg))}
	x[6], x[7], x[8], x[9] = devAddr[3], devAddr[2], devAddr[1], devAddr[0]
	binary.LittleEndian.PutUint32(x[10:14], fcnt)
	k.b.Encrypt(x[:], x[:]) // B0 is never the last block: msg is never empty
	k.absorb(x, msg)
	copy(mic[:], x[:4])
	return mic
}

// decryptFRM XORs src with LoRaWAN's uplink keystream into dst (same length).
func decryptFRM(s *cryptoScratch, b cipher.Block, devAddr lorawan.DevAddr, fcnt uint32, dst, src []byte) {
	a := &s.blk
	*a = [16]byte{0: 0x01}
	a[6], a[7], a[8], a[9] = devAddr[3], devAddr[2], devAddr[1], devAddr[0]
	binary.LittleEndian.PutUint32(a[10:14], fcnt)
	for i := 0; len(src) > 0; i++ {
		a[15] = byte(i + 1)
		b.Encrypt(s.x[:], a[:])
		n := min(len(src), 16)
		for j := range n {
			dst[j] = src[j] ^ s.x[j]
		}
		dst, src = dst[n:], src[n:]
	}
}

package uplink

import (
	"crypto/cipher"

	"github.com/brocaar/lorawan"
)

// sum is AES-CMAC (RFC 4493) over msg. The join path is rare, so it may
// allocate; the data path keeps its own loop in uplinkMIC.
func (k *cmacKey) sum(msg []byte) [16]byte {
	var x [16]byte
	for len(msg) > 16 {
		for i := range 16 {
			x[i] ^= msg[i]
		}
		k.b.Encrypt(x[:], x[:])
		msg = msg[16:]
	}
	sub := &k.k1
	if len(msg) < 16 {
		sub = &k.k2
		x[len(msg)] ^= 0x80
	}
	for i := range msg {
		x[i] ^= msg[i]
	}
	for i := range 16 {
		x[i] ^= sub[i]
	}
	k.b.Encrypt(x[:], x[:])
	return x
}

// mic4 is the first four bytes of the CMAC, LoRaWAN's MIC.
func (k *cmacKey) mic4(msg []byte) (m lorawan.MIC) {
	x := k.sum(msg)
	copy(m[:], x[:4])
	return m
}

// deriveKeys10 derives a LoRaWAN 1.0.x session from the AppKey:
//
//	NwkSKey = aes128_encrypt(AppKey, 0x01 | AppNonce | NetID | DevNonce | pad16)
//	AppSKey = aes128_encrypt(AppKey, 0x02 | AppNonce | NetID | DevNonce | pad16)
//
// The fields are taken as they are on the air (little-endian), which is
// how the device itself feeds them to AES.
func deriveKeys10(appKey cipher.Block, appNonce, netID [3]byte, devNonce [2]byte) (nwk, app lorawan.AES128Key) {
	var in [16]byte
	copy(in[1:4], appNonce[:])
	copy(in[4:7], netID[:])
	copy(in[7:9], devNonce[:])
	in[0] = 0x01
	appKey.Encrypt(nwk[:], in[:])
	in[0] = 0x02
	appKey.Encrypt(app[:], in[:])
	return nwk, app
}

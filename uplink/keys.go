package uplink

import (
	"crypto/cipher"

	"github.com/brocaar/lorawan"
)

// sum is AES-CMAC (RFC 4493) over msg, for the (rare) join path.
func (k *cmacKey) sum(msg []byte) [16]byte {
	var x [16]byte
	k.absorb(&x, msg)
	return x
}

// absorb runs CMAC's chaining over msg from the state x and finishes it
// with the last-block subkey; x then holds the CMAC. Shared by the join
// path and the data path (which starts from the encrypted B0 block).
func (k *cmacKey) absorb(x *[16]byte, msg []byte) {
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
	return deriveKey(appKey, keyFNwkSInt, appNonce, netID[:], devNonce),
		deriveKey(appKey, keyAppS, appNonce, netID[:], devNonce)
}

// deriveKey is LoRaWAN's session key derivation,
// aes128_encrypt(root, typ | JoinNonce | id | DevNonce | pad16), where id
// is the NetID (3 bytes, LoRaWAN 1.0 and 1.1 falling back to 1.0) or the
// JoinEUI (8 bytes, LoRaWAN 1.1), all as on the air.
func deriveKey(root cipher.Block, typ byte, joinNonce [3]byte, id []byte, devNonce [2]byte) (k lorawan.AES128Key) {
	var in [16]byte
	in[0] = typ
	copy(in[1:4], joinNonce[:])
	n := 4 + copy(in[4:], id)
	copy(in[n:n+2], devNonce[:])
	root.Encrypt(k[:], in[:])
	return k
}

// LoRaWAN 1.1 key types (§6.2.2 and §6.2.4 of the 1.1 specification).
const (
	keyFNwkSInt = 0x01
	keyAppS     = 0x02
	keyJSInt    = 0x06
)

// jsIntKey is LoRaWAN 1.1's JSIntKey = aes128_encrypt(NwkKey, 0x06 |
// DevEUI | pad16), which signs the join-accept of a 1.1 exchange.
func jsIntKey(nwkKey cipher.Block, devEUIAir [8]byte) (k lorawan.AES128Key) {
	var in [16]byte
	in[0] = keyJSInt
	copy(in[1:9], devEUIAir[:])
	nwkKey.Encrypt(k[:], in[:])
	return k
}

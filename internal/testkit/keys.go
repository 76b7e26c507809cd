package testkit

import (
	"crypto/aes"

	"github.com/brocaar/lorawan"
)

// SessionKeys derives an OTAA device's LoRaWAN 1.0.x session keys from the
// join-accept's fields, written from the specification (§6.2.5,
// aes128_encrypt(AppKey, type | JoinNonce | NetID | DevNonce | pad16))
// apart from the code under test.
func SessionKeys(appKey lorawan.AES128Key, joinNonce lorawan.JoinNonce, netID lorawan.NetID, devNonce lorawan.DevNonce) (nwkSKey, appSKey lorawan.AES128Key) {
	jn, _ := joinNonce.MarshalBinary()
	nid, _ := netID.MarshalBinary()
	dn, _ := devNonce.MarshalBinary()
	return SessionKey(appKey, 0x01, jn, nid, dn), SessionKey(appKey, 0x02, jn, nid, dn)
}

// SessionKey is one key of SessionKeys: typ 0x01 is the NwkSKey, 0x02 the
// AppSKey; parts are the fields as on the air (little-endian).
func SessionKey(appKey lorawan.AES128Key, typ byte, parts ...[]byte) lorawan.AES128Key {
	in := []byte{typ}
	for _, p := range parts {
		in = append(in, p...)
	}
	in = append(in, make([]byte, 16-len(in))...)
	b, _ := aes.NewCipher(appKey[:]) // a 16-byte key cannot fail
	var k lorawan.AES128Key
	b.Encrypt(k[:], in)
	return k
}

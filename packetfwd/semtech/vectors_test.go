package semtech

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Vectors from the reference (semtech-udp-and-bridges.md §5.B), as in gwmp.

const p1JSON = `{"rxpk":[{"tmst":284024332,"chan":0,"rfch":1,"freq":868.100000,"stat":1,"modu":"LORA","datr":"SF10BW125","codr":"4/5","lsnr":10.5,"rssi":-89,"size":29,"data":"gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo="}]}`

var p2 = mustHex("024ee800aa555a00000000007b227278706b223a5b7b22746d7374223a333531323334383631312c226368616e223a322c2272666368223a302c2266726571223a3836382e3530303030302c2273746174223a312c226d6f6475223a224c4f5241222c2264617472223a225346374257313235222c22636f6472223a22342f35222c226c736e72223a372e352c2272737369223a2d35372c2273697a65223a31372c2264617461223a2251504639766b6b41416741426c554e34646973522f77303d227d5d7d")

const p3JSON = `{"rxpk":[{"tmst":879148780,"time":"2017-07-04T13:51:17.997099Z","rfch":0,"freq":868.500000,"stat":1,"modu":"LORA","datr":"SF7BW125","codr":"4/5","size":24,"data":"gM+AMQcAvgQBlohnlJqUGOJKTDuTscQD","aesk":42,
 "rsig":[{"ant":0,"chan":7,"lsnr":14.0,"etime":"42QMzOlYSSPMMeqVPrY0fQ==","rssis":-92,"rssic":-95,"rssisd":0,"ftime":1255738435,"foff":-8898,"ft2d":-251,"rfbsb":100,"rs2s1":97},
         {"ant":1,"chan":23,"lsnr":14.0,"etime":"djGiSzOC+gCT7vRPv7+Asw==","rssis":-88,"rssic":-93,"rssisd":0,"ftime":1252538436,"foff":-8898,"ft2d":-187,"rfbsb":100,"rs2s1":104}]}]}`

const p4JSON = `{"stat":{"rxfw":0,"hal":"5.1.0","fpga":2,"dsp":31,"lpps":2,"lmnw":3,"lmst":1,"lmok":3,"temp":30.5,"lati":52.34223,"long":5.29685,"txnb":0,"dwnb":0,"alti":66,"rxok":0,"boot":"2017-06-07 09:40:42 GMT","time":"2017-06-08 09:40:42 GMT","rxnb":0,"ackr":0.0}}`

const sx1303JSON = `{"rxpk":[{"jver":1,"tmst":1305359278,"tm32":3116791260,"chan":0,"rfch":1,"freq":868.100000,"mid":8,"stat":-1,"modu":"LORA","datr":"SF5BW125","codr":"4/7","rssis":-100,"lsnr":-6.8,"foff":19378,"rssi":-93,"size":17,"data":"QPF9vkkAAgABlUN4disR/w0="}]}`

// Payloads: P1's real capture, V1 (inside P2) and P3's.
var (
	p1PHY = b64("gPwKEgeAOQACCeQOfm4V1kR0WNikxzMUPQ2YxNo=")
	v1PHY = mustHex("40F17DBE4900020001954378762B11FF0D")
	p3PHY = b64("gM+AMQcAvgQBlohnlJqUGOJKTDuTscQD")
)

// pkt builds a datagram: version, token (hex), type, EUI (hex), then body.
func pkt(version uint8, token string, typ byte, eui string, body string) []byte {
	b := append([]byte{version}, mustHex(token)...)
	b = append(b, typ)
	b = append(b, mustHex(eui)...)
	return append(b, body...)
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func b64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

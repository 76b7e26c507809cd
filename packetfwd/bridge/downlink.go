package bridge

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/brocaar/lorawan"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgeflow/config"
)

// A network server sends a downlink to a bridged gateway by publishing a
// command on [region/]gateway/<id>/command/down. The agent subscribes too,
// only to see the join-accepts among them (see Config.OnDownlink); it
// never sends anything. The encodings follow the uplinks': protobuf
// gw.DownlinkFrame (v4; v3's has the same field numbers for what is read
// here) or JSON (v4 protojson, v3 JSON).
//
//	gw.DownlinkFrame: phy_payload = 1 (v3 only), items = 5 (repeated)
//	gw.DownlinkFrameItem: phy_payload = 1

// DownlinkTopics derives the command topics from the uplink topic
// filters: "…/event/up" becomes "…/command/down". Filters that do not end
// in event/up have no counterpart.
func DownlinkTopics(uplinkTopics []string) []string {
	var out []string
	for _, t := range uplinkTopics {
		if base, ok := strings.CutSuffix(t, "/event/up"); ok {
			out = append(out, base+"/command/down")
		}
	}
	return out
}

// gatewayFromTopic reads the gateway EUI from [region/]gateway/<id>/…,
// for logs; the zero EUI when the topic does not name one.
func gatewayFromTopic(topic string) lorawan.EUI64 {
	var eui lorawan.EUI64
	parts := strings.Split(topic, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "gateway" && eui.UnmarshalText([]byte(parts[i+1])) == nil {
			return eui
		}
	}
	return lorawan.EUI64{}
}

// DecodeDownlink returns the PHYPayloads of one downlink command
// (every item: a command carries the RX1 and RX2 variants of one frame).
func DecodeDownlink(payload []byte) ([][]byte, error) {
	if len(payload) > maxBridgePayload {
		return nil, bridgeErr("too_large", "%d bytes", len(payload))
	}
	var phys [][]byte
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var m struct {
			PHYPayload string `json:"phyPayload"`
			Items      []struct {
				PHYPayload string `json:"phyPayload"`
			} `json:"items"`
		}
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, bridgeErr("bad_json", "%v", err)
		}
		all := []string{m.PHYPayload}
		for _, it := range m.Items {
			all = append(all, it.PHYPayload)
		}
		for _, s := range all {
			if s == "" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, bridgeErr("bad_phy_payload", "%v", err)
			}
			phys = append(phys, b)
		}
	} else {
		var inner error
		err := protoWalk(payload, func(f protoField) {
			switch {
			case f.num == 1 && f.v != nil:
				phys = append(phys, bytes.Clone(f.v))
			case f.num == 5 && f.v != nil:
				if e := protoWalk(f.v, func(g protoField) {
					if g.num == 1 && g.v != nil {
						phys = append(phys, bytes.Clone(g.v))
					}
				}); e != nil {
					inner = e
				}
			}
		})
		if err == nil {
			err = inner
		}
		if err != nil {
			return nil, bridgeErr("bad_protobuf", "%v", err)
		}
	}
	if len(phys) == 0 {
		return nil, bridgeErr("no_phy_payload", "no phyPayload in the command")
	}
	for _, p := range phys {
		if len(p) == 0 || len(p) > 255 {
			return nil, bridgeErr("bad_phy_payload", "%d bytes", len(p))
		}
	}
	return phys, nil
}

// subscribeDownlinks subscribes to the command topics when OnDownlink is
// set. A failure is logged and the uplinks go on: they matter more.
func (s *Source) subscribeDownlinks(c mqtt.Client) {
	if s.cfg.OnDownlink == nil || len(s.cfg.DownlinkTopics) == 0 {
		return
	}
	filters := make(map[string]byte, len(s.cfg.DownlinkTopics))
	for _, t := range s.cfg.DownlinkTopics {
		filters[t] = s.cfg.QoS
	}
	tok := c.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) { s.handleDownlink(m.Topic(), m.Payload()) })
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		s.logger.Warn("MQTT subscribe to downlink commands failed; OTAA joins through the bridge will not be seen",
			"topics", s.cfg.DownlinkTopics, "error", fmt.Sprint(tok.Error()))
		return
	}
	s.logger.Info("Subscribed to MQTT downlink commands", "server", config.RedactURL(s.cfg.Server), "topics", s.cfg.DownlinkTopics)
}

// handleDownlink passes a command's PHYPayloads to OnDownlink. Commands
// are the network server's, not the radio's, but still untrusted: a bad
// one is logged at debug level, a panic recovered.
func (s *Source) handleDownlink(topic string, payload []byte) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Warn("MQTT downlink command handler panicked", "topic", topic, "panic", fmt.Sprint(r))
		}
	}()
	phys, err := DecodeDownlink(payload)
	if err != nil {
		s.logger.Debug("MQTT downlink command not read", "topic", topic, "error", err.Error())
		return
	}
	eui := gatewayFromTopic(topic)
	for _, p := range phys {
		s.cfg.OnDownlink(eui, p)
	}
}

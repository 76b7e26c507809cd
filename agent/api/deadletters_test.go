package api_test

import (
	"edgeflow/internal/testkit"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"edgeflow/agent/api"
)

// TestDeadLettersReplay: an uplink the endpoint refuses is set aside,
// listed by the API, and delivered once replayed.
func TestDeadLettersReplay(t *testing.T) {
	dev := newDevice(4)
	ep := newEndpoint(t)
	ep.setCode(http.StatusBadRequest)
	r := startAgent(t, filepath.Join(t.TempDir(), "edgeflow.yaml"), technicianFile(ep.URL, dev))
	r.fw.push(dev, 7, []byte{7})
	r.fw.push(dev, 8, []byte{8})

	var dls []api.DeadLetter
	testkit.WaitUntil(t, "two dead letters", func() bool {
		_, body := r.must("GET", "/connections/first/deadletters", "", http.StatusOK)
		dls = decode[[]api.DeadLetter](t, body)
		return len(dls) >= 2
	})
	if len(dls) != 2 || dls[0].DevEUI != "70B3D57ED0000004" || dls[0].FCnt != 7 || dls[1].FCnt != 8 || !strings.Contains(dls[0].Reason, "400") {
		t.Fatalf("dead letters: %+v", dls)
	}
	// The count in /status follows the stored dead letters a moment later
	// (the lane counts after it stores).
	var body string
	testkit.WaitUntil(t, "two dead letters in /status", func() bool {
		_, body = r.must("GET", "/status", "", http.StatusOK)
		st := decode[api.Status](t, body)
		return len(st.Connections) == 1 && st.Connections[0].DeadLetters == 2
	})

	r.must("POST", "/connections/nope/deadletters/replay", "", http.StatusNotFound)
	if resp, _ := r.do("POST", "/connections/first/deadletters/replay", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay without the token: %d", resp.StatusCode)
	}
	ep.setCode(0)
	_, body = r.must("POST", "/connections/first/deadletters/replay", `{"seqs":[`+strconv.FormatUint(dls[1].Seq, 10)+`]}`, http.StatusOK)
	if decode[api.ReplayResult](t, body).Replayed != 1 {
		t.Fatalf("replay of one: %s", body)
	}
	ep.waitFCnts(t, 8)
	_, body = r.must("POST", "/connections/first/deadletters/replay", "", http.StatusOK)
	if decode[api.ReplayResult](t, body).Replayed != 1 {
		t.Fatalf("replay of the rest: %s", body)
	}
	ep.waitFCnts(t, 8, 7)
	_, body = r.must("GET", "/connections/first/deadletters", "", http.StatusOK)
	if body != "[]\n" {
		t.Fatalf("dead letters after replay: %s", body)
	}
}

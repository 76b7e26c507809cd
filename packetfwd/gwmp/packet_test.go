package gwmp

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want Header
		err  error
	}{
		{[]byte{2, 0x4e, 0xe8, 0}, Header{2, [2]byte{0x4e, 0xe8}, PushData}, nil},
		{[]byte{1, 0, 1, 5, 9, 9}, Header{1, [2]byte{0, 1}, TXAck}, nil},
		{[]byte{2, 0, 1}, Header{}, ErrTooShort},
		{[]byte{3, 0, 1, 0}, Header{3, [2]byte{0, 1}, PushData}, ErrUnknownVersion},
		{[]byte{2, 0, 1, 6}, Header{2, [2]byte{0, 1}, 6}, ErrUnknownType},
	} {
		got, err := ParseHeader(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("% x: %+v %v", tc.in, got, err)
		}
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrTooShort, "too_short"},
		{ErrUnknownVersion, "unknown_version"},
		{ErrUnknownType, "unknown_type"},
		{ErrWrongType, "wrong_type"},
		{ErrNoJSON, "no_json"},
		{ErrBadBase64, "bad_base64"},
		{ErrBadDataRate, "bad_datr"},
		{wrap(ErrBadJSON, errors.New("x")), "bad_json"},
		{fmt.Errorf("context: %w", ErrTooShort), "too_short"},
		{errors.New("plain"), "other"},
	} {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	want := []string{"push_data", "push_ack", "pull_data", "pull_resp", "pull_ack", "tx_ack", "type_0x06"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d) = %q, want %q", i, got, w)
		}
	}
}

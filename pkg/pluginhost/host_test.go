package pluginhost

import "testing"

func TestParseHandshake(t *testing.T) {
	n, a, err := ParseHandshake("1|2|unix|/tmp/plugin123|grpc|\n")
	if err != nil || n != "unix" || a != "/tmp/plugin123" {
		t.Fatalf("unix: %s %s %v", n, a, err)
	}
	n, a, err = ParseHandshake("1|2|tcp|127.0.0.1:10001|grpc")
	if err != nil || n != "tcp" || a != "127.0.0.1:10001" {
		t.Fatalf("tcp: %s %s %v", n, a, err)
	}
	for _, bad := range []string{"", "hello", "1|1|tcp|x|grpc", "1|2|tcp|x|netrpc", "2|2|tcp|x|grpc", "1|2|udp|x|grpc"} {
		if _, _, err := ParseHandshake(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

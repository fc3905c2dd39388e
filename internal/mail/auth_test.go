package mail

import "testing"

func TestPlainAuthAllowed(t *testing.T) {
	tests := []struct {
		host   string
		secure bool
		want   bool
	}{
		{"smtp.example.com", true, true},
		{"smtp.example.com", false, false},
		{"203.0.113.7", false, false},
		{"localhost", false, true},
		{"LOCALHOST", false, true},
		{"127.0.0.1", false, true},
		{"127.0.0.53", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"localhost.example.com", false, false},
	}
	for _, tt := range tests {
		if got := plainAuthAllowed(tt.host, tt.secure); got != tt.want {
			t.Errorf("plainAuthAllowed(%q, %v) = %v, want %v", tt.host, tt.secure, got, tt.want)
		}
	}
}

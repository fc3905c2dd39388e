package agentapi

import (
	"strings"
	"testing"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	fp := "sha256:" + strings.Repeat("ab", 32)
	in := JoinToken{Secret: "sjt_Zm9vYmFy-_x", Fingerprint: fp}
	out, err := ParseJoinToken(in.String())
	if err != nil || out != in {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	for _, bad := range []string{"", "SJT1.x", "SJT2.s." + strings.Repeat("a", 64), "SJT1..." + strings.Repeat("a", 64), "SJT1.s.abc"} {
		if _, err := ParseJoinToken(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

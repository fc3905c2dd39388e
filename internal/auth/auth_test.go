package auth

import (
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
)

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "correct horse battery", true},
		{h, "correct horse batterY", false},
		{h, "", false},
		{"$2a$10$bcrypt-style", "correct horse battery", false},
		{"garbage", "x", false},
	} {
		if got := CheckPassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("CheckPassword(%.20q, %q) = %v, want %v", tt.hash, tt.pw, got, tt.want)
		}
	}
}

func TestSecrets(t *testing.T) {
	s1, h1 := NewSecret(PrefixToken)
	s2, _ := NewSecret(PrefixToken)
	if !strings.HasPrefix(s1, PrefixToken) || s1 == s2 || len(s1) < 40 {
		t.Fatalf("secrets %q %q", s1, s2)
	}
	if HashSecret(s1) != h1 || strings.Contains(h1, s1) {
		t.Fatal("hash does not match or contains the secret")
	}
}

func TestResolve(t *testing.T) {
	bindings := []Binding{
		{Org: "", Role: api.RoleProviderViewer},
		{Org: "o1", Role: api.RoleOrgAdmin},
		{Org: "o2", Role: api.RoleOrgViewer},
	}
	tests := []struct {
		name                      string
		scope                     *TokenScope
		provider                  string
		o1, o2, o3                string
		canWriteO1, canAdminO1    bool
		canReadProvider, canSeeO3 bool
	}{
		{"session has every role", nil, api.RoleProviderViewer, api.RoleOrgAdmin, api.RoleOrgViewer, api.RoleOrgViewer, true, true, true, true},
		{"org token narrows to its org and role", &TokenScope{Org: "o1", Role: api.RoleOrgMember}, "", api.RoleOrgMember, "", "", true, false, false, false},
		{"org token cannot exceed the user's role", &TokenScope{Org: "o2", Role: api.RoleOrgAdmin}, "", "", api.RoleOrgViewer, "", false, false, false, false},
		{"provider token keeps the lesser provider role", &TokenScope{Role: api.RoleProviderAdmin}, api.RoleProviderViewer, api.RoleOrgViewer, api.RoleOrgViewer, api.RoleOrgViewer, false, false, true, true},
		{"token for an org the user left grants nothing", &TokenScope{Org: "o9", Role: api.RoleOrgAdmin}, "", "", "", "", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Principal{}
			Resolve(p, bindings, tt.scope)
			if p.Provider != tt.provider {
				t.Errorf("provider role %q, want %q", p.Provider, tt.provider)
			}
			for org, want := range map[string]string{"o1": tt.o1, "o2": tt.o2, "o3": tt.o3} {
				if got := p.OrgRole(org); got != want {
					t.Errorf("role in %s = %q, want %q", org, got, want)
				}
			}
			if p.CanWriteOrg("o1") != tt.canWriteO1 || p.CanAdminOrg("o1") != tt.canAdminO1 {
				t.Errorf("o1 write %v admin %v, want %v %v", p.CanWriteOrg("o1"), p.CanAdminOrg("o1"), tt.canWriteO1, tt.canAdminO1)
			}
			if p.CanReadProvider() != tt.canReadProvider || p.CanSeeOrg("o3") != tt.canSeeO3 {
				t.Errorf("provider read %v, sees o3 %v", p.CanReadProvider(), p.CanSeeOrg("o3"))
			}
			if p.CanAdminProvider() {
				t.Error("a provider-viewer binding gave provider-admin")
			}
		})
	}
}

func TestWithin(t *testing.T) {
	for _, tt := range []struct {
		role, limit string
		want        bool
	}{
		{api.RoleOrgViewer, api.RoleOrgAdmin, true},
		{api.RoleOrgAdmin, api.RoleOrgMember, false},
		{api.RoleOrgMember, api.RoleOrgMember, true},
		{api.RoleProviderViewer, api.RoleProviderAdmin, true},
		{api.RoleProviderAdmin, api.RoleProviderViewer, false},
		{api.RoleOrgViewer, api.RoleProviderAdmin, false}, // scopes do not mix
		{api.RoleProviderViewer, api.RoleOrgAdmin, false},
	} {
		if got := Within(tt.role, tt.limit); got != tt.want {
			t.Errorf("Within(%s, %s) = %v, want %v", tt.role, tt.limit, got, tt.want)
		}
	}
}

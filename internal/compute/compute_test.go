package compute

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// TestLegacySpecLoads: a spec.json written by an agent older than NICs
// (one MAC and tap at the top level) loads as a spec with that one NIC,
// so the VM still starts and is adopted with its tap.
func TestLegacySpecLoads(t *testing.T) {
	tests := []struct {
		name string
		json string
		want []NIC
	}{
		{"legacy", `{"id":"vm-1","mac":"52:54:00:00:00:01","tap":"st00000001"}`, []NIC{{MAC: "52:54:00:00:00:01", Tap: "st00000001"}}},
		{"legacy without nic", `{"id":"vm-1"}`, nil},
		{"nics win", `{"id":"vm-1","mac":"52:54:00:00:00:09","tap":"st00000009","nics":[{"mac":"52:54:00:00:00:01","tap":"st00000001"},{"mac":"52:54:00:00:00:02","tap":"st00000002"}]}`,
			[]NIC{{MAC: "52:54:00:00:00:01", Tap: "st00000001"}, {MAC: "52:54:00:00:00:02", Tap: "st00000002"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Spec
			if err := json.Unmarshal([]byte(tt.json), &s); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.NICs, tt.want) || s.MAC != "" || s.Tap != "" {
				t.Errorf("NICs %+v (MAC %q, Tap %q), want %+v and no legacy fields", s.NICs, s.MAC, s.Tap, tt.want)
			}
			// Written again, it is in the new form only.
			b, _ := json.Marshal(s)
			var again map[string]any
			json.Unmarshal(b, &again)
			if _, ok := again["mac"]; ok {
				t.Errorf("re-encoded with the legacy mac: %s", b)
			}
		})
	}
}

func TestValidateNICsAndDisks(t *testing.T) {
	base := Spec{ID: "vm-1", VCPU: 1, MemoryMiB: 64, Image: ImageRef{Kind: ImageKernel, Kernel: "/k"}}
	nic := func(mac, tap string) NIC { return NIC{MAC: mac, Tap: tap} }
	disk := func(id, path string, size int64) Disk { return Disk{ID: id, Path: path, SizeGiB: size} }
	tests := []struct {
		name  string
		nics  []NIC
		disks []Disk
		ok    bool
	}{
		{"none", nil, nil, true},
		{"two nics, two disks", []NIC{nic("52:54:00:00:00:01", "st00000001"), nic("52:54:00:00:00:02", "st00000002")},
			[]Disk{disk("d1", "/d/d1.qcow2", 1), disk("d2", "/d/d2.qcow2", 10)}, true},
		{"bad mac", []NIC{nic("52:54:00:00:01", "st1")}, nil, false},
		{"long mac", []NIC{nic("02:00:00:00:00:00:00:01", "st1")}, nil, false},
		{"no tap", []NIC{nic("52:54:00:00:00:01", "")}, nil, false},
		{"tap too long", []NIC{nic("52:54:00:00:00:01", "st0123456789abcd")}, nil, false},
		{"tap with a comma", []NIC{nic("52:54:00:00:00:01", "st,1")}, nil, false},
		{"same mac twice", []NIC{nic("52:54:00:00:00:01", "st1"), nic("52:54:00:00:00:01", "st2")}, nil, false},
		{"same tap twice", []NIC{nic("52:54:00:00:00:01", "st1"), nic("52:54:00:00:00:02", "st1")}, nil, false},
		{"disk id unsafe", nil, []Disk{disk("../x", "/d/x.qcow2", 1)}, false},
		{"disk path relative", nil, []Disk{disk("d1", "d1.qcow2", 1)}, false},
		{"disk without size", nil, []Disk{disk("d1", "/d/d1.qcow2", 0)}, false},
		{"disk twice", nil, []Disk{disk("d1", "/d/d1.qcow2", 1), disk("d1", "/d/d1.qcow2", 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			s.NICs, s.Disks = tt.nics, tt.disks
			err := s.Validate()
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

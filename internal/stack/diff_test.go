package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/sirocco-cloud/sirocco/api"
)

const app = `
name: shop
vdc: main
networks:
  - {name: lan, cidr: 10.0.0.0/24}
vms:
  - name: db
    image: debian
    size: s1.small
    networks: [lan]
    boot_order: 1
  - name: web
    image: debian
    size: s1.small
    networks: [lan]
    public_ip: true
    firewall:
      - {protocol: tcp, port: 443}
      - {port: 22, cidr: 198.51.100.0/24}
    boot_order: 2
`

// applied is what the cloud holds once app has been applied.
func applied() *State {
	rules := []api.FirewallRule{
		{ID: "r1", Direction: api.DirectionIngress, Protocol: "tcp", PortFrom: 443, PortTo: 443, CIDR: "0.0.0.0/0"},
		{ID: "r2", Direction: api.DirectionIngress, Protocol: "tcp", PortFrom: 22, PortTo: 22, CIDR: "198.51.100.0/24"},
	}
	vm := func(name, pub string) Current {
		return Current{VM: api.VM{Meta: api.Meta{ID: name + "-id", Labels: api.Labels{LabelStack: "shop"}}, Name: name, VDC: "main",
			Image: "img-debian", Size: "s1.small", PowerState: api.PowerRunning,
			NICs: []api.NIC{{Network: "lan", IP: "10.0.0.2", PublicIP: pub}}}}
	}
	web := vm("web", "203.0.113.2")
	web.Rules = rules
	return &State{VDC: "main", Images: map[string]string{"debian": "img-debian"}, ImageNames: map[string]string{"img-debian": "debian"},
		Networks: []api.Network{{Name: "lan", VDC: "main", CIDR: "10.0.0.0/24"}},
		VMs:      []Current{vm("db", ""), web}}
}

func parse(t *testing.T, y string) *Stack {
	t.Helper()
	s, err := Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lines(changes []Change) []string {
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return out
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name  string
		file  string // app with these replacements
		edit  func(*State)
		want  []string
		plain string // Summary
	}{
		{name: "nothing exists: everything is created, networks first, then VMs by boot order",
			edit: func(st *State) { st.Networks, st.VMs = nil, nil },
			want: []string{
				"+ network lan: 10.0.0.0/24",
				"+ vm db: image debian; size s1.small; networks lan; boot order 1",
				"+ vm web: image debian; size s1.small; networks lan; public IP; firewall +tcp/443 from 0.0.0.0/0; firewall +tcp/22 from 198.51.100.0/24; boot order 2",
			},
			plain: "3 to create, 0 to update, 0 to replace, 0 to delete"},
		{name: "applied: no changes", plain: "0 to create, 0 to update, 0 to replace, 0 to delete"},
		{name: "rules without defaults written out still match",
			file: strings.Replace(app, "{protocol: tcp, port: 443}", "{port: 443, port_to: 443, cidr: 0.0.0.0/0}", 1)},
		{name: "size change is an update that stops, resizes and starts",
			file: strings.Replace(app, "size: s1.small\n    networks: [lan]\n    public_ip", "size: s1.large\n    networks: [lan]\n    public_ip", 1),
			want: []string{"~ vm web: size s1.small -> s1.large (stop, resize, start)"}},
		{name: "a stopped VM is only resized",
			file: strings.Replace(app, "size: s1.small\n    networks: [lan]\n    boot_order: 1", "size: s1.large\n    networks: [lan]\n    boot_order: 1", 1),
			edit: func(st *State) { st.VMs[0].PowerState = api.PowerStopped },
			want: []string{"~ vm db: size s1.small -> s1.large (resize)"}},
		{name: "firewall rules added and removed in place",
			file: strings.Replace(app, "{protocol: tcp, port: 443}", "{protocol: udp, port: 53}", 1),
			edit: func(st *State) {
				st.VMs[1].Rules = append(st.VMs[1].Rules, api.FirewallRule{ID: "r3", Direction: api.DirectionEgress, Protocol: "any", CIDR: "10.9.0.0/16"})
			},
			want: []string{"~ vm web: firewall +udp/53 from 0.0.0.0/0; firewall -tcp/443 from 0.0.0.0/0; firewall -egress any to 10.9.0.0/16"}},
		{name: "public IP attached in place",
			file: strings.Replace(app, "boot_order: 1", "boot_order: 1\n    public_ip: true", 1),
			want: []string{"~ vm db: attach a public IP"}},
		{name: "public IP released in place",
			file: strings.Replace(app, "public_ip: true", "public_ip: false", 1),
			want: []string{"~ vm web: release public IP 203.0.113.2"}},
		{name: "image change replaces",
			file: strings.Replace(app, "image: debian\n    size: s1.small\n    networks: [lan]\n    boot_order: 1", "image: alpine\n    size: s1.small\n    networks: [lan]\n    boot_order: 1", 1),
			edit: func(st *State) { st.Images["alpine"] = "img-alpine" },
			want: []string{"-/+ vm db: image debian -> alpine"}},
		{name: "user data and ssh keys cannot change in place",
			file: strings.Replace(app, "boot_order: 1", "boot_order: 1\n    user_data: \"#cloud-config\\n\"\n    ssh_keys: [\"ssh-ed25519 AAAA me\"]", 1),
			want: []string{"-/+ vm db: ssh_keys changed; user_data changed"}},
		{name: "VMs and networks no longer in the file are deleted, VMs first",
			edit: func(st *State) {
				st.Networks = append(st.Networks, api.Network{Name: "old", VDC: "main", CIDR: "10.1.0.0/24"})
				st.VMs = append(st.VMs, Current{VM: api.VM{Name: "batch", Image: "img-debian", Size: "s1.small"}})
			},
			want:  []string{"- vm batch", "- network old: 10.1.0.0/24"},
			plain: "0 to create, 0 to update, 0 to replace, 2 to delete"},
		{name: "a network's new CIDR replaces it and the VMs on it",
			file: strings.Replace(app, "10.0.0.0/24", "10.5.0.0/24", 1),
			want: []string{
				"-/+ network lan: cidr 10.0.0.0/24 -> 10.5.0.0/24",
				"-/+ vm db: network lan is replaced",
				"-/+ vm web: network lan is replaced",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := app
			if tt.file != "" {
				file = tt.file
			}
			st := applied()
			if tt.edit != nil {
				tt.edit(st)
			}
			got := Diff(parse(t, file), st)
			if !slices.Equal(lines(got), tt.want) {
				t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(lines(got), "\n"), strings.Join(tt.want, "\n"))
			}
			if tt.plain != "" && Summary(got) != tt.plain {
				t.Fatalf("summary %q, want %q", Summary(got), tt.plain)
			}
		})
	}
}

// TestDestroyDiff: a stack with nothing in it deletes what is labelled,
// VMs before networks.
func TestDestroyDiff(t *testing.T) {
	got := lines(Diff(&Stack{Name: "shop"}, applied()))
	want := []string{"- vm db", "- vm web", "- network lan: 10.0.0.0/24"}
	if !slices.Equal(got, want) {
		t.Fatalf("destroy: %q, want %q", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, file, match string }{
		{"unknown field", "name: a\nvms: [{name: w, image: i, size: s, publicip: true}]", `unknown field "publicip"`},
		{"bad name", "name: A_b\nvms: [{name: w, image: i, size: s}]", `name "A_b"`},
		{"no vms", "name: a", "no vms"},
		{"missing size", "name: a\nvms: [{name: w, image: i}]", "vm w: image and size are required"},
		{"unknown network", "name: a\nvms: [{name: w, image: i, size: s, networks: [lan]}]", `network "lan" is not one of the stack's networks`},
		{"bad cidr", "name: a\nnetworks: [{name: lan, cidr: 10.0.0/24}]\nvms: [{name: w, image: i, size: s}]", "network lan: cidr"},
		{"twice", "name: a\nvms: [{name: w, image: i, size: s}, {name: w, image: i, size: s}]", "vm w: named twice"},
		{"protocol", "name: a\nvms: [{name: w, image: i, size: s, firewall: [{protocol: sctp}]}]", `protocol "sctp"`},
		{"ports", "name: a\nvms: [{name: w, image: i, size: s, firewall: [{port: 90, port_to: 80}]}]", "port_to not below port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.match) {
				t.Fatalf("error %v, want it to contain %q", err, tt.match)
			}
		})
	}
}

// TestExampleParses keeps examples/stack/app.yaml a valid stack.
func TestExampleParses(t *testing.T) {
	s, err := Load("../../examples/stack/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "shop" || len(s.VMs) != 2 || len(s.Networks) != 1 {
		t.Fatalf("example %+v", s)
	}
}

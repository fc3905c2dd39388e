package server

import (
	"sync"
)

// hub tells waiters on this replica that something changed: an agent's
// long-poll that its host's desired state moved or a console was asked for,
// and VM operation runners that a host reported. Other replicas learn the
// same by polling the store, so the hub only shortens waits.
type hub struct {
	mu    sync.Mutex
	hosts map[string]chan struct{} // closed when the host has news
	vms   chan struct{}            // closed when any VM's observed state changed
}

func newHub() *hub {
	return &hub{hosts: map[string]chan struct{}{}, vms: make(chan struct{})}
}

// hostWait returns a channel closed at the next kickHost(host).
func (h *hub) hostWait(host string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.hosts[host]
	if !ok {
		ch = make(chan struct{})
		h.hosts[host] = ch
	}
	return ch
}

// kickHost wakes the long-poll of host's agent, if it waits here.
func (h *hub) kickHost(host string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.hosts[host]; ok {
		close(ch)
		delete(h.hosts, host)
	}
}

// kickAllHosts wakes every agent long-polling here.
func (h *hub) kickAllHosts() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for host, ch := range h.hosts {
		close(ch)
		delete(h.hosts, host)
	}
}

// vmWait returns a channel closed at the next vmsChanged.
func (h *hub) vmWait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vms
}

// vmsChanged wakes every runner waiting on a VM.
func (h *hub) vmsChanged() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.vms)
	h.vms = make(chan struct{})
}

// Package agentapi holds the messages between the control plane and the
// hypervisor agents (HTTP/JSON under /api/agent/v1), with the protocol
// version both sides check. An agent dials out to the control plane, so a
// host needs no inbound port.
package agentapi

import (
	"errors"
	"strings"

	"github.com/sirocco-cloud/sirocco/api"
)

// ProtocolVersion is the agent protocol this build speaks. The control plane
// refuses agents speaking another version with code CodeUnsupportedProtocol.
const ProtocolVersion = 1

// CodeUnsupportedProtocol is the error code for an agent of another protocol.
const CodeUnsupportedProtocol = "unsupported_protocol"

// Paths of the agent endpoints.
const (
	PathJoin      = "/api/agent/v1/join"
	PathHeartbeat = "/api/agent/v1/heartbeat"
)

// JoinRequest is an agent's first call, with the one-time join token's secret.
type JoinRequest struct {
	Protocol     int          `json:"protocol"`
	Secret       string       `json:"secret"`
	Hostname     string       `json:"hostname"`
	Capacity     api.Capacity `json:"capacity"`
	Acceleration string       `json:"acceleration"`
	AgentVersion string       `json:"agent_version"`
}

// JoinResponse gives the agent its host identity and the long-lived
// credential it authenticates with from then on (Authorization: Bearer).
type JoinResponse struct {
	HostID           string `json:"host_id"`
	Credential       string `json:"credential"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

// Heartbeat is the agent's periodic report.
type Heartbeat struct {
	Protocol     int          `json:"protocol"`
	Capacity     api.Capacity `json:"capacity"`
	Acceleration string       `json:"acceleration"`
	AgentVersion string       `json:"agent_version"`
}

// HeartbeatResponse tells the agent its host's state and when to report again.
type HeartbeatResponse struct {
	HostID           string `json:"host_id"`
	State            string `json:"state"`
	HeartbeatSeconds int    `json:"heartbeat_seconds"`
}

// joinPrefix marks a join token and its format version.
const joinPrefix = "SJT1"

// JoinToken is what an operator hands to a new host: the one-time secret and
// the fingerprint of the control plane's certificate, which the agent pins
// (as kubeadm's discovery-token-ca-cert-hash does) so no CA is needed.
type JoinToken struct {
	Secret      string
	Fingerprint string // "sha256:<hex>"
}

// String encodes the token as SJT1.<secret>.<hex fingerprint>.
func (t JoinToken) String() string {
	return joinPrefix + "." + t.Secret + "." + strings.TrimPrefix(t.Fingerprint, "sha256:")
}

// ParseJoinToken decodes a token made by JoinToken.String.
func ParseJoinToken(s string) (JoinToken, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || parts[0] != joinPrefix || parts[1] == "" || len(parts[2]) != 64 {
		return JoinToken{}, errors.New("not a Sirocco join token (want SJT1.<secret>.<fingerprint>, from 'sirocco host add')")
	}
	return JoinToken{Secret: parts[1], Fingerprint: "sha256:" + strings.ToLower(parts[2])}, nil
}

package api

import "time"

// CodeInvalidSSHKey: the public key is not one OpenSSH public key of a
// supported type (422).
const CodeInvalidSSHKey = "invalid_ssh_key"

// SSHKey is an SSH public key an organisation registered once, to name in
// VMCreate.SSHKeys instead of pasting the key each time. A VM keeps a copy of
// the key it was created with: deleting a key changes no VM.
type SSHKey struct {
	ID          string    `json:"id"`
	Org         string    `json:"org"`
	Name        string    `json:"name"`
	PublicKey   string    `json:"public_key" doc:"The key in authorized_keys form: type, base64 and comment"`
	Fingerprint string    `json:"fingerprint" doc:"SHA-256 fingerprint as ssh-keygen -l prints it, e.g. SHA256:uNiVz…"`
	Type        string    `json:"type" doc:"Key type, e.g. ssh-ed25519"`
	Comment     string    `json:"comment,omitempty" doc:"The key's comment, often user@host"`
	CreatedAt   time.Time `json:"created_at"`
}

// SSHKeyCreate registers a public key.
type SSHKeyCreate struct {
	Name      string `json:"name" pattern:"^[a-z0-9][a-z0-9._-]{0,62}$" doc:"Unique in the organisation; VMs name the key by it"`
	PublicKey string `json:"public_key" maxLength:"16384" doc:"One OpenSSH public key, as in ~/.ssh/id_ed25519.pub: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (2048 bits or more) or a security-key (sk-) type"`
}

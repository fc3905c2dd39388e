# A VDC with a network and one VM on it, reachable from the Internet on port
# 8080 through a public IP and logged into with a registered SSH key, and a
# read-only API token for a CI job, on a Sirocco cloud. The provider reads its
# settings from the environment:
#
#   SIROCCO_URL          https://cloud.example.com
#   SIROCCO_TOKEN        an API token (sirocco token create)
#   SIROCCO_FINGERPRINT  sha256:... of a self-signed server certificate
#   SIROCCO_ORG          your organisation
#
# See README.md for the steps.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    sirocco = {
      source = "sirocco-cloud/sirocco"
    }
  }
}

provider "sirocco" {}

variable "zone" {
  description = "Zone of the VDC. Default: the first zone the cloud offers."
  type        = string
  default     = null
}

variable "image" {
  description = "Image of the VM, by name."
  type        = string
  default     = "sirocco-testguest"
}

variable "size" {
  description = "Size of the VM. Changing it resizes the VM in place (it is stopped and started again)."
  type        = string
  default     = "s1.small"
}

variable "power_state" {
  description = "running or stopped; changes in place."
  type        = string
  default     = "running"
}

variable "attach_public_ip" {
  description = "Whether the public IP is attached to the VM; changes in place (detached, the address stays allocated)."
  type        = bool
  default     = true
}

variable "ssh_public_key" {
  description = "Public key registered as tf-example-key, which the VM names; e.g. file(pathexpand(\"~/.ssh/id_ed25519.pub\"))."
  type        = string
  default     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8cKh7C1qSTaKxYz3X0f2b2d6W7V1pB6hF1Kx3nq9E example@sirocco"
}

variable "data_disk_gib" {
  description = "Size of the data disk in GiB; grows in place (never shrinks)."
  type        = number
  default     = 2
}

variable "environment" {
  description = "Value of the env label on the VDC and the VM; changes in place."
  type        = string
  default     = "demo"
}

data "sirocco_zones" "all" {}

data "sirocco_sizes" "all" {}

data "sirocco_images" "all" {}

locals {
  zone             = coalesce(var.zone, data.sirocco_zones.all.zones[0].name)
  available_images = [for i in data.sirocco_images.all.images : i.name if i.state == "available"]
  sizes            = { for s in data.sirocco_sizes.all.sizes : s.name => s }
}

resource "sirocco_vdc" "main" {
  name        = "tf-example"
  description = "Made by examples/terraform"
  zone        = local.zone
  quotas = {
    vcpu       = 8
    memory_mib = 16384
    disk_gib   = 200
    vms        = 5
    public_ips = 1
  }
  labels = {
    env = var.environment
  }
}

resource "sirocco_network" "main" {
  vdc  = sirocco_vdc.main.name
  name = "tf-net"
  cidr = "10.10.0.0/24"
  dns  = ["1.1.1.1"]
}

# Registered once; VMs name it (sirocco ssh-key add does the same from the CLI).
resource "sirocco_ssh_key" "deploy" {
  name       = "tf-example-key"
  public_key = var.ssh_public_key
}

resource "sirocco_vm" "web" {
  vdc         = sirocco_vdc.main.name
  name        = "web1"
  networks    = [sirocco_network.main.name]
  image       = var.image
  size        = var.size
  power_state = var.power_state
  ssh_keys    = [sirocco_ssh_key.deploy.name]
  user_data   = <<-EOT
    #cloud-config
    packages: [nginx]
  EOT
  labels = {
    env  = var.environment
    role = "web"
  }

  lifecycle {
    precondition {
      condition     = contains(local.available_images, var.image)
      error_message = "Image ${var.image} is not available in this cloud."
    }
    precondition {
      condition     = contains(keys(local.sizes), var.size)
      error_message = "Size ${var.size} is not offered by this cloud."
    }
  }
}

# The VM by ID, not name: a replaced VM is a new ID, which moves the address
# to it and makes the rule again (a rule goes with its VM).
resource "sirocco_public_ip" "web" {
  vdc = sirocco_vdc.main.name
  vm  = var.attach_public_ip ? sirocco_vm.web.id : null
}

resource "sirocco_firewall_rule" "http" {
  vm          = sirocco_vm.web.id
  direction   = "ingress"
  protocol    = "tcp"
  port_from   = 8080
  cidr        = "0.0.0.0/0"
  description = "web server"
}

# A data disk. Disks attach while their VM is stopped, so this one is
# attached when power_state is "stopped" and detached (keeping its data)
# while the VM runs. The guest sees it as /dev/vdb.
resource "sirocco_disk" "data" {
  vdc      = sirocco_vdc.main.name
  name     = "web1-data"
  size_gib = var.data_disk_gib
  vm_id    = var.power_state == "stopped" ? sirocco_vm.web.id : null
}

resource "sirocco_token" "ci" {
  name       = "tf-example-ci"
  role       = "org-viewer"
  expires_in = "720h"
}

output "vdc_jurisdiction" {
  value = sirocco_vdc.main.jurisdiction
}

output "vm_id" {
  value = sirocco_vm.web.id
}

output "vm_state" {
  value = sirocco_vm.web.state
}

output "vm_vcpu" {
  value = sirocco_vm.web.vcpu
}

output "public_ip" {
  value = sirocco_public_ip.web.address
}

output "private_ip" {
  description = "The VM's address on tf-net that the public IP is translated to; empty when detached."
  value       = sirocco_public_ip.web.private_ip
}

output "ssh_key_fingerprint" {
  value = sirocco_ssh_key.deploy.fingerprint
}

output "ci_token_prefix" {
  value = sirocco_token.ci.prefix
}

output "ci_token" {
  value     = sirocco_token.ci.secret
  sensitive = true
}

package main

// Application VMs on demand: `-app-vm NAME=IMAGE` (repeatable) adds a powered-on Windows VM with
// VMware Tools whose disk is that raw image, to the standard inventory. Its name picks its VSS
// writers (vss.go: "dc…" NTDS, "mail…" Exchange), so a test can back up a domain controller or a
// mail server whose databases are really on the disk. Without the flag nothing changes.

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/vmware/govmomi/vim25/types"
)

type appVMFlag []string

func (a *appVMFlag) String() string     { return strings.Join(*a, ",") }
func (a *appVMFlag) Set(v string) error { *a = append(*a, v); return nil }

var appVMs appVMFlag

func init() {
	flag.Var(&appVMs, "app-vm", "NAME=IMAGE: add a Windows VM with this raw disk image (repeatable; standard inventory)")
}

// appVMPlans returns the plans for the -app-vm flags (on the production cluster's second datastore).
func appVMPlans() ([]vmPlan, error) {
	var plans []vmPlan
	for _, v := range appVMs {
		name, image, ok := strings.Cut(v, "=")
		if !ok || name == "" || image == "" {
			return nil, fmt.Errorf("-app-vm %q: want NAME=IMAGE", v)
		}
		st, err := os.Stat(image)
		if err != nil {
			return nil, fmt.Errorf("-app-vm %s: %w", name, err)
		}
		plans = append(plans, vmPlan{name: name, guestID: string(types.VirtualMachineGuestOsIdentifierWindows2019srv_64Guest), cluster: "Production", host: 1,
			datastore: "prod-ds2", diskBytes: st.Size(), image: image, poweredOn: true, tools: true, vmx: "vmx-15", scsi: "lsilogic-sas"})
	}
	return plans, nil
}

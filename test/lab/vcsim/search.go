package main

import (
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// FindByUuid finds a VM by BIOS uuid (config.uuid) or, with instanceUuid=true,
// by vCenter instance uuid (config.instanceUuid), or with vmSearch=false a host
// by summary.hardware.uuid.
//
// vSphere: returns the entity, or nothing (no fault) when none matches;
// datacenter, when set, limits the search to that datacenter. vcsim 0.24.2
// walks every object in its registry and digs the mo type out of each one,
// which includes the lab's overlay objects (overlay.go), and ignores
// datacenter. Lab: only VirtualMachine or HostSystem objects are looked at
// (each under its own lock), datacenter is honoured, uuids are compared
// case-insensitively, and if several VMs share a BIOS uuid (clones can) the
// one with the smallest moref wins so the answer is stable.
func (o *LabSearchIndex) FindByUuid(ctx *simulator.Context, req *types.FindByUuid) soap.HasFault {
	body := &methods.FindByUuidBody{Res: &types.FindByUuidResponse{}}
	kind := "HostSystem"
	if req.VmSearch {
		kind = "VirtualMachine"
	}
	var found []types.ManagedObjectReference
	for _, e := range simulator.Map.All(kind) {
		uuid := ""
		simulator.Map.WithLock(e, func() {
			switch x := e.(type) {
			case *simulator.VirtualMachine:
				if x.Config == nil {
					return
				}
				if req.InstanceUuid != nil && *req.InstanceUuid {
					uuid = x.Config.InstanceUuid
				} else {
					uuid = x.Config.Uuid
				}
			case *simulator.HostSystem:
				if x.Summary.Hardware != nil {
					uuid = x.Summary.Hardware.Uuid
				}
			}
		})
		if uuid == "" || !strings.EqualFold(uuid, req.Uuid) {
			continue
		}
		if req.Datacenter != nil && !inDatacenter(e, *req.Datacenter) {
			continue
		}
		if o.lab.restrictedCtx(ctx) && o.lab.hidden(e.Reference()) { // permissions.go
			continue
		}
		found = append(found, e.Reference())
	}
	if len(found) > 0 {
		sort.Slice(found, func(i, j int) bool { return morefLess(found[i].Value, found[j].Value) })
		body.Res.Returnval = &found[0]
	}
	return body
}

// inDatacenter reports whether an entity lies under the given datacenter.
func inDatacenter(e mo.Entity, dc types.ManagedObjectReference) bool {
	for parent := e.Entity().Parent; parent != nil; {
		if *parent == dc {
			return true
		}
		p, ok := simulator.Map.Get(*parent).(mo.Entity)
		if !ok {
			return false
		}
		parent = p.Entity().Parent
	}
	return false
}

// morefLess orders "vm-9" before "vm-10".
func morefLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

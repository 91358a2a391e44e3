package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// overlay is the base of the lab objects that carry extra methods for one of
// vcsim's objects (see overlays in soap.go). Its reference is {"Lab"+Type, Value}
// of the object it stands for. Like every object in vcsim's registry it starts
// with an embedded mo type: vcsim code that walks all objects (SearchIndex,
// views) digs for it and panics without one.
type overlay struct {
	mo.ExtensibleManagedObject
	lab *Lab
}

func (o *overlay) Reference() types.ManagedObjectReference { return o.Self }

// target is the reference of the vcsim object the overlay stands for.
func (o *overlay) target() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: o.Self.Type[len("Lab"):], Value: o.Self.Value}
}

// LabVirtualMachine adds CBT, snapshot, consolidation and Tools-state behaviour
// to a vcsim VirtualMachine (snapshots.go, cbt.go, power.go).
type LabVirtualMachine struct{ overlay }

// LabVirtualMachineSnapshot adds consolidation behaviour to snapshot removal.
type LabVirtualMachineSnapshot struct{ overlay }

// LabTaskManager adds TaskManager.CreateTask (tasks.go).
type LabTaskManager struct{ overlay }

// LabTask adds the extension task methods SetTaskState/UpdateProgress/SetTaskDescription (tasks.go).
type LabTask struct{ overlay }

// LabEventManager adds EventManager.LogUserEvent (events.go).
type LabEventManager struct{ overlay }

// LabSessionManager remembers generic service tickets for datastore HTTP (datastore.go).
type LabSessionManager struct{ overlay }

// LabSearchIndex replaces vcsim's SearchIndex.FindByUuid (search.go).
type LabSearchIndex struct{ overlay }

// ensureOverlay registers the overlay object for ref if it is not there yet.
func (l *Lab) ensureOverlay(ref types.ManagedObjectReference) {
	key := types.ManagedObjectReference{Type: "Lab" + ref.Type, Value: ref.Value}
	if simulator.Map.Get(key) != nil {
		return
	}
	base := overlay{lab: l}
	base.Self = key
	var obj mo.Reference
	switch ref.Type {
	case "VirtualMachine":
		obj = &LabVirtualMachine{base}
	case "VirtualMachineSnapshot":
		obj = &LabVirtualMachineSnapshot{base}
	case "TaskManager":
		obj = &LabTaskManager{base}
	case "Task":
		obj = &LabTask{base}
	case "EventManager":
		obj = &LabEventManager{base}
	case "SessionManager":
		obj = &LabSessionManager{base}
	case "SearchIndex":
		obj = &LabSearchIndex{base}
	case "CustomFieldsManager":
		obj = &LabCustomFieldsManager{base}
	case "PropertyCollector":
		obj = &LabPropertyCollector{base}
	default:
		return
	}
	simulator.Map.Put(obj)
}

// gone is the fault for a call on an overlay whose vcsim object no longer exists.
func (o *overlay) gone() *soap.Fault {
	return o.gone()
}

// withLock runs f holding the lock of the vcsim object the overlay stands for,
// with ctx.Caller set to it, exactly as vcsim holds it while running one of
// that object's own methods.
func (o *overlay) withLock(ctx *simulator.Context, obj mo.Reference, f func()) {
	ref := obj.Reference()
	caller := ctx.Caller
	simulator.Map.WithLock(obj, func() {
		ctx.Caller = &ref
		defer func() { ctx.Caller = caller }()
		f()
	})
}

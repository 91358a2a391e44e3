package main

import (
	"log"
	"path/filepath"
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CreateSnapshotTask creates a snapshot.
//
// vSphere: quiesce=true is silently ignored when the VM is powered off or
// VMware Tools is not running (the snapshot's tree item says quiesced=false).
// A quiesced snapshot of a Windows guest is a VSS_BT_COPY shadow copy and Tools
// writes vss-manifest.zip next to the snapshot. The disks' changeId moves on.
// Lab: vcsim's CreateSnapshot_Task plus those semantics (snapshotExtras).
func (o *LabVirtualMachine) CreateSnapshotTask(ctx *simulator.Context, req *types.CreateSnapshot_Task) soap.HasFault {
	task, fault := o.createSnapshot(ctx, req.Name, req.Description, req.Memory, req.Quiesce, nil, "CreateSnapshot_Task")
	if fault != nil {
		return &methods.CreateSnapshot_TaskBody{Fault_: fault}
	}
	return &methods.CreateSnapshot_TaskBody{Res: &types.CreateSnapshot_TaskResponse{Returnval: task}}
}

// CreateSnapshotExTask creates a snapshot with a guest quiesce spec.
//
// vSphere (6.5+): like CreateSnapshot_Task, quiescing when quiesceSpec is set;
// a VirtualMachineWindowsQuiesceSpec chooses the VSS backup type (e.g. 1 =
// VSS_BT_FULL, which lets applications truncate their logs) and context.
// vcsim 0.24.2 lacks it. Lab: as CreateSnapshot_Task, recording the VSS
// backup type in backupComponents.xml.
func (o *LabVirtualMachine) CreateSnapshotExTask(ctx *simulator.Context, req *types.CreateSnapshotEx_Task) soap.HasFault {
	task, fault := o.createSnapshot(ctx, req.Name, req.Description, req.Memory, req.QuiesceSpec != nil, req.QuiesceSpec, "CreateSnapshotEx_Task")
	if fault != nil {
		return &methods.CreateSnapshotEx_TaskBody{Fault_: fault}
	}
	return &methods.CreateSnapshotEx_TaskBody{Res: &types.CreateSnapshotEx_TaskResponse{Returnval: task}}
}

func (o *LabVirtualMachine) createSnapshot(ctx *simulator.Context, name, desc string, memory, quiesce bool,
	spec types.BaseVirtualMachineGuestQuiesceSpec, method string) (types.ManagedObjectReference, *soap.Fault) {
	var taskRef types.ManagedObjectReference
	vm := simVM(o.target())
	rec := o.lab.record(o.target())
	if vm == nil || rec == nil {
		return taskRef, o.gone()
	}
	var fault *soap.Fault
	o.withLock(ctx, vm, func() {
		if f := o.lab.checkNewSnapshot(vm); f != nil { // depth limit, disks held by a helper (hotadd.go)
			taskRef = simulator.CreateTask(vm, "createSnapshot", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) { return nil, f }).Run()
			return
		}
		quiesced := quiesce && toolsRunning(vm)
		res := vm.CreateSnapshotTask(&types.CreateSnapshot_Task{This: vm.Self, Name: name, Description: desc, Memory: memory, Quiesce: quiesced})
		b := res.(*methods.CreateSnapshot_TaskBody)
		if b.Fault_ != nil {
			fault = b.Fault_
			return
		}
		taskRef = b.Res.Returnval
		task := simulator.Map.Get(taskRef).(*simulator.Task)
		if task.Info.State != types.TaskInfoStateSuccess {
			return
		}
		snapRef := task.Info.Result.(types.ManagedObjectReference)
		if err := o.lab.snapshotExtras(vm, rec, snapRef, memory, quiesced, spec, method); err != nil {
			log.Printf("snapshot %s of %s: %v", snapRef.Value, rec.Name, err)
			finishTask(task, nil, &types.SnapshotFault{}, err.Error())
		}
	})
	return taskRef, fault
}

// snapshotExtras completes a new snapshot the way ESXi does: the snapshot's
// config gets its own copy of the disk devices (vcsim shares them with the VM),
// CBT moves to a new epoch whose changeId both configs carry, each disk gets a
// delta file on top of the now frozen one (chains.go), and a quiesced Windows
// snapshot gets vss-manifest.zip. Caller holds the VM's lock.
func (l *Lab) snapshotExtras(vm *simulator.VirtualMachine, rec *labVM, snapRef types.ManagedObjectReference,
	memory, quiesced bool, spec types.BaseVirtualMachineGuestQuiesceSpec, method string) error {
	snap := simulator.Map.Get(snapRef).(*simulator.VirtualMachineSnapshot)
	if item := findTreeItem(vm.Snapshot.RootSnapshotList, snapRef); item != nil && !memory {
		item.State = types.VirtualMachinePowerStatePoweredOff // a snapshot without memory reverts to a powered-off VM
	}
	devices := make([]types.BaseVirtualDevice, len(vm.Config.Hardware.Device))
	for i, d := range vm.Config.Hardware.Device {
		devices[i] = d
		if disk, ok := d.(*types.VirtualDisk); ok {
			c := *disk
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				bc := *b
				c.Backing = &bc
			}
			devices[i] = &c
		}
	}
	snap.Config.Hardware.Device = devices
	snap.Config.ChangeTrackingEnabled = vm.Config.ChangeTrackingEnabled

	st := &snapState{vm: vm.Self, files: map[int32]*diskFile{}, seqs: map[int32]int{}}
	for _, d := range rec.Disks {
		st.files[d.Key] = d.current
	}
	if cbtEnabled(vm.Config) {
		seqs, err := l.startEpochs(vm)
		if err != nil {
			return err
		}
		ids := map[int32]string{}
		for _, d := range rec.Disks {
			ids[d.Key] = d.cbt.changeID(seqs[d.Key])
		}
		setChangeIDs(snap.Config.Hardware.Device, ids)
		st.seqs = seqs
	}
	snapStates.Lock()
	snapStates.m[snapRef.Value] = st
	snapStates.Unlock()
	for _, d := range rec.Disks {
		if err := d.newDelta(); err != nil {
			return err
		}
	}
	l.syncBackings(vm, rec)

	if quiesced && rec.Windows {
		writers := !l.takeBehaviour(method, "NoWriterManifests", rec.Name)
		backupType := 5 // VSS_BT_COPY
		context := "ctx_auto"
		if ws, ok := spec.(*types.VirtualMachineWindowsQuiesceSpec); ok {
			if ws.VssBackupType != 0 {
				backupType = int(ws.VssBackupType)
			}
			if ws.VssBackupContext != "" {
				context = ws.VssBackupContext
			}
		}
		dir := filepath.Join(l.labPath("datastores", rec.Datastore), rec.Dir)
		if err := writeVSSManifest(filepath.Join(dir, "vss-manifest.zip"), rec.Name, backupType, context, writers); err != nil {
			return err
		}
		if item := findTreeItem(vm.Snapshot.RootSnapshotList, snapRef); item != nil {
			item.BackupManifest = "vss-manifest.zip"
		}
	}
	return nil
}

// parentSnapshot returns the parent of a snapshot in the tree (nil for a root or an unknown snapshot).
func parentSnapshot(tree []types.VirtualMachineSnapshotTree, ref types.ManagedObjectReference) *types.ManagedObjectReference {
	for i := range tree {
		for _, c := range tree[i].ChildSnapshotList {
			if c.Snapshot == ref {
				return &tree[i].Snapshot
			}
		}
		if p := parentSnapshot(tree[i].ChildSnapshotList, ref); p != nil {
			return p
		}
	}
	return nil
}

func findTreeItem(tree []types.VirtualMachineSnapshotTree, ref types.ManagedObjectReference) *types.VirtualMachineSnapshotTree {
	for i := range tree {
		if tree[i].Snapshot == ref {
			return &tree[i]
		}
		if t := findTreeItem(tree[i].ChildSnapshotList, ref); t != nil {
			return t
		}
	}
	return nil
}

// RemoveSnapshotTask removes a snapshot (and with removeChildren its subtree).
//
// vSphere: the snapshot's delta is merged into the file the snapshot kept
// frozen (consolidation) and the VM keeps running on the merged chain; if the
// merge fails the snapshot is gone but the VM is left with
// runtime.consolidationNeeded=true. With removeChildren=false the snapshot's
// children take its place in the tree (under its parent, or as roots) and keep
// their disk state: its delta is consolidated into the child chain, or stays
// as a shared parent while it has more than one child. If it was the current
// snapshot, its parent becomes current (none if it was a root). Lab: vcsim
// removes the snapshot from the tree, the lab merges the disk chains
// (chains.go); the "LeaveConsolidationNeeded" fault behaviour skips the merge.
func (o *LabVirtualMachineSnapshot) RemoveSnapshotTask(ctx *simulator.Context, req *types.RemoveSnapshot_Task) soap.HasFault {
	snap, ok := simulator.Map.Get(o.target()).(*simulator.VirtualMachineSnapshot)
	vm := (*simulator.VirtualMachine)(nil)
	if ok {
		vm = simVM(snap.Vm)
	}
	if vm == nil {
		return &methods.RemoveSnapshot_TaskBody{Fault_: simulator.Fault(notFoundMessage(o.target()), &types.ManagedObjectNotFound{Obj: o.target()})}
	}
	rec := o.lab.record(snap.Vm)
	refs := []types.ManagedObjectReference{snap.Self}
	var res soap.HasFault
	o.withLock(ctx, snap, func() {
		simulator.Map.WithLock(vm, func() {
			if vm.Snapshot == nil {
				return
			}
			if req.RemoveChildren {
				refs = subtree(vm.Snapshot.RootSnapshotList, snap.Self)
			}
			// vcsim makes the parent current when the current snapshot is
			// removed; for a root it "assigns" a nil *ManagedObjectReference,
			// which panics inside Map.Update and leaves a half-updated VM
			// (currentSnapshot with an empty moref) and a task that never
			// ends. Clear currentSnapshot first (vSphere: no current snapshot
			// any more) so that vcsim leaves it alone.
			if cur := vm.Snapshot.CurrentSnapshot; cur != nil && *cur == snap.Self && parentSnapshot(vm.Snapshot.RootSnapshotList, snap.Self) == nil {
				simulator.Map.Update(vm, []types.PropertyChange{{Name: "snapshot.currentSnapshot", Val: nil}})
			}
		})
		r := *req
		r.This = snap.Self
		res = snap.RemoveSnapshotTask(ctx, &r)
	})
	if !taskSucceeded(res) {
		return res
	}
	// vcsim only unregisters the snapshot itself; its removed children would
	// stay readable (vCenter: ManagedObjectNotFound).
	for _, ref := range refs {
		if ref != snap.Self {
			simulator.Map.Remove(ref)
		}
	}
	if rec == nil {
		return res
	}
	keep := o.lab.takeBehaviour("RemoveSnapshot_Task", "LeaveConsolidationNeeded", rec.Name)
	simulator.Map.WithLock(vm, func() {
		if err := o.lab.forgetSnapshots(vm, rec, refs, keep); err != nil {
			log.Printf("remove snapshot %s of %s: %v", snap.Self.Value, rec.Name, err)
		}
	})
	return res
}

// RemoveAllSnapshotsTask removes every snapshot of a VM.
//
// vSphere: all deltas are merged into the base disks. Lab: vcsim's
// implementation plus the merge of the disk chains.
func (o *LabVirtualMachine) RemoveAllSnapshotsTask(ctx *simulator.Context, req *types.RemoveAllSnapshots_Task) soap.HasFault {
	vm, rec := simVM(o.target()), o.lab.record(o.target())
	if vm == nil || rec == nil {
		return &methods.RemoveAllSnapshots_TaskBody{Fault_: o.gone()}
	}
	var res soap.HasFault
	o.withLock(ctx, vm, func() {
		var refs []types.ManagedObjectReference
		if vm.Snapshot != nil {
			for _, root := range vm.Snapshot.RootSnapshotList {
				refs = append(refs, subtree(vm.Snapshot.RootSnapshotList, root.Snapshot)...)
			}
		}
		r := *req
		r.This = vm.Self
		res = vm.RemoveAllSnapshotsTask(ctx, &r)
		if !taskSucceeded(res) {
			return
		}
		keep := o.lab.takeBehaviour("RemoveAllSnapshots_Task", "LeaveConsolidationNeeded", rec.Name)
		if err := o.lab.forgetSnapshots(vm, rec, refs, keep); err != nil {
			log.Printf("remove all snapshots of %s: %v", rec.Name, err)
		}
	})
	return res
}

// RevertToSnapshotTask makes a snapshot the VM's current state.
//
// vSphere: the disks continue on a new delta on top of the snapshot's files;
// the previous current state is discarded; the VM takes the snapshot's power
// state (powered off for a snapshot without memory). Lab: vcsim moves
// currentSnapshot, the lab moves the disk chains and sets the power state.
func (o *LabVirtualMachineSnapshot) RevertToSnapshotTask(ctx *simulator.Context, req *types.RevertToSnapshot_Task) soap.HasFault {
	snap, ok := simulator.Map.Get(o.target()).(*simulator.VirtualMachineSnapshot)
	if !ok || simVM(snap.Vm) == nil { // vcsim's revert asserts the VM exists
		return &methods.RevertToSnapshot_TaskBody{Fault_: simulator.Fault(notFoundMessage(o.target()), &types.ManagedObjectNotFound{Obj: o.target()})}
	}
	r := *req
	r.This = snap.Self
	var res soap.HasFault
	o.withLock(ctx, snap, func() {
		res = snap.RevertToSnapshotTask(&r)
	})
	if taskSucceeded(res) {
		o.lab.revertDisks(snap.Vm, snap.Self)
	}
	return res
}

// RevertToCurrentSnapshotTask reverts to the VM's current snapshot (see RevertToSnapshotTask).
func (o *LabVirtualMachine) RevertToCurrentSnapshotTask(ctx *simulator.Context, req *types.RevertToCurrentSnapshot_Task) soap.HasFault {
	vm := simVM(o.target())
	if vm == nil {
		return &methods.RevertToCurrentSnapshot_TaskBody{Fault_: o.gone()}
	}
	var res soap.HasFault
	var cur *types.ManagedObjectReference
	o.withLock(ctx, vm, func() {
		if vm.Snapshot != nil {
			cur = vm.Snapshot.CurrentSnapshot
		}
		r := *req
		r.This = vm.Self
		res = vm.RevertToCurrentSnapshotTask(&r)
	})
	if cur != nil && taskSucceeded(res) {
		o.lab.revertDisks(vm.Self, *cur)
	}
	return res
}

// revertDisks puts a new delta on the snapshot's files and drops the old current state.
func (l *Lab) revertDisks(vmRef, snapRef types.ManagedObjectReference) {
	vm, rec, st := simVM(vmRef), l.record(vmRef), snapshotState(snapRef)
	if vm == nil || rec == nil || st == nil {
		return
	}
	simulator.Map.WithLock(vm, func() {
		for _, d := range rec.Disks {
			if f := st.files[d.Key]; f != nil {
				d.current = f
				if err := d.newDelta(); err != nil {
					log.Printf("revert %s: %v", rec.Name, err)
				}
			}
		}
		if err := l.forgetSnapshots(vm, rec, nil, false); err != nil {
			log.Printf("revert %s: %v", rec.Name, err)
		}
		if vm.Snapshot == nil {
			return
		}
		if item := findTreeItem(vm.Snapshot.RootSnapshotList, snapRef); item != nil && item.State != vm.Runtime.PowerState {
			simulator.Map.Update(vm, []types.PropertyChange{
				{Name: "runtime.powerState", Val: item.State},
				{Name: "summary.runtime.powerState", Val: item.State},
			})
			setGuestState(vm, item.State == types.VirtualMachinePowerStatePoweredOn && rec.Tools, vm.Name)
		}
	})
}

// taskSucceeded reports whether a *_Task response names a task that succeeded
// (vcsim runs its tasks synchronously).
func taskSucceeded(res soap.HasFault) bool {
	if res == nil || res.Fault() != nil {
		return false
	}
	v := reflect.ValueOf(res).Elem().FieldByName("Res")
	if !v.IsValid() || v.IsNil() {
		return false
	}
	ref, ok := v.Elem().FieldByName("Returnval").Interface().(types.ManagedObjectReference)
	if !ok {
		return false
	}
	t, ok := simulator.Map.Get(ref).(*simulator.Task)
	return ok && t.Info.State == types.TaskInfoStateSuccess
}

// ConsolidateVMDisksTask merges delta disks that no snapshot needs any more.
//
// vSphere: clears runtime.consolidationNeeded (succeeds as a no-op when
// nothing needs consolidating). vcsim 0.24.2 lacks it. Lab: merges the disk
// chains (chains.go) and clears the flag.
func (o *LabVirtualMachine) ConsolidateVMDisksTask(ctx *simulator.Context, req *types.ConsolidateVMDisks_Task) soap.HasFault {
	vm, rec := simVM(o.target()), o.lab.record(o.target())
	if vm == nil || rec == nil {
		return &methods.ConsolidateVMDisks_TaskBody{Fault_: o.gone()}
	}
	task := simulator.CreateTask(vm, "consolidateDisks", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		var err error
		o.withLock(ctx, vm, func() {
			err = o.lab.forgetSnapshots(vm, rec, nil, false)
		})
		if err != nil {
			return nil, &types.FileFault{File: rec.Disks[0].FileName}
		}
		return nil, nil
	})
	return &methods.ConsolidateVMDisks_TaskBody{Res: &types.ConsolidateVMDisks_TaskResponse{Returnval: task.Run()}}
}

// ReconfigVMTask reconfigures a VM (vcsim's implementation).
//
// vSphere: changeTrackingEnabled=true starts CBT (a new change-tracking uuid,
// the disks get a changeId); false stops it and invalidates every changeId.
// Lab: vcsim stores config.changeTrackingEnabled; the lab starts/stops its epochs.
func (o *LabVirtualMachine) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	vm := simVM(o.target())
	if vm == nil {
		return &methods.ReconfigVM_TaskBody{Fault_: o.gone()}
	}
	rec := o.lab.record(vm.Self)
	r := *req
	r.This = vm.Self
	var res soap.HasFault
	// Hot-add of other VMs' disks (hotadd.go): resolved before taking this VM's
	// lock, as it locks the owners.
	attach, attachFault := o.lab.prepareHotAdd(vm, &r.Spec)
	o.withLock(ctx, vm, func() {
		was := cbtEnabled(vm.Config)
		fault := attachFault
		if fault == nil {
			assignUnits(vm, attach)
			fault = checkNICs(vm, &r.Spec) // networks.go
		}
		var grow []diskGrowth // disk growth (resize.go)
		if fault == nil {
			grow, fault = o.lab.prepareResize(rec, &r.Spec)
		}
		if fault != nil {
			res = &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: simulator.CreateTask(vm, "reconfigVm",
				func(*simulator.Task) (types.AnyType, types.BaseMethodFault) { return nil, fault }).Run()}}
			return
		}
		res = vm.ReconfigVMTask(ctx, &r)
		if !taskSucceeded(res) {
			return
		}
		if rec != nil {
			o.lab.syncDisks(vm, rec)
		}
		o.lab.finishHotAdd(vm, rec, attach)
		o.lab.finishResize(vm, grow)
		syncGuestNICs(vm)
		o.lab.recordNICEdits(vm, &r.Spec) // nicrecord.go
		switch now := cbtEnabled(vm.Config); {
		case now && !was:
			if _, err := o.lab.startEpochs(vm); err != nil {
				log.Printf("cbt start %s: %v", vm.Name, err)
			}
		case !now && was:
			o.lab.stopTracking(vm)
		}
	})
	return res
}

// PowerOnVMTask powers a VM on (vcsim) and, if Tools is installed, reports it running.
func (o *LabVirtualMachine) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	return o.power(ctx, func(vm *simulator.VirtualMachine) soap.HasFault {
		if f := o.lab.lockedByHelper(vm.Self); f != nil { // its disk is hot-added to a running helper (hotadd.go)
			return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: simulator.CreateTask(vm, "powerOn",
				func(*simulator.Task) (types.AnyType, types.BaseMethodFault) { return nil, f }).Run()}}
		}
		r := *req
		r.This = vm.Self
		return vm.PowerOnVMTask(ctx, &r)
	})
}

// PowerOffVMTask powers a VM off (vcsim); Tools then reports not running.
func (o *LabVirtualMachine) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	return o.power(ctx, func(vm *simulator.VirtualMachine) soap.HasFault {
		r := *req
		r.This = vm.Self
		return vm.PowerOffVMTask(ctx, &r)
	})
}

func (o *LabVirtualMachine) power(ctx *simulator.Context, f func(*simulator.VirtualMachine) soap.HasFault) soap.HasFault {
	vm := simVM(o.target())
	rec := o.lab.record(o.target())
	if vm == nil {
		return &methods.PowerOnVM_TaskBody{Fault_: o.gone()}
	}
	var res soap.HasFault
	o.withLock(ctx, vm, func() {
		res = f(vm)
		on := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
		setGuestState(vm, on && rec != nil && rec.Tools, vm.Name)
	})
	return res
}

// SuspendVMTask suspends a VM (vcsim); Tools then reports not running.
func (o *LabVirtualMachine) SuspendVMTask(ctx *simulator.Context, req *types.SuspendVM_Task) soap.HasFault {
	return o.power(ctx, func(vm *simulator.VirtualMachine) soap.HasFault {
		r := *req
		r.This = vm.Self
		return vm.SuspendVMTask(ctx, &r)
	})
}

// ShutdownGuest asks VMware Tools to shut the guest down.
//
// vSphere: ToolsUnavailable when Tools is not running; otherwise the guest
// shuts down and the VM powers off. Lab: the same, at once.
func (o *LabVirtualMachine) ShutdownGuest(ctx *simulator.Context, req *types.ShutdownGuest) soap.HasFault {
	return o.power(ctx, func(vm *simulator.VirtualMachine) soap.HasFault {
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && !toolsRunning(vm) {
			return &methods.ShutdownGuestBody{Fault_: simulator.Fault("VMware Tools is not running in the guest.", &types.ToolsUnavailable{})}
		}
		r := *req
		r.This = vm.Self
		return vm.ShutdownGuest(ctx, &r)
	})
}

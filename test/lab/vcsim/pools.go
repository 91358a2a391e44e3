package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// createVMPlacementFault checks a CreateVM_Task's host against its resource
// pool before vcsim runs it.
//
// vSphere: the host of a new VM must belong to the compute resource (cluster or
// standalone host) that owns the pool; otherwise the call fails with
// InvalidArgument (invalidProperty "host"). vcsim 0.24.2 accepts any pool and
// files the VM under it. Lab: vSphere's fault, so a client that places a VM in
// another cluster's pool is caught by the lab as by vCenter.
func createVMPlacementFault(body interface{}) (string, types.BaseMethodFault) {
	req, ok := body.(*types.CreateVM_Task)
	if !ok || req.Host == nil {
		return "", nil
	}
	host, ok := simulator.Map.Get(*req.Host).(*simulator.HostSystem)
	if !ok || host.Parent == nil {
		return "", nil
	}
	pool, ok := simulator.Map.Get(req.Pool).(*simulator.ResourcePool)
	if !ok || pool.Owner == *host.Parent {
		return "", nil
	}
	return "The resource pool " + pool.Name + " is not part of the compute resource of host " + host.Name + ".",
		&types.InvalidArgument{InvalidProperty: "host"}
}

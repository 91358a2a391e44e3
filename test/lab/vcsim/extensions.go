package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// ExtensionManager keeps the registered vCenter extensions (plugins, solutions).
// vcsim 0.24.2 has a ServiceContent reference to it but no object; the lab
// registers this one in its place. Its extensionList property is readable with
// the PropertyCollector.
type ExtensionManager struct {
	mo.ExtensionManager
}

func newExtensionManager(ref types.ManagedObjectReference) *ExtensionManager {
	m := &ExtensionManager{}
	m.Self = ref
	m.ExtensionList = []types.Extension{}
	return m
}

func (m *ExtensionManager) find(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

func (m *ExtensionManager) setList(list []types.Extension) {
	simulator.Map.Update(m, []types.PropertyChange{{Name: "extensionList", Val: list}})
}

// declaresTask reports whether some registered extension lists a task type id.
func (m *ExtensionManager) declaresTask(id string) bool {
	var ok bool
	simulator.Map.WithLock(m, func() {
		for _, e := range m.ExtensionList {
			for _, t := range e.TaskList {
				if t.TaskID == id {
					ok = true
				}
			}
		}
	})
	return ok
}

// RegisterExtension registers an extension.
//
// vSphere: fails with InvalidArgument(extension.key) when the key is already
// registered; sets lastHeartbeatTime. Lab: the same.
func (m *ExtensionManager) RegisterExtension(ctx *simulator.Context, req *types.RegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if req.Extension.Key == "" || m.find(req.Extension.Key) >= 0 {
		body.Fault_ = simulator.Fault("A specified parameter was not correct: extension.key", &types.InvalidArgument{InvalidProperty: "extension.key"})
		return body
	}
	e := req.Extension
	e.LastHeartbeatTime = time.Now()
	m.setList(append(append([]types.Extension{}, m.ExtensionList...), e))
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

// UpdateExtension replaces a registered extension's description.
//
// vSphere: NotFound when the key is not registered. Lab: the same.
func (m *ExtensionManager) UpdateExtension(ctx *simulator.Context, req *types.UpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	i := m.find(req.Extension.Key)
	if i < 0 {
		body.Fault_ = simulator.Fault("The object or item referred to could not be found.", &types.NotFound{})
		return body
	}
	e := req.Extension
	e.LastHeartbeatTime = time.Now()
	list := append([]types.Extension{}, m.ExtensionList...)
	list[i] = e
	m.setList(list)
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

// FindExtension returns a registered extension.
//
// vSphere: returns nothing (no fault) when the key is unknown. Lab: the same.
func (m *ExtensionManager) FindExtension(ctx *simulator.Context, req *types.FindExtension) soap.HasFault {
	body := &methods.FindExtensionBody{Res: &types.FindExtensionResponse{}}
	if i := m.find(req.ExtensionKey); i >= 0 {
		e := m.ExtensionList[i]
		body.Res.Returnval = &e
	}
	return body
}

// UnregisterExtension removes an extension.
//
// vSphere: NotFound when the key is not registered. Lab: the same.
func (m *ExtensionManager) UnregisterExtension(ctx *simulator.Context, req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	i := m.find(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = simulator.Fault("The object or item referred to could not be found.", &types.NotFound{})
		return body
	}
	list := append([]types.Extension{}, m.ExtensionList[:i]...)
	m.setList(append(list, m.ExtensionList[i+1:]...))
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}

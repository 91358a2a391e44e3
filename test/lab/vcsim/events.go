package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// LogUserEvent logs a user event against a managed entity.
//
// vSphere: posts a GeneralUserEvent (message, entity, user) that shows in the
// entity's Monitor > Events and is returned by QueryEvents / event history
// collectors. vcsim 0.24.2 lacks it. Lab: posts the event through vcsim's
// EventManager.PostEvent, with the entity argument set so entity filters match.
func (o *LabEventManager) LogUserEvent(ctx *simulator.Context, req *types.LogUserEvent) soap.HasFault {
	body := &methods.LogUserEventBody{}
	obj, ok := simulator.Map.Get(req.Entity).(mo.Entity)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Entity})
		return body
	}
	name := obj.Entity().Name
	ev := &types.GeneralUserEvent{
		GeneralEvent: types.GeneralEvent{Message: req.Msg},
		Entity:       &types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: name}, Entity: req.Entity},
	}
	ev.FullFormattedMessage = "User logged event: " + req.Msg
	arg := types.EntityEventArgument{Name: name}
	switch req.Entity.Type {
	case "VirtualMachine":
		ev.Vm = &types.VmEventArgument{EntityEventArgument: arg, Vm: req.Entity}
	case "HostSystem":
		ev.Host = &types.HostEventArgument{EntityEventArgument: arg, Host: req.Entity}
	case "Datacenter":
		ev.Datacenter = &types.DatacenterEventArgument{EntityEventArgument: arg, Datacenter: req.Entity}
	case "Datastore":
		ev.Ds = &types.DatastoreEventArgument{EntityEventArgument: arg, Datastore: req.Entity}
	}
	em := simulator.Map.EventManager()
	simulator.Map.WithLock(em, func() {
		em.PostEvent(ctx, &types.PostEvent{This: em.Self, EventToPost: ev})
	})
	body.Res = &types.LogUserEventResponse{}
	return body
}

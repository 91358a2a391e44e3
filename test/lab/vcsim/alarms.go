package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// AlarmManager defines alarms on entities and keeps which of them are
// triggered. vcsim 0.24.2 has a ServiceContent reference to it but no object;
// the lab registers this one in its place (lab.go registerObjects), as
// govmomi's simulator/example_extend_test.go adds objects with Map.Put.
//
// vSphere: an alarm defined on an entity applies to it and every entity below
// it. An event alarm (EventAlarmExpression, usually inside an
// OrAlarmExpression) turns the alarm of the event's entity to the expression's
// status when an event of its eventType (for EventEx: its eventTypeId) is
// posted; red/yellow put an AlarmState into the entity's triggeredAlarmState,
// green takes it out. Every change logs an AlarmStatusChangedEvent. Lab: the
// same for event alarms (metric and state alarms are stored, never evaluated);
// actions are stored but not run.
type AlarmManager struct {
	mo.AlarmManager

	mu     sync.Mutex
	alarms []*Alarm
	next   int
}

// Alarm is one alarm definition (vim.alarm.Alarm).
type Alarm struct {
	mo.Alarm
	manager *AlarmManager
}

func newAlarmManager(ref types.ManagedObjectReference) *AlarmManager {
	m := &AlarmManager{}
	m.Self = ref
	m.DefaultExpression = []types.BaseAlarmExpression{}
	m.Description = types.AlarmDescription{}
	return m
}

func init() {
	overlays["EventManager"]["PostEvent"] = true
}

// labAlarmManager is the registered AlarmManager, if any.
func labAlarmManager() *AlarmManager {
	m, _ := simulator.Map.Get(types.ManagedObjectReference{Type: "AlarmManager", Value: "AlarmManager"}).(*AlarmManager)
	return m
}

func invalidSpec(prop, why string) *soap.Fault {
	return simulator.Fault("A specified parameter was not correct: "+prop+" ("+why+")", &types.InvalidArgument{InvalidProperty: prop})
}

// checkSpec validates what vCenter validates before storing an alarm.
func checkSpec(spec *types.AlarmSpec) *soap.Fault {
	if strings.TrimSpace(spec.Name) == "" {
		return invalidSpec("spec.name", "empty")
	}
	if spec.Expression == nil {
		return invalidSpec("spec.expression", "missing")
	}
	return nil
}

// CreateAlarm defines an alarm on an entity.
//
// vSphere: DuplicateName when an alarm of that name is defined on the entity
// already; ManagedObjectNotFound for an unknown entity. Lab: the same.
func (m *AlarmManager) CreateAlarm(ctx *simulator.Context, req *types.CreateAlarm) soap.HasFault {
	body := &methods.CreateAlarmBody{}
	if _, ok := simulator.Map.Get(req.Entity).(mo.Entity); !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Entity})
		return body
	}
	spec := req.Spec.GetAlarmSpec()
	if f := checkSpec(spec); f != nil {
		body.Fault_ = f
		return body
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.alarms {
		if a.Info.Entity == req.Entity && a.Info.Name == spec.Name {
			body.Fault_ = simulator.Fault("The name '"+spec.Name+"' already exists.", &types.DuplicateName{Name: spec.Name, Object: a.Self})
			return body
		}
	}
	m.next++
	a := &Alarm{manager: m}
	a.Self = types.ManagedObjectReference{Type: "Alarm", Value: fmt.Sprintf("alarm-%d", m.next)}
	a.Info = types.AlarmInfo{
		AlarmSpec:        *spec,
		Key:              a.Self.Value,
		Alarm:            a.Self,
		Entity:           req.Entity,
		LastModifiedTime: time.Now(),
		LastModifiedUser: ctx.Session.UserName,
	}
	simulator.Map.Put(a)
	m.alarms = append(m.alarms, a)
	body.Res = &types.CreateAlarmResponse{Returnval: a.Self}
	return body
}

// GetAlarm lists the alarms defined on an entity, or all alarms without one.
func (m *AlarmManager) GetAlarm(ctx *simulator.Context, req *types.GetAlarm) soap.HasFault {
	body := &methods.GetAlarmBody{}
	m.mu.Lock()
	defer m.mu.Unlock()
	refs := []types.ManagedObjectReference{}
	for _, a := range m.alarms {
		if req.Entity == nil || a.Info.Entity == *req.Entity {
			refs = append(refs, a.Self)
		}
	}
	body.Res = &types.GetAlarmResponse{Returnval: refs}
	return body
}

// GetAlarmState lists the triggered alarms of an entity (its triggeredAlarmState).
func (m *AlarmManager) GetAlarmState(ctx *simulator.Context, req *types.GetAlarmState) soap.HasFault {
	body := &methods.GetAlarmStateBody{}
	e, ok := simulator.Map.Get(req.Entity).(mo.Entity)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Entity})
		return body
	}
	var states []types.AlarmState
	simulator.Map.WithLock(e, func() { states = append(states, e.Entity().TriggeredAlarmState...) })
	body.Res = &types.GetAlarmStateResponse{Returnval: states}
	return body
}

// AcknowledgeAlarm marks a triggered alarm as seen by the user.
func (m *AlarmManager) AcknowledgeAlarm(ctx *simulator.Context, req *types.AcknowledgeAlarm) soap.HasFault {
	body := &methods.AcknowledgeAlarmBody{}
	e, ok := simulator.Map.Get(req.Entity).(mo.Entity)
	if !ok {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Entity})
		return body
	}
	simulator.Map.WithLock(e, func() {
		states := append([]types.AlarmState{}, e.Entity().TriggeredAlarmState...)
		now := time.Now()
		yes := true
		for i := range states {
			if states[i].Alarm == req.Alarm {
				states[i].Acknowledged = &yes
				states[i].AcknowledgedByUser = ctx.Session.UserName
				states[i].AcknowledgedTime = &now
			}
		}
		simulator.Map.Update(e, []types.PropertyChange{{Name: "triggeredAlarmState", Val: states}})
	})
	body.Res = &types.AcknowledgeAlarmResponse{}
	return body
}

// ReconfigureAlarm replaces an alarm's spec.
//
// vSphere: DuplicateName when another alarm on the same entity has the new
// name. Lab: the same.
func (a *Alarm) ReconfigureAlarm(ctx *simulator.Context, req *types.ReconfigureAlarm) soap.HasFault {
	body := &methods.ReconfigureAlarmBody{}
	spec := req.Spec.GetAlarmSpec()
	if f := checkSpec(spec); f != nil {
		body.Fault_ = f
		return body
	}
	m := a.manager
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.alarms {
		if o != a && o.Info.Entity == a.Info.Entity && o.Info.Name == spec.Name {
			body.Fault_ = simulator.Fault("The name '"+spec.Name+"' already exists.", &types.DuplicateName{Name: spec.Name, Object: o.Self})
			return body
		}
	}
	info := a.Info
	info.AlarmSpec = *spec
	info.LastModifiedTime = time.Now()
	info.LastModifiedUser = ctx.Session.UserName
	simulator.Map.Update(a, []types.PropertyChange{{Name: "info", Val: info}})
	body.Res = &types.ReconfigureAlarmResponse{}
	return body
}

// RemoveAlarm deletes an alarm; its triggered states go with it.
func (a *Alarm) RemoveAlarm(ctx *simulator.Context, req *types.RemoveAlarm) soap.HasFault {
	m := a.manager
	m.mu.Lock()
	kept := m.alarms[:0]
	for _, o := range m.alarms {
		if o != a {
			kept = append(kept, o)
		}
	}
	m.alarms = kept
	m.mu.Unlock()
	simulator.Map.Remove(a.Self)
	clearAlarmStates(a.Self)
	return &methods.RemoveAlarmBody{Res: &types.RemoveAlarmResponse{}}
}

// clearAlarmStates takes a removed alarm out of every entity's triggeredAlarmState.
func clearAlarmStates(alarm types.ManagedObjectReference) {
	for _, obj := range simulator.Map.All("") {
		e, ok := obj.(mo.Entity)
		if !ok {
			continue
		}
		simulator.Map.WithLock(e, func() {
			states := e.Entity().TriggeredAlarmState
			kept := []types.AlarmState{}
			for _, s := range states {
				if s.Alarm != alarm {
					kept = append(kept, s)
				}
			}
			if len(kept) != len(states) {
				simulator.Map.Update(e, []types.PropertyChange{
					{Name: "triggeredAlarmState", Val: kept},
					{Name: "declaredAlarmState", Val: kept},
				})
			}
		})
	}
}

// PostEvent posts an event (EventEx of an extension, or any other) and then
// evaluates the event alarms against it.
func (o *LabEventManager) PostEvent(ctx *simulator.Context, req *types.PostEvent) soap.HasFault {
	em := simulator.Map.EventManager()
	var res soap.HasFault
	simulator.Map.WithLock(em, func() { res = em.PostEvent(ctx, req) })
	if m := labAlarmManager(); m != nil {
		m.evaluate(ctx, req.EventToPost)
	}
	return res
}

// eventEntity is the entity an event is about: EventEx's objectId, else its
// most specific entity argument.
func eventEntity(ev types.BaseEvent) (types.ManagedObjectReference, string, bool) {
	if x, ok := ev.(*types.EventEx); ok && x.ObjectId != "" && x.ObjectType != "" {
		ref := types.ManagedObjectReference{Type: x.ObjectType, Value: x.ObjectId}
		if e, ok := simulator.Map.Get(ref).(mo.Entity); ok {
			return ref, e.Entity().Name, true
		}
	}
	e := ev.GetEvent()
	switch {
	case e.Vm != nil:
		return e.Vm.Vm, e.Vm.Name, true
	case e.Host != nil:
		return e.Host.Host, e.Host.Name, true
	case e.Ds != nil:
		return e.Ds.Datastore, e.Ds.Name, true
	case e.ComputeResource != nil:
		return e.ComputeResource.ComputeResource, e.ComputeResource.Name, true
	case e.Datacenter != nil:
		return e.Datacenter.Datacenter, e.Datacenter.Name, true
	}
	return types.ManagedObjectReference{}, "", false
}

// eventTypeName is what an EventAlarmExpression's eventType/eventTypeId compare with.
func eventMatchesExpression(ev types.BaseEvent, x *types.EventAlarmExpression, entity types.ManagedObjectReference) bool {
	if x.ObjectType != "" && x.ObjectType != entity.Type {
		return false
	}
	if ex, ok := ev.(*types.EventEx); ok {
		if x.EventTypeId != "" {
			return x.EventTypeId == ex.EventTypeId
		}
		return x.EventType == "EventEx"
	}
	name := fmt.Sprintf("%T", ev)
	name = name[strings.LastIndex(name, ".")+1:]
	return x.EventType == name || (x.EventTypeId != "" && x.EventTypeId == "vim.event."+name)
}

// statusFor is the status an alarm's expression gives the event, if it matches.
func statusFor(ev types.BaseEvent, expr types.BaseAlarmExpression, entity types.ManagedObjectReference) (types.ManagedEntityStatus, bool) {
	switch x := expr.(type) {
	case *types.EventAlarmExpression:
		if eventMatchesExpression(ev, x, entity) {
			st := x.Status
			if st == "" {
				st = types.ManagedEntityStatusRed
			}
			return st, true
		}
	case *types.OrAlarmExpression:
		for _, e := range x.Expression {
			if st, ok := statusFor(ev, e, entity); ok {
				return st, true
			}
		}
	case *types.AndAlarmExpression:
		// Event expressions never hold together at one instant: vCenter rejects
		// And of events; the first matching one decides here.
		for _, e := range x.Expression {
			if st, ok := statusFor(ev, e, entity); ok {
				return st, true
			}
		}
	}
	return "", false
}

// coversEntity reports whether an alarm defined on `on` applies to entity.
func coversEntity(on, entity types.ManagedObjectReference) bool {
	ref := entity
	for i := 0; i < 64; i++ {
		if ref == on {
			return true
		}
		e, ok := simulator.Map.Get(ref).(mo.Entity)
		if !ok || e.Entity().Parent == nil {
			return false
		}
		ref = *e.Entity().Parent
	}
	return false
}

// evaluate changes the state of every enabled alarm whose expression matches the event.
func (m *AlarmManager) evaluate(ctx *simulator.Context, ev types.BaseEvent) {
	if _, ok := ev.(*types.AlarmStatusChangedEvent); ok {
		return
	}
	entity, name, ok := eventEntity(ev)
	if !ok {
		return
	}
	type change struct {
		alarm *Alarm
		to    types.ManagedEntityStatus
	}
	var changes []change
	m.mu.Lock()
	for _, a := range m.alarms {
		if !a.Info.Enabled || !coversEntity(a.Info.Entity, entity) {
			continue
		}
		if st, ok := statusFor(ev, a.Info.Expression, entity); ok {
			changes = append(changes, change{a, st})
		}
	}
	m.mu.Unlock()
	obj, ok := simulator.Map.Get(entity).(mo.Entity)
	if !ok {
		return
	}
	for _, c := range changes {
		from := types.ManagedEntityStatusGreen
		simulator.Map.WithLock(obj, func() {
			states := obj.Entity().TriggeredAlarmState
			kept := []types.AlarmState{}
			for _, s := range states {
				if s.Alarm == c.alarm.Self {
					from = s.OverallStatus
				} else {
					kept = append(kept, s)
				}
			}
			if c.to == types.ManagedEntityStatusRed || c.to == types.ManagedEntityStatusYellow {
				no := false
				kept = append(kept, types.AlarmState{
					Key: c.alarm.Self.Value + "." + entity.Value, Entity: entity, Alarm: c.alarm.Self,
					OverallStatus: c.to, Time: time.Now(), Acknowledged: &no, EventKey: ev.GetEvent().Key,
				})
			}
			simulator.Map.Update(obj, []types.PropertyChange{
				{Name: "triggeredAlarmState", Val: kept},
				{Name: "declaredAlarmState", Val: kept},
				{Name: "overallStatus", Val: worstStatus(kept)},
			})
		})
		if from == c.to {
			continue
		}
		arg := types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: name}, Entity: entity}
		source := c.alarm.Info.Entity
		sourceName := source.Value
		if se, ok := simulator.Map.Get(source).(mo.Entity); ok {
			sourceName = se.Entity().Name
		}
		changed := &types.AlarmStatusChangedEvent{
			AlarmEvent: types.AlarmEvent{Alarm: types.AlarmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: c.alarm.Info.Name}, Alarm: c.alarm.Self}},
			Source:     types.ManagedEntityEventArgument{EntityEventArgument: types.EntityEventArgument{Name: sourceName}, Entity: source},
			Entity:     arg,
			From:       string(from),
			To:         string(c.to),
		}
		changed.FullFormattedMessage = fmt.Sprintf("Alarm '%s' on %s changed from %s to %s", c.alarm.Info.Name, name, statusWord(from), statusWord(c.to))
		plain := types.EntityEventArgument{Name: name}
		switch entity.Type {
		case "VirtualMachine":
			changed.Vm = &types.VmEventArgument{EntityEventArgument: plain, Vm: entity}
		case "HostSystem":
			changed.Host = &types.HostEventArgument{EntityEventArgument: plain, Host: entity}
		case "Datacenter":
			changed.Datacenter = &types.DatacenterEventArgument{EntityEventArgument: plain, Datacenter: entity}
		case "Datastore":
			changed.Ds = &types.DatastoreEventArgument{EntityEventArgument: plain, Datastore: entity}
		}
		em := simulator.Map.EventManager()
		simulator.Map.WithLock(em, func() {
			em.PostEvent(ctx, &types.PostEvent{This: em.Self, EventToPost: changed})
		})
	}
}

func worstStatus(states []types.AlarmState) types.ManagedEntityStatus {
	st := types.ManagedEntityStatusGreen
	for _, s := range states {
		if s.OverallStatus == types.ManagedEntityStatusRed {
			return s.OverallStatus
		}
		if s.OverallStatus == types.ManagedEntityStatusYellow {
			st = s.OverallStatus
		}
	}
	return st
}

// statusWord is the word the vSphere Client uses for a status in this event's text.
func statusWord(s types.ManagedEntityStatus) string {
	switch s {
	case types.ManagedEntityStatusGreen:
		return "Green"
	case types.ManagedEntityStatusYellow:
		return "Yellow"
	case types.ManagedEntityStatusRed:
		return "Red"
	}
	return "Gray"
}

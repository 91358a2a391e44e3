package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// CreateTask creates a task that an extension drives itself.
//
// vSphere: TaskManager.CreateTask(obj, taskTypeId, initiatedBy, cancelable)
// returns the new task's TaskInfo (state queued); it shows in Recent Tasks
// (TaskManager.recentTask). taskTypeId must be declared in the taskList of a
// registered extension, else InvalidArgument(taskTypeId). vcsim 0.24.2 lacks
// it. Lab: the same, the task is a vcsim Task object.
func (o *LabTaskManager) CreateTask(ctx *simulator.Context, req *types.CreateTask) soap.HasFault {
	body := &methods.CreateTaskBody{}
	if !taskTypeDeclared(req.TaskTypeId) {
		body.Fault_ = simulator.Fault("A specified parameter was not correct: taskTypeId", &types.InvalidArgument{InvalidProperty: "taskTypeId"})
		return body
	}
	obj := simulator.Map.Get(req.Obj)
	if obj == nil {
		body.Fault_ = simulator.Fault("", &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	task := simulator.CreateTask(req.Obj, req.TaskTypeId, nil)
	simulator.Map.WithLock(task, func() {
		entityName := req.Obj.Value
		if e, ok := obj.(mo.Entity); ok {
			entityName = e.Entity().Name
		}
		user := req.InitiatedBy
		if user == "" && ctx.Session != nil {
			user = ctx.Session.UserName
		}
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.name", Val: ""},
			{Name: "info.descriptionId", Val: req.TaskTypeId},
			{Name: "info.cancelable", Val: req.Cancelable},
			{Name: "info.entityName", Val: entityName},
			{Name: "info.reason", Val: &types.TaskReasonUser{UserName: user}},
			{Name: "info.parentTaskKey", Val: req.ParentTaskKey},
			{Name: "info.activationId", Val: req.ActivationId},
		})
		body.Res = &types.CreateTaskResponse{Returnval: task.Info}
	})
	return body
}

func taskTypeDeclared(id string) bool {
	em, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "ExtensionManager", Value: "ExtensionManager"}).(*ExtensionManager)
	if !ok {
		return false
	}
	return em.declaresTask(id)
}

func (o *LabTask) task() *simulator.Task {
	t, _ := simulator.Map.Get(o.target()).(*simulator.Task)
	return t
}

func taskDone(t *simulator.Task) bool {
	return t.Info.State == types.TaskInfoStateSuccess || t.Info.State == types.TaskInfoStateError
}

// change runs f on the task under its lock and returns f's fault, or
// ManagedObjectNotFound if the task is gone: the frame of every setter below.
func (o *LabTask) change(ctx *simulator.Context, f func(t *simulator.Task) *soap.Fault) *soap.Fault {
	t := o.task()
	if t == nil {
		return o.gone()
	}
	var fault *soap.Fault
	o.withLock(ctx, t, func() { fault = f(t) })
	return fault
}

func invalidTaskState() *soap.Fault {
	return simulator.Fault("The operation is not allowed in the current state.", &types.InvalidState{})
}

// SetTaskState sets a task's state, with its result or fault when it completes.
//
// vSphere: running sets startTime; success/error set completeTime and
// result/error. A completed task cannot change state (InvalidState). Lab: the same.
func (o *LabTask) SetTaskState(ctx *simulator.Context, req *types.SetTaskState) soap.HasFault {
	body := &methods.SetTaskStateBody{}
	if body.Fault_ = o.change(ctx, func(t *simulator.Task) *soap.Fault {
		if taskDone(t) {
			return invalidTaskState()
		}
		changes := []types.PropertyChange{{Name: "info.state", Val: req.State}}
		if req.State != types.TaskInfoStateQueued && t.Info.StartTime == nil {
			changes = append(changes, types.PropertyChange{Name: "info.startTime", Val: time.Now()})
		}
		if req.State == types.TaskInfoStateSuccess || req.State == types.TaskInfoStateError {
			changes = append(changes, types.PropertyChange{Name: "info.completeTime", Val: time.Now()})
			if req.Result != nil {
				changes = append(changes, types.PropertyChange{Name: "info.result", Val: req.Result})
			}
			if req.Fault != nil {
				changes = append(changes, types.PropertyChange{Name: "info.error", Val: req.Fault})
			}
		}
		simulator.Map.Update(t, changes)
		return nil
	}); body.Fault_ == nil {
		body.Res = &types.SetTaskStateResponse{}
	}
	return body
}

// UpdateProgress sets a running task's percentage.
//
// vSphere: InvalidState unless the task is running; OutOfBounds unless 0–100.
// Lab: the same; the value is info.progress.
func (o *LabTask) UpdateProgress(ctx *simulator.Context, req *types.UpdateProgress) soap.HasFault {
	body := &methods.UpdateProgressBody{}
	if body.Fault_ = o.change(ctx, func(t *simulator.Task) *soap.Fault {
		switch {
		case t.Info.State != types.TaskInfoStateRunning:
			return invalidTaskState()
		case req.PercentDone < 0 || req.PercentDone > 100:
			return simulator.Fault("", &types.OutOfBounds{ArgumentName: "percentDone"})
		}
		simulator.Map.Update(t, []types.PropertyChange{{Name: "info.progress", Val: req.PercentDone}})
		return nil
	}); body.Fault_ == nil {
		body.Res = &types.UpdateProgressResponse{}
	}
	return body
}

// SetTaskDescription sets the message Recent Tasks shows for a task.
//
// vSphere: sets info.description (a LocalizableMessage). Lab: the same.
func (o *LabTask) SetTaskDescription(ctx *simulator.Context, req *types.SetTaskDescription) soap.HasFault {
	body := &methods.SetTaskDescriptionBody{}
	if body.Fault_ = o.change(ctx, func(t *simulator.Task) *soap.Fault {
		d := req.Description
		simulator.Map.Update(t, []types.PropertyChange{{Name: "info.description", Val: &d}})
		return nil
	}); body.Fault_ == nil {
		body.Res = &types.SetTaskDescriptionResponse{}
	}
	return body
}

// CancelTask asks for a task to be cancelled.
//
// vSphere: NotSupported unless the task is cancelable, InvalidState once it
// has completed; otherwise info.cancelled becomes true and the task's owner
// (for CreateTask tasks: the extension) is expected to stop it and set its
// state, typically to error with RequestCanceled. Lab: the same.
func (o *LabTask) CancelTask(ctx *simulator.Context, req *types.CancelTask) soap.HasFault {
	body := &methods.CancelTaskBody{}
	if body.Fault_ = o.change(ctx, func(t *simulator.Task) *soap.Fault {
		switch {
		case taskDone(t):
			return invalidTaskState()
		case !t.Info.Cancelable:
			return simulator.Fault("The operation is not supported on the object.", &types.NotSupported{})
		}
		simulator.Map.Update(t, []types.PropertyChange{{Name: "info.cancelled", Val: true}})
		return nil
	}); body.Fault_ == nil {
		body.Res = &types.CancelTaskResponse{}
	}
	return body
}

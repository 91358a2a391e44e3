package main

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// faultRule is one injected fault, as posted to POST /lab/faults.
//
// Method is a SOAP method name ("CreateSnapshot_Task", "StartProgramInGuest", …),
// "DatastoreGet" for datastore HTTP reads (GET/HEAD) or "DatastorePut" for
// datastore HTTP uploads (PUT/POST); see datastore.go. Fault is a vim25 fault type name
// ("ApplicationQuiesceFault", "FileFault", "TaskInProgress", "NotAuthenticated",
// …) or one of the lab behaviours:
//   - "LeaveConsolidationNeeded" (RemoveSnapshot_Task): removal succeeds but the
//     VM keeps runtime.consolidationNeeded=true until ConsolidateVMDisks_Task.
//   - "NoWriterManifests" (CreateSnapshot_Task/CreateSnapshotEx_Task): the
//     quiesced snapshot's vss-manifest.zip has only backupComponents.xml, as when
//     VSS writers failed (file-system consistent only).
//   - "ReadFault" (DatastoreGet): the response is cut off after AfterBytes bytes.
//   - "WriteFault" (DatastorePut): the connection is dropped, without an
//     answer, once AfterBytes bytes of the upload have been received.
//   - "" with DelayMs: the call is only delayed.
//
// Datastore HTTP rules with another fault answer an HTTP status instead:
// DatastoreGet "FileNotFound"/"NotFound" 404, else 500; DatastorePut
// "NoDiskSpace" 507, "FileNotFound"/"NotFound" 404, else 500.
type faultRule struct {
	ID         int    `json:"id"`
	Method     string `json:"method"`
	Fault      string `json:"fault"`
	VM         string `json:"vm,omitempty"`
	Count      int    `json:"count"` // matching calls to fault; 0 means 1, negative means every call
	DelayMs    int    `json:"delayMs,omitempty"`
	Message    string `json:"message,omitempty"`
	As         string `json:"as,omitempty"`         // "task" or "soap"; default: task methods fail their task, except request-level faults
	Path       string `json:"path,omitempty"`       // DatastoreGet/DatastorePut: substring of the datastore path
	AfterBytes int64  `json:"afterBytes,omitempty"` // ReadFault: bytes sent, WriteFault: bytes received, before the connection is cut
	Hits       int    `json:"hits"`
}

var behaviours = map[string]bool{"LeaveConsolidationNeeded": true, "NoWriterManifests": true, "ReadFault": true, "WriteFault": true}

// requestFaults are returned as SOAP faults even by *_Task methods: vCenter
// rejects the call before it creates a task.
var requestFaults = map[string]bool{
	"NotAuthenticated": true, "NoPermission": true, "InvalidLogin": true, "ManagedObjectNotFound": true,
	"MethodNotFound": true, "InvalidRequest": true, "InvalidArgument": true, "RestrictedVersion": true,
}

// defaultMessages are the texts vCenter puts in faultstring / localizedMessage.
var defaultMessages = map[string]string{
	"ApplicationQuiesceFault":    "An error occurred while quiescing the virtual machine. See the virtual machine's event log for details.",
	"FileFault":                  "Error caused by file",
	"TaskInProgress":             "The operation is not allowed in the current state.",
	"NotAuthenticated":           "The session is not authenticated.",
	"InvalidState":               "The operation is not allowed in the current state.",
	"SnapshotFault":              "An error occurred while taking a snapshot.",
	"GuestOperationsUnavailable": "The guest operations agent could not be contacted.",
	"InvalidGuestLogin":          "Failed to authenticate with the guest operating system using the supplied credentials.",
	"TooManySnapshotLevels":      "Exceeded the maximum number of permitted snapshots.",
}

type faultBook struct {
	mu    sync.Mutex
	next  int
	rules []*faultRule
}

func (b *faultBook) add(r faultRule) faultRule {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	r.ID = b.next
	if r.Count == 0 {
		r.Count = 1
	}
	b.rules = append(b.rules, &r)
	return r
}

func (b *faultBook) clear() {
	b.mu.Lock()
	b.rules = nil
	b.mu.Unlock()
}

func (b *faultBook) list() []faultRule {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []faultRule{}
	for _, r := range b.rules {
		out = append(out, *r)
	}
	return out
}

// take consumes the first rule for which match returns true.
func (b *faultBook) take(match func(*faultRule) bool) *faultRule {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.rules {
		if !match(r) {
			continue
		}
		r.Hits++
		if r.Count > 0 {
			r.Count--
			if r.Count == 0 {
				b.rules = append(b.rules[:i], b.rules[i+1:]...)
			}
		}
		c := *r
		return &c
	}
	return nil
}

// takeBehaviour consumes a lab behaviour rule for a method and VM name.
func (l *Lab) takeBehaviour(method, behaviour, vm string) bool {
	return l.faults.take(func(r *faultRule) bool {
		return r.Fault == behaviour && sameMethod(r.Method, method) && (r.VM == "" || r.VM == vm)
	}) != nil
}

func sameMethod(a, b string) bool {
	return a == b || strings.TrimSuffix(a, "_Task") == strings.TrimSuffix(b, "_Task")
}

// vmOfRequest finds the VM a SOAP call is about: its _this, the VM of a
// snapshot, or a "vm" argument (guest operations).
func vmOfRequest(m *simulator.Method) *types.ManagedObjectReference {
	switch m.This.Type {
	case "VirtualMachine":
		return &m.This
	case "VirtualMachineSnapshot":
		if s, ok := simulator.Map.Get(m.This).(*simulator.VirtualMachineSnapshot); ok {
			return &s.Vm
		}
	}
	v := reflect.ValueOf(m.Body)
	if v.Kind() == reflect.Ptr && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("Vm"); f.IsValid() {
			switch x := f.Interface().(type) {
			case types.ManagedObjectReference:
				return &x
			case *types.ManagedObjectReference:
				return x
			}
		}
	}
	return nil
}

// applyFaults applies the first matching injected fault to a SOAP call. It
// returns true when it has written the response.
func (l *Lab) applyFaults(w http.ResponseWriter, m *simulator.Method) bool {
	vmName := ""
	if ref := vmOfRequest(m); ref != nil {
		if vm := simVM(*ref); vm != nil {
			vmName = vm.Name
		}
	}
	rule := l.faults.take(func(r *faultRule) bool {
		return !behaviours[r.Fault] && sameMethod(r.Method, m.Name) && (r.VM == "" || r.VM == vmName)
	})
	if rule == nil {
		return false
	}
	delay := time.Duration(rule.DelayMs) * time.Millisecond
	if rule.Fault == "" {
		time.Sleep(delay)
		return false
	}
	fault, msg := makeFault(rule, m)
	isTask := strings.HasSuffix(m.Name, "_Task")
	asTask := rule.As == "task" || (rule.As == "" && isTask && !requestFaults[rule.Fault])
	if !asTask {
		time.Sleep(delay)
		writeFault(w, msg, fault)
		return true
	}
	task := simulator.CreateTask(m.This, lcFirst(strings.TrimSuffix(m.Name, "_Task")), nil)
	run := func() {
		startTask(task)
		time.Sleep(delay)
		finishTask(task, nil, fault, msg)
	}
	if delay > 0 {
		go run()
	} else {
		run()
	}
	writeTaskResponse(w, m.Name, task.Self)
	return true
}

// makeFault instantiates the vim25 fault named by a rule.
func makeFault(rule *faultRule, m *simulator.Method) (types.BaseMethodFault, string) {
	msg := rule.Message
	if msg == "" {
		msg = defaultMessages[rule.Fault]
	}
	if msg == "" {
		msg = rule.Fault
	}
	t, ok := types.TypeFunc()(rule.Fault)
	var fault types.BaseMethodFault
	if ok {
		fault, _ = reflect.New(t).Interface().(types.BaseMethodFault)
	}
	if fault == nil {
		fault = &types.SystemError{Reason: rule.Fault}
	}
	switch f := fault.(type) {
	case *types.NotAuthenticated:
		f.Object = m.This
		f.PrivilegeId = "System.View"
	case *types.FileFault:
		if vm := vmOfRequest(m); vm != nil {
			if sim := simVM(*vm); sim != nil {
				f.File = sim.Config.Files.VmPathName
				if rule.Message == "" {
					msg = "Error caused by file " + f.File
				}
			}
		}
	case *types.InvalidArgument:
		f.InvalidProperty = rule.Message
		if rule.Message != "" {
			msg = "A specified parameter was not correct: " + rule.Message
		}
	case *types.SystemError:
		if f.Reason == "" {
			f.Reason = msg
		}
	}
	fault.GetMethodFault().FaultMessage = []types.LocalizableMessage{{Key: "com.vmware.stillpoint.lab.fault", Message: msg}}
	return fault, msg
}

// startTask marks a task running.
func startTask(t *simulator.Task) {
	simulator.Map.Update(t, []types.PropertyChange{
		{Name: "info.startTime", Val: time.Now()},
		{Name: "info.state", Val: types.TaskInfoStateRunning},
	})
}

// finishTask completes a task with a result or a fault (with vCenter's message,
// unlike simulator.Task.Run which puts the Go type name in localizedMessage).
func finishTask(t *simulator.Task, result types.AnyType, fault types.BaseMethodFault, msg string) {
	state := types.TaskInfoStateSuccess
	var errv interface{}
	if fault != nil {
		state = types.TaskInfoStateError
		if msg == "" {
			msg = reflect.TypeOf(fault).Elem().Name()
		}
		errv = types.LocalizedMethodFault{Fault: fault, LocalizedMessage: msg}
	}
	simulator.Map.Update(t, []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.state", Val: state},
		{Name: "info.result", Val: result},
		{Name: "info.error", Val: errv},
	})
}

func lcFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// cutWriter forwards `left` bytes of a response body, then drops the connection.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if h, ok := c.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := h.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
	return n, fmt.Errorf("lab read fault: connection cut")
}

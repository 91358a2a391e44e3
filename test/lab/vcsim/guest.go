package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Guest operations. Nothing runs in a guest: the lab records each call and
// makes the "process" exit with the code a test chose (POST /lab/guest/program).

// guestCall is one recorded guest operation (GET /lab/guest/calls).
type guestCall struct {
	Kind             string      `json:"kind"` // "program" | "upload" | "download" | "mkdir" | "list" | "attributes" | "nic"
	VM               string      `json:"vm"`
	VMRef            string      `json:"vmRef"`
	User             string      `json:"user"`
	Time             time.Time   `json:"time"`
	ProgramPath      string      `json:"programPath,omitempty"`
	Arguments        string      `json:"arguments,omitempty"`
	WorkingDirectory string      `json:"workingDirectory,omitempty"`
	EnvVariables     []string    `json:"envVariables,omitempty"`
	Pid              int64       `json:"pid,omitempty"`
	ExitCode         *int32      `json:"exitCode,omitempty"`
	DelayMs          int         `json:"delayMs,omitempty"`
	GuestFilePath    string      `json:"guestFilePath,omitempty"`
	Size             int64       `json:"size,omitempty"`
	Sha256           string      `json:"sha256,omitempty"`
	Content          string      `json:"content,omitempty"` // uploads: the content if it is UTF-8 text up to 64 KiB
	Overwrite        bool        `json:"overwrite,omitempty"`
	Attributes       *guestAttrs `json:"attributes,omitempty"`     // uploads: the fileAttributes applied
	CreateParents    bool        `json:"createParents,omitempty"`  // mkdir: createParentDirectories
	DeviceKey        int32       `json:"deviceKey,omitempty"`      // nic: the network adapter's key (nicrecord.go)
	Network          string      `json:"network,omitempty"`        // nic: its network after the edit
	Connected        *bool       `json:"connected,omitempty"`      // nic: connectable.connected after the edit
	StartConnected   *bool       `json:"startConnected,omitempty"` // nic: connectable.startConnected after the edit
}

// guestRule chooses the outcome of matching StartProgramInGuest calls.
type guestRule struct {
	VM       string `json:"vm,omitempty"`
	Match    string `json:"match,omitempty"` // substring of "programPath arguments"
	ExitCode int32  `json:"exitCode"`
	DelayMs  int    `json:"delayMs"`
}

type guestProcess struct {
	info types.GuestProcessInfo
	end  time.Time
	exit int32
}

type guestTransfer struct {
	vm, vmRef, user, guestPath string
	upload, overwrite          bool
	size                       int64
	attrs                      guestAttrs
}

type guestState struct {
	mu        sync.Mutex
	nextPid   int64
	procs     map[string][]*guestProcess // by VM moref value
	calls     []guestCall
	rules     []guestRule
	transfers map[string]*guestTransfer
	fs        map[string]*guestTree // by VM moref value (guestfs.go)
}

// file is the file at a guest path, if any (nil for a directory or nothing).
func (g *guestState) file(vm types.ManagedObjectReference, guestPath string) *guestEntry {
	windows := vmIsWindows(vm)
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.tree(vm.Value, windows)
	clean, ok := t.clean(guestPath)
	if e := t.get(clean); ok && e != nil && e.Type == "file" {
		c := *e
		return &c
	}
	return nil
}

func (g *guestState) init() {
	g.nextPid = 4000
	g.procs = map[string][]*guestProcess{}
	g.transfers = map[string]*guestTransfer{}
	g.fs = map[string]*guestTree{}
}

func (g *guestState) addRule(r guestRule) {
	g.mu.Lock()
	g.rules = append([]guestRule{r}, g.rules...)
	g.mu.Unlock()
}

func (g *guestState) reset() {
	g.mu.Lock()
	g.rules, g.calls = nil, nil
	g.mu.Unlock()
}

func (g *guestState) recorded() []guestCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]guestCall{}, g.calls...)
}

// guestCheck validates a guest operation like ESXi: the VM must be powered on
// (InvalidPowerState), Tools must be running (GuestOperationsUnavailable) and
// the credentials must be right (InvalidGuestLogin). It returns the VM's name
// and the user name.
func (l *Lab) guestCheck(ref types.ManagedObjectReference, auth types.BaseGuestAuthentication) (string, string, *soap.Fault) {
	vm := simVM(ref)
	if vm == nil {
		return "", "", simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	var name string
	var fault *soap.Fault
	simulator.Map.WithLock(vm, func() {
		name = vm.Name
		switch {
		case vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn:
			fault = simulator.Fault("The attempted operation cannot be performed in the current state (Powered off).", &types.InvalidPowerState{
				RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: vm.Runtime.PowerState})
		case !toolsRunning(vm):
			fault = simulator.Fault(defaultMessages["GuestOperationsUnavailable"], &types.GuestOperationsUnavailable{})
		}
	})
	if fault != nil {
		return name, "", fault
	}
	np, ok := auth.(*types.NamePasswordAuthentication)
	if !ok || np.Username != l.opts.guestUser || np.Password != l.opts.guestPass {
		return name, "", simulator.Fault(defaultMessages["InvalidGuestLogin"], &types.InvalidGuestLogin{})
	}
	return name, np.Username, nil
}

// inGuest runs a process-manager call: the VM and credentials are checked
// (guestCheck), then f runs holding the guest state's lock.
func (l *Lab) inGuest(vm types.ManagedObjectReference, auth types.BaseGuestAuthentication, f func(g *guestState, name, user string) *soap.Fault) *soap.Fault {
	name, user, fault := l.guestCheck(vm, auth)
	if fault != nil {
		return fault
	}
	g := &l.guest
	g.mu.Lock()
	defer g.mu.Unlock()
	return f(g, name, user)
}

// GuestProcessManager replaces vcsim's (which has no methods in 0.24.2).
type GuestProcessManager struct {
	mo.GuestProcessManager
	lab *Lab
}

// StartProgramInGuest starts a program in the guest and returns its pid.
//
// vSphere: runs spec.programPath with spec.arguments as the given guest user;
// ListProcessesInGuest then reports it, with exitCode and endTime once it has
// exited. Lab: records the call and "runs" nothing: the process ends after the
// delay and with the exit code of the first matching /lab/guest/program rule
// (default: at once, exit code 0).
func (m *GuestProcessManager) StartProgramInGuest(ctx *simulator.Context, req *types.StartProgramInGuest) soap.HasFault {
	body := &methods.StartProgramInGuestBody{}
	body.Fault_ = m.lab.inGuest(req.Vm, req.Auth, func(g *guestState, name, user string) *soap.Fault {
		body.Res = &types.StartProgramInGuestResponse{Returnval: g.start(req.Vm.Value, name, user, req.Spec.GetGuestProgramSpec())}
		return nil
	})
	return body
}

// start records a program started in a guest and returns its pid. Caller holds g.mu.
func (g *guestState) start(vmRef, name, user string, spec *types.GuestProgramSpec) int64 {
	rule := guestRule{}
	cmd := spec.ProgramPath + " " + spec.Arguments
	for _, r := range g.rules {
		if (r.VM == "" || r.VM == name) && strings.Contains(cmd, r.Match) {
			rule = r
			break
		}
	}
	g.nextPid++
	now := time.Now()
	p := &guestProcess{
		info: types.GuestProcessInfo{Name: path.Base(strings.ReplaceAll(spec.ProgramPath, `\`, "/")), Pid: g.nextPid, Owner: user,
			CmdLine: strings.TrimSpace(`"` + spec.ProgramPath + `" ` + spec.Arguments), StartTime: now},
		end:  now.Add(time.Duration(rule.DelayMs) * time.Millisecond),
		exit: rule.ExitCode,
	}
	g.procs[vmRef] = append(g.procs[vmRef], p)
	exit := rule.ExitCode
	g.calls = append(g.calls, guestCall{Kind: "program", VM: name, VMRef: vmRef, User: user, Time: now,
		ProgramPath: spec.ProgramPath, Arguments: spec.Arguments, WorkingDirectory: spec.WorkingDirectory,
		EnvVariables: spec.EnvVariables, Pid: p.info.Pid, ExitCode: &exit, DelayMs: rule.DelayMs})
	return p.info.Pid
}

// ListProcessesInGuest lists the processes started by StartProgramInGuest.
//
// vSphere: all processes, or those in pids; exited ones keep exitCode and
// endTime for a few minutes. Lab: the processes started through the lab.
func (m *GuestProcessManager) ListProcessesInGuest(ctx *simulator.Context, req *types.ListProcessesInGuest) soap.HasFault {
	body := &methods.ListProcessesInGuestBody{}
	body.Fault_ = m.lab.inGuest(req.Vm, req.Auth, func(g *guestState, _, _ string) *soap.Fault {
		want := map[int64]bool{}
		for _, pid := range req.Pids {
			want[pid] = true
		}
		res := &types.ListProcessesInGuestResponse{}
		now := time.Now()
		for _, p := range g.procs[req.Vm.Value] {
			if len(want) > 0 && !want[p.info.Pid] {
				continue
			}
			info := p.info
			if !now.Before(p.end) {
				end := p.end
				info.EndTime = &end
				info.ExitCode = p.exit
			}
			res.Returnval = append(res.Returnval, info)
		}
		body.Res = res
		return nil
	})
	return body
}

// TerminateProcessInGuest ends a lab process at once with exit code 1 (as if killed).
func (m *GuestProcessManager) TerminateProcessInGuest(ctx *simulator.Context, req *types.TerminateProcessInGuest) soap.HasFault {
	body := &methods.TerminateProcessInGuestBody{}
	body.Fault_ = m.lab.inGuest(req.Vm, req.Auth, func(g *guestState, _, _ string) *soap.Fault {
		for _, p := range g.procs[req.Vm.Value] {
			if p.info.Pid == req.Pid {
				if time.Now().Before(p.end) {
					p.end, p.exit = time.Now(), 1
				}
				body.Res = &types.TerminateProcessInGuestResponse{}
				return nil
			}
		}
		return simulator.Fault("", &types.GuestProcessNotFound{Pid: req.Pid})
	})
	return body
}

// GuestFileManager replaces vcsim's (which needs a container runtime in 0.24.2).
type GuestFileManager struct {
	mo.GuestFileManager
	lab *Lab
}

// InitiateFileTransferToGuest returns a URL the client PUTs the file to.
//
// vSphere: https://<host>/guestFile?id=…&token=…; FileAlreadyExists when the
// file exists and overwrite is false. Lab: a URL on the lab's own server; the
// uploaded content is stored below <dataDir>/guest and recorded.
func (m *GuestFileManager) InitiateFileTransferToGuest(ctx *simulator.Context, req *types.InitiateFileTransferToGuest) soap.HasFault {
	body := &methods.InitiateFileTransferToGuestBody{}
	name, user, fault := m.lab.guestCheck(req.Vm, req.Auth)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	windows := vmIsWindows(req.Vm)
	g := &m.lab.guest
	g.mu.Lock()
	t := g.tree(req.Vm.Value, windows)
	clean, ok := t.clean(req.GuestFilePath)
	existing := t.get(clean)
	g.mu.Unlock()
	attrs := attrsFrom(req.FileAttributes)
	switch {
	case !ok:
		body.Fault_ = notAbsolute(req.GuestFilePath, windows)
	case (attrs.Kind == "posix" && windows) || (attrs.Kind == "windows" && !windows):
		body.Fault_ = simulator.Fault("A specified parameter was not correct: fileAttributes ("+attrs.Kind+" attributes for another guest family)", &types.InvalidArgument{InvalidProperty: "fileAttributes"})
	case existing != nil && existing.Type == "directory":
		body.Fault_ = simulator.Fault("The file already exists: "+clean+" is a directory", &types.FileAlreadyExists{FileFault: types.FileFault{File: clean}})
	case existing != nil && !req.Overwrite:
		body.Fault_ = simulator.Fault("The file already exists: "+clean, &types.FileAlreadyExists{FileFault: types.FileFault{File: clean}})
	}
	if body.Fault_ != nil {
		return body
	}
	u := m.lab.newTransfer(&guestTransfer{vm: name, vmRef: req.Vm.Value, user: user, guestPath: clean, upload: true, size: req.FileSize,
		overwrite: req.Overwrite, attrs: attrs})
	body.Res = &types.InitiateFileTransferToGuestResponse{Returnval: u}
	return body
}

// InitiateFileTransferFromGuest returns a URL to GET a file from the guest.
// Lab: only files uploaded through the lab exist (else FileNotFound).
func (m *GuestFileManager) InitiateFileTransferFromGuest(ctx *simulator.Context, req *types.InitiateFileTransferFromGuest) soap.HasFault {
	body := &methods.InitiateFileTransferFromGuestBody{}
	name, user, fault := m.lab.guestCheck(req.Vm, req.Auth)
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	e := m.lab.guest.file(req.Vm, req.GuestFilePath)
	if e == nil {
		body.Fault_ = simulator.Fault("File "+req.GuestFilePath+" was not found", &types.FileNotFound{FileFault: types.FileFault{File: req.GuestFilePath}})
		return body
	}
	u := m.lab.newTransfer(&guestTransfer{vm: name, vmRef: req.Vm.Value, user: user, guestPath: e.Path})
	body.Res = &types.InitiateFileTransferFromGuestResponse{Returnval: types.FileTransferInformation{
		Attributes: e.Attrs.vim(vmIsWindows(req.Vm)), Size: e.Size, Url: u}}
	return body
}

func (l *Lab) newTransfer(t *guestTransfer) string {
	id := randomHex(12)
	l.guest.mu.Lock()
	l.guest.transfers[id] = t
	l.guest.mu.Unlock()
	return (&url.URL{Scheme: "https", Host: l.serverURL.Host, Path: "/guestFile",
		RawQuery: url.Values{"id": {id}, "token": {randomHex(8)}}.Encode()}).String()
}

// serveGuestFile serves the URLs handed out by the GuestFileManager: PUT for
// uploads, GET for downloads. Each URL can be used once.
func (l *Lab) serveGuestFile(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	g := &l.guest
	g.mu.Lock()
	t := g.transfers[id]
	delete(g.transfers, id)
	g.mu.Unlock()
	if t == nil {
		http.Error(w, "unknown or used transfer id", http.StatusNotFound)
		return
	}
	switch {
	case t.upload && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		e, err := l.storeGuestFile(t.vm, t.vmRef, t.guestPath, r.Body, t.size, t.attrs)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		attrs := e.Attrs
		call := guestCall{Kind: "upload", VM: t.vm, VMRef: t.vmRef, User: t.user, Time: time.Now(),
			GuestFilePath: t.guestPath, Size: e.Size, Sha256: e.Sha256, Content: e.Content, Overwrite: t.overwrite, Attributes: &attrs}
		g.mu.Lock()
		g.calls = append(g.calls, call)
		g.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case !t.upload && r.Method == http.MethodGet:
		e := l.guest.file(types.ManagedObjectReference{Type: "VirtualMachine", Value: t.vmRef}, t.guestPath)
		g.mu.Lock()
		g.calls = append(g.calls, guestCall{Kind: "download", VM: t.vm, VMRef: t.vmRef, User: t.user, Time: time.Now(), GuestFilePath: t.guestPath})
		g.mu.Unlock()
		if e == nil {
			http.Error(w, "the file is gone", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, e.local)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// storeGuestFile writes a file into a guest (clean path): the content is kept
// below <dataDir>/guest/<vm>; missing parent folders are created (not "made").
// size >= 0 must match the content's length, as the PUT announced it.
func (l *Lab) storeGuestFile(vmName, vmRef, clean string, body io.Reader, size int64, attrs guestAttrs) (*guestEntry, error) {
	dir := l.labPath("guest", vmName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(body, 256<<20))
	if err != nil {
		return nil, err
	}
	if size >= 0 && int64(len(data)) != size {
		return nil, fmt.Errorf("received %d bytes, but InitiateFileTransferToGuest announced fileSize %d", len(data), size)
	}
	local := filepath.Join(dir, fmt.Sprintf("%d-%s", time.Now().UnixNano(), sanitize(clean)))
	if err := os.WriteFile(local, data, 0o644); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	now := time.Now().UTC()
	if attrs.ModificationTime == nil {
		attrs.ModificationTime = &now
	}
	if attrs.AccessTime == nil {
		attrs.AccessTime = &now
	}
	e := &guestEntry{Path: clean, Type: "file", Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:]), Attrs: attrs, local: local}
	if len(data) <= 64<<10 && utf8.Valid(data) {
		e.Content = string(data)
	}
	g := &l.guest
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.fs[vmRef]
	if t == nil {
		return nil, fmt.Errorf("no guest file system for %s", vmRef)
	}
	if p := t.parent(clean); p != "" {
		if f := t.mkdirAll(p, false); f != nil {
			_ = os.Remove(local)
			return nil, fmt.Errorf("a file is in the way of the folder %s", p)
		}
	}
	if old := t.get(clean); old != nil && old.Type == "directory" {
		_ = os.Remove(local)
		return nil, fmt.Errorf("%s is a directory", clean)
	} else {
		removeLocal(old)
	}
	t.put(e)
	c := *e
	return &c, nil
}

func sanitize(p string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 {
			return '_'
		}
		return r
	}, p)
}

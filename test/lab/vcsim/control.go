package main

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Test control over HTTPS under /lab/ (JSON). Every request must carry the
// header "x-lab-token: <controlToken>" from the lab's JSON line: these endpoints
// exist only in the lab binary and only the test that started it can use them.
//
//	GET    /lab/vms                  name -> moref, datastore folder, disk files and chains
//	POST   /lab/disk?vm=&disk=&offset=  body: bytes the guest writes to the disk (disk = index)
//	GET    /lab/faults, POST /lab/faults (faultRule), DELETE /lab/faults
//	GET    /lab/guest/calls, POST /lab/guest/program (guestRule), DELETE /lab/guest
//	GET    /lab/guest/files?vm=   the guest's files and folders; POST (&path=[&type=directory]) places one; DELETE resets (guestfs.go)
//	POST   /lab/sessions/expire      terminate every SOAP session
//	POST   /lab/ui-session           {"username","password"} -> {"sessionToken"}
func (l *Lab) serveControl(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("x-lab-token")), []byte(l.controlToken)) != 1 {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing or wrong x-lab-token"})
		return
	}
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /lab/vms":
		writeJSON(w, http.StatusOK, l.vmList())
	case "POST /lab/disk":
		l.writeDisk(w, r)
	case "GET /lab/faults":
		writeJSON(w, http.StatusOK, l.faults.list())
	case "POST /lab/faults":
		var rule faultRule
		if !readJSON(w, r, &rule) {
			return
		}
		if rule.Method == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "method is required"})
			return
		}
		writeJSON(w, http.StatusOK, l.faults.add(rule))
	case "DELETE /lab/faults":
		l.faults.clear()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "GET /lab/guest/calls":
		writeJSON(w, http.StatusOK, l.guest.recorded())
	case "POST /lab/guest/program":
		var rule guestRule
		if !readJSON(w, r, &rule) {
			return
		}
		l.guest.addRule(rule)
		writeJSON(w, http.StatusOK, rule)
	case "GET /lab/guest/files", "POST /lab/guest/files", "DELETE /lab/guest/files":
		l.serveGuestFiles(w, r)
	case "DELETE /lab/guest":
		l.guest.reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case "POST /lab/sessions/expire":
		writeJSON(w, http.StatusOK, map[string]int{"expired": l.sessions.expireAll()})
	case "POST /lab/ui-session":
		var req struct{ Username, Password string }
		if !readJSON(w, r, &req) {
			return
		}
		token, err := l.ui.login(l, req.Username, req.Password)
		if err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"sessionToken": token})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such lab endpoint: " + route})
	}
}

// vmInfo is one entry of GET /lab/vms.
type vmInfo struct {
	Moref        string     `json:"moref"`
	Datastore    string     `json:"datastore"`
	Dir          string     `json:"dir"`          // folder inside the datastore
	DatastoreDir string     `json:"datastoreDir"` // local directory of the VM's folder
	VmxPath      string     `json:"vmxPath"`      // "[prod-ds1] win-app01/win-app01.vmx"
	PowerState   string     `json:"powerState"`
	ToolsRunning bool       `json:"toolsRunning"`
	GuestID      string     `json:"guestId"`
	Disks        []diskInfo `json:"disks"`
}

type diskInfo struct {
	Key            int32  `json:"key"`
	FileName       string `json:"fileName"`
	DescriptorPath string `json:"descriptorPath"`
	FlatPath       string `json:"flatPath"`
	CapacityBytes  int64  `json:"capacityBytes"`
	ChangeID       string `json:"changeId,omitempty"`
	// The disk's chain, current file first; the last entry is the flat file.
	// While snapshots exist the flat file is frozen and guest writes go to the top delta.
	Chain           []chainInfo `json:"chain"`
	CurrentFileName string      `json:"currentFileName"`
	// A disk of another VM hot-added to this one (hotadd.go): flatPath is the
	// data file of that disk's current top, the device the helper opens.
	AttachedFrom *attachedFrom `json:"attachedFrom,omitempty"`
}

type attachedFrom struct {
	VM       string `json:"vm"`
	DiskKey  int32  `json:"diskKey"`
	FileName string `json:"fileName"` // the owner's disk as named in its config
}

func (l *Lab) vmList() map[string]vmInfo {
	l.adoptAll()
	l.mu.Lock()
	recs := make([]*labVM, 0, len(l.vms))
	for _, v := range l.vms {
		if l.live(v) != nil { // skip (and forget) destroyed VMs
			recs = append(recs, v)
		}
	}
	l.mu.Unlock()
	out := map[string]vmInfo{}
	for _, v := range recs {
		info := vmInfo{Moref: v.Ref.Value, Datastore: v.Datastore, Dir: v.Dir,
			DatastoreDir: filepath.Join(l.labPath("datastores", v.Datastore), v.Dir)}
		vm := simVM(v.Ref)
		if vm == nil { // destroyed since
			continue
		}
		simulator.Map.WithLock(vm, func() {
			info.VmxPath = vm.Config.Files.VmPathName
			info.PowerState = string(vm.Runtime.PowerState)
			info.ToolsRunning = toolsRunning(vm)
			info.GuestID = vm.Config.GuestId
			for _, d := range v.Disks {
				di := diskInfo{Key: d.Key, FileName: d.FileName, DescriptorPath: d.DescriptorPath, FlatPath: d.FlatPath, CapacityBytes: d.Capacity,
					Chain: d.chain(), CurrentFileName: d.current.name}
				if d.cbt != nil {
					di.ChangeID = d.cbt.changeID(d.cbt.seq)
				}
				info.Disks = append(info.Disks, di)
			}
			info.Disks = append(info.Disks, l.attachedDiskInfos(vm)...)
		})
		out[v.Name] = info
	}
	return out
}

// writeDisk writes the request body into a VM disk at an offset as the guest
// OS would: into the flat file, or while snapshots exist into the top delta
// (holding the VM's lock so snapshots and CBT epochs see whole writes).
func (l *Lab) writeDisk(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := l.vmByName(q.Get("vm"))
	if v == nil {
		l.adoptAll()
		v = l.vmByName(q.Get("vm"))
	}
	idx, err1 := strconv.Atoi(q.Get("disk"))
	off, err2 := strconv.ParseInt(q.Get("offset"), 10, 64)
	if v == nil || err1 != nil || err2 != nil || idx < 0 || idx >= len(v.Disks) || off < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "need vm, disk (index) and offset of an existing disk"})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<30))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	d := v.Disks[idx]
	if off+int64(len(data)) > d.Capacity {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "write beyond the end of the disk"})
		return
	}
	vm := simVM(v.Ref)
	if vm == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "the VM no longer exists"})
		return
	}
	var werr error
	simulator.Map.WithLock(vm, func() {
		werr = d.guestWrite(off, data)
	})
	if werr != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": werr.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"written": len(data)})
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(w http.ResponseWriter, r *http.Request, v interface{}) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return false
	}
	return true
}

// The vSphere Client stand-in for remote plugins.
//
// vSphere: the vSphere Client gives a plugin iframe a session token
// (htmlClientSdk.app.getSessionInfo); the plugin's backend POSTs it to
// /api/ui/vcenter/session/clone-ticket (header vmware-api-session-id, body
// {"vc_guid"}) and gets {"session_clone_ticket"}, a one-time ticket for
// SessionManager.CloneSession. Lab: POST /lab/ui-session logs in to the lab's
// own /sdk as that user (the administrator or the restricted user, see
// permissions.go) and returns a token for the vSphere Client's session; the
// clone-ticket endpoint calls AcquireCloneTicket on that session, so the
// cloned session belongs to the same user and has the same permissions.
const cloneTicketPath = "/api/ui/vcenter/session/clone-ticket"

type uiSessions struct {
	mu     sync.Mutex
	tokens map[string]*vim25.Client
}

func (u *uiSessions) login(l *Lab, user, pass string) (string, error) {
	if (user != l.opts.username || pass != l.opts.password) && (user != l.opts.restrictedUser || pass != l.opts.restrictedPass) {
		return "", fmt.Errorf("Cannot complete login due to an incorrect user name or password.")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sdk, _ := url.Parse("https://" + l.serverURL.Host + "/sdk")
	sc := soap.NewClient(sdk, false)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(l.certPEM))
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return "", err
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(user, pass)); err != nil {
		return "", err
	}
	token := randomHex(20)
	u.mu.Lock()
	if u.tokens == nil {
		u.tokens = map[string]*vim25.Client{}
	}
	u.tokens[token] = c
	u.mu.Unlock()
	return token, nil
}

func (u *uiSessions) logoutAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.tokens {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = session.NewManager(c).Logout(ctx)
		cancel()
	}
	u.tokens = nil
}

func (l *Lab) serveCloneTicket(w http.ResponseWriter, r *http.Request) {
	unauth := func(msg string) {
		writeJSON(w, http.StatusUnauthorized, map[string]interface{}{"error_type": "UNAUTHENTICATED",
			"messages": []map[string]string{{"id": "vapi.security.authentication.invalid", "default_message": msg}}})
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error_type": "OPERATION_NOT_FOUND"})
		return
	}
	token := r.Header.Get("vmware-api-session-id")
	l.ui.mu.Lock()
	c := l.ui.tokens[token]
	l.ui.mu.Unlock()
	if token == "" || c == nil {
		unauth("Unable to authenticate user")
		return
	}
	var req struct {
		VcGUID string `json:"vc_guid"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req)
	if req.VcGUID != "" && req.VcGUID != c.ServiceContent.About.InstanceUuid {
		writeJSON(w, http.StatusNotFound, map[string]interface{}{"error_type": "NOT_FOUND",
			"messages": []map[string]string{{"id": "vcenter.not.found", "default_message": "No vCenter Server with GUID " + req.VcGUID}}})
		return
	}
	res, err := methods.AcquireCloneTicket(r.Context(), c, &types.AcquireCloneTicket{This: *c.ServiceContent.SessionManager})
	if err != nil {
		unauth("The session of the token is no longer valid: " + err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"session_clone_ticket": res.Returnval})
}

// Command smoke drives a running lab vCenter through govmomi (the SOAP API) and
// checks the behaviour the lab adds to vcsim. It reads the lab's JSON ready line
// on stdin and exits non-zero on the first failed check.
//
//	go build -o smoke ./smoke && ./bin/vcsim-lab | ./smoke   (test/lab-tests/lab.test.ts runs it)
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type ready struct {
	URL, CertPem, Username, Password, ControlToken, GuestUsername, GuestPassword, VcGuid string
}

var (
	ctx  = context.Background()
	lab  ready
	hc   *http.Client
	pool = x509.NewCertPool()
)

func check(cond bool, format string, a ...interface{}) {
	if !cond {
		fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", a...)
		os.Exit(1)
	}
}

func must(err error, what string) {
	check(err == nil, "%s: %v", what, err)
}

// faultOf returns the vim25 fault type name of an error ("" if none).
func faultOf(err error) string {
	if err == nil {
		return ""
	}
	if soap.IsSoapFault(err) {
		return reflect.TypeOf(soap.ToSoapFault(err).VimFault()).Name()
	}
	if soap.IsVimFault(err) {
		return reflect.TypeOf(soap.ToVimFault(err)).Elem().Name()
	}
	if te, ok := err.(task.Error); ok {
		return reflect.TypeOf(te.Fault()).Elem().Name()
	}
	return fmt.Sprintf("%T:%v", err, err)
}

func control(method, path string, body interface{}, out interface{}) int {
	var rd io.Reader
	if b, ok := body.([]byte); ok {
		rd = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := strings.TrimSuffix(lab.URL, "/sdk") + path
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("x-lab-token", lab.ControlToken)
	res, err := hc.Do(req)
	must(err, method+" "+path)
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

func connect() *vim25.Client {
	u, _ := url.Parse(lab.URL)
	sc := soap.NewClient(u, false)
	sc.DefaultTransport().TLSClientConfig.RootCAs = pool
	c, err := vim25.NewClient(ctx, sc)
	must(err, "connect")
	return c
}

func login() *vim25.Client {
	c := connect()
	must(session.NewManager(c).Login(ctx, url.UserPassword(lab.Username, lab.Password)), "login")
	return c
}

func main() {
	line, err := bufio.NewReader(os.Stdin).ReadBytes('\n')
	must(err, "read ready line")
	must(json.Unmarshal(line, &lab), "parse ready line")
	pool.AppendCertsFromPEM([]byte(lab.CertPem))
	hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	// Wrong password → InvalidLogin; no session → NotAuthenticated even for RetrievePropertiesEx.
	err = session.NewManager(connect()).Login(ctx, url.UserPassword(lab.Username, "wrong"))
	check(faultOf(err) == "InvalidLogin", "bad password: %v", err)
	anon := connect()
	var folder mo.Folder
	err = property.DefaultCollector(anon).RetrieveOne(ctx, anon.ServiceContent.RootFolder, []string{"name"}, &folder)
	check(faultOf(err) == "NotAuthenticated", "anonymous RetrievePropertiesEx: %v", err)

	c := login()
	finder := find.NewFinder(c, true)
	dc, err := finder.Datacenter(ctx, "Lab-DC")
	must(err, "datacenter Lab-DC")
	finder.SetDatacenter(dc)
	for _, p := range []string{"/Lab-DC/host/Production", "/Lab-DC/host/DR"} {
		_, err := finder.ClusterComputeResource(ctx, p)
		must(err, p)
	}
	hosts, _ := finder.HostSystemList(ctx, "/Lab-DC/host/Production/*")
	check(len(hosts) == 2, "production hosts: %d", len(hosts))
	for _, ds := range []string{"prod-ds1", "prod-ds2", "dr-ds1"} {
		_, err := finder.Datastore(ctx, ds)
		must(err, "datastore "+ds)
	}
	dss, err := finder.DatastoreList(ctx, "*")
	check(err == nil && len(dss) == 3, "datastores listed once each: %d %v", len(dss), err)
	var mds mo.Datastore
	must(dss[0].Properties(ctx, dss[0].Reference(), []string{"host", "summary"}, &mds), "datastore props")
	check(!strings.Contains(mds.Self.Value, "/"), "datastore moref %s", mds.Self.Value)
	if mds.Summary.Name != "dr-ds1" {
		check(len(mds.Host) == 2, "%s mounted by both production hosts: %d", mds.Summary.Name, len(mds.Host))
	}
	// Paged RetrievePropertiesEx.
	pcRef := c.ServiceContent.PropertyCollector
	vmSpec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: c.ServiceContent.RootFolder, Skip: types.NewBool(true), SelectSet: []types.BaseSelectionSpec{
			&types.TraversalSpec{Type: "Folder", Path: "childEntity", SelectSet: []types.BaseSelectionSpec{&types.SelectionSpec{Name: "dc"}}, SelectionSpec: types.SelectionSpec{Name: "folder"}},
			&types.TraversalSpec{Type: "Datacenter", Path: "vmFolder", SelectSet: []types.BaseSelectionSpec{&types.SelectionSpec{Name: "folder"}}, SelectionSpec: types.SelectionSpec{Name: "dc"}},
		}}},
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
	}
	rp, err := methods.RetrievePropertiesEx(ctx, c, &types.RetrievePropertiesEx{This: pcRef, SpecSet: []types.PropertyFilterSpec{vmSpec}, Options: types.RetrieveOptions{MaxObjects: 3}})
	must(err, "RetrievePropertiesEx paged")
	check(rp.Returnval != nil && len(rp.Returnval.Objects) == 3 && rp.Returnval.Token != "", "first page of 3 with a token")
	cp, err := methods.ContinueRetrievePropertiesEx(ctx, c, &types.ContinueRetrievePropertiesEx{This: pcRef, Token: rp.Returnval.Token})
	must(err, "ContinueRetrievePropertiesEx")
	check(len(cp.Returnval.Objects) == 1 && cp.Returnval.Token == "", "last page of 1: %d %q", len(cp.Returnval.Objects), cp.Returnval.Token)
	_, err = methods.ContinueRetrievePropertiesEx(ctx, c, &types.ContinueRetrievePropertiesEx{This: pcRef, Token: rp.Returnval.Token})
	check(faultOf(err) == "InvalidArgument", "used-up token: %v", err)

	vm := func(name string) *object.VirtualMachine {
		v, err := finder.VirtualMachine(ctx, name)
		must(err, "vm "+name)
		return v
	}
	win, lin, off, notools := vm("win-app01"), vm("linux-db01"), vm("web-off01"), vm("app-notools01")
	props := func(v *object.VirtualMachine, ps ...string) mo.VirtualMachine {
		var m mo.VirtualMachine
		must(v.Properties(ctx, v.Reference(), ps, &m), "properties")
		return m
	}
	m := props(win, "config", "guest", "runtime")
	check(m.Guest.ToolsRunningStatus == "guestToolsRunning", "win tools: %s", m.Guest.ToolsRunningStatus)
	check(strings.HasPrefix(m.Config.GuestId, "windows"), "guest id %s", m.Config.GuestId)
	disks := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	check(len(disks) == 1, "win disks %d", len(disks))
	disk := disks[0].(*types.VirtualDisk)
	backing := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	check(backing.FileName == "[prod-ds1] win-app01/win-app01.vmdk" && disk.Key == 2000, "disk %s key %d", backing.FileName, disk.Key)
	check(m.Runtime.ConsolidationNeeded != nil && !*m.Runtime.ConsolidationNeeded, "consolidationNeeded initially false")
	check(props(notools, "guest").Guest.ToolsRunningStatus == "guestToolsNotRunning", "notools VM")

	// Datastore HTTP: 401 without a session, with the session cookie or a generic service ticket it works.
	base := strings.TrimSuffix(lab.URL, "/sdk")
	dsGet := func(p string) (*http.Response, error) { // with the SOAP session's cookie
		return c.Client.Client.Get(base + "/folder/" + p + "?dcPath=Lab-DC&dsName=prod-ds1")
	}
	res, err := hc.Get(base + "/folder/win-app01/win-app01.vmdk?dcPath=Lab-DC&dsName=prod-ds1")
	must(err, "GET descriptor without session")
	res.Body.Close()
	check(res.StatusCode == 401, "datastore GET without session: %d", res.StatusCode)
	st, err := methods.AcquireGenericServiceTicket(ctx, c, &types.AcquireGenericServiceTicket{This: *c.ServiceContent.SessionManager,
		Spec: &types.SessionManagerHttpServiceRequestSpec{Method: "httpGet", Url: base + "/folder/win-app01/win-app01.vmdk?dcPath=Lab-DC&dsName=prod-ds1"}})
	must(err, "AcquireGenericServiceTicket")
	req0, _ := http.NewRequest("GET", base+"/folder/win-app01/win-app01.vmdk?dcPath=Lab-DC&dsName=prod-ds1", nil)
	req0.AddCookie(&http.Cookie{Name: "vmware_cgi_ticket", Value: st.Returnval.Id})
	res, err = hc.Do(req0)
	must(err, "GET descriptor with ticket")
	res.Body.Close()
	check(res.StatusCode == 200, "datastore GET with service ticket: %d", res.StatusCode)
	res, err = dsGet("win-app01/win-app01.vmdk")
	must(err, "GET descriptor")
	desc, _ := io.ReadAll(res.Body)
	res.Body.Close()
	check(res.StatusCode == 200 && strings.Contains(string(desc), fmt.Sprintf(`RW %d VMFS "win-app01-flat.vmdk"`, disk.CapacityInBytes/512)), "descriptor: %d %s", res.StatusCode, desc)

	// --- CBT ---
	snap := func(v *object.VirtualMachine, name string, quiesce bool) types.ManagedObjectReference {
		t, err := v.CreateSnapshot(ctx, name, "smoke", false, quiesce)
		must(err, "CreateSnapshot")
		info, err := t.WaitForResult(ctx, nil)
		must(err, "CreateSnapshot task")
		return info.Result.(types.ManagedObjectReference)
	}
	qcda := func(s types.ManagedObjectReference, start int64, changeID string) (types.DiskChangeInfo, error) {
		r, err := methods.QueryChangedDiskAreas(ctx, c, &types.QueryChangedDiskAreas{This: win.Reference(), Snapshot: &s, DeviceKey: 2000, StartOffset: start, ChangeId: changeID})
		if err != nil {
			return types.DiskChangeInfo{}, err
		}
		return r.Returnval, nil
	}
	s0 := snap(win, "before-cbt", false)
	_, err = qcda(s0, 0, "*")
	check(faultOf(err) == "FileFault", "QCDA without CBT: %v", err)
	t, err := win.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: types.NewBool(true)})
	must(err, "reconfigure")
	must(t.Wait(ctx), "reconfigure task")
	check(*props(win, "config").Config.ChangeTrackingEnabled, "changeTrackingEnabled")

	s1 := snap(win, "full", true)
	var sm mo.VirtualMachineSnapshot
	must(property.DefaultCollector(c).RetrieveOne(ctx, s1, []string{"config"}, &sm), "snapshot config")
	id1 := object.VirtualDeviceList(sm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId
	check(strings.Contains(id1, "/"), "changeId %q", id1)
	var allocated int64
	for off := int64(0); off < disk.CapacityInBytes; {
		info, err := qcda(s1, off, "*")
		must(err, "QCDA *")
		for _, a := range info.ChangedArea {
			allocated += a.Length
		}
		check(info.Length > 0, "page length")
		off = info.StartOffset + info.Length
	}
	check(allocated > 4<<20 && allocated < disk.CapacityInBytes, "allocated %d", allocated)

	payload := bytes.Repeat([]byte("guest write "), 100*1024/12)
	check(control("POST", "/lab/disk?vm=win-app01&disk=0&offset="+fmt.Sprint(10<<20+1000), payload, nil) == 200, "writeDisk")
	s2 := snap(win, "incr", false)
	info, err := qcda(s2, 0, id1)
	must(err, "QCDA incremental")
	check(len(info.ChangedArea) == 1 && info.ChangedArea[0].Start == 10<<20 && info.ChangedArea[0].Length == 2*64*1024,
		"incremental areas %+v", info.ChangedArea)
	_, err = qcda(s2, 0, "52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/1")
	check(faultOf(err) == "InvalidArgument", "bad changeId: %v", err)
	_, err = qcda(s2, disk.CapacityInBytes, "*")
	check(faultOf(err) == "InvalidArgument", "offset past end: %v", err)

	// --- quiescing ---
	var vmm mo.VirtualMachine
	must(win.Properties(ctx, win.Reference(), []string{"snapshot"}, &vmm), "snapshot tree")
	var quiescedFull *types.VirtualMachineSnapshotTree
	var walk func([]types.VirtualMachineSnapshotTree)
	walk = func(tree []types.VirtualMachineSnapshotTree) {
		for i := range tree {
			if tree[i].Snapshot == s1 {
				quiescedFull = &tree[i]
			}
			walk(tree[i].ChildSnapshotList)
		}
	}
	walk(vmm.Snapshot.RootSnapshotList)
	check(quiescedFull != nil && quiescedFull.Quiesced && quiescedFull.BackupManifest == "vss-manifest.zip", "quiesced tree item %+v", quiescedFull)
	zipFiles := func() []string {
		res, err := dsGet("win-app01/vss-manifest.zip")
		must(err, "GET vss-manifest.zip")
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		must(err, "zip")
		var names []string
		for _, f := range z.File {
			names = append(names, f.Name)
		}
		return names
	}
	check(len(zipFiles()) > 1, "writer manifests: %v", zipFiles())
	control("POST", "/lab/faults", map[string]interface{}{"method": "CreateSnapshot_Task", "fault": "NoWriterManifests", "vm": "win-app01"}, nil)
	snap(win, "fs-only", true)
	check(reflect.DeepEqual(zipFiles(), []string{"backupComponents.xml"}), "no writer manifests: %v", zipFiles())
	treeQuiesced := func(v *object.VirtualMachine, s types.ManagedObjectReference) bool {
		var m mo.VirtualMachine
		must(v.Properties(ctx, v.Reference(), []string{"snapshot"}, &m), "tree")
		for _, it := range m.Snapshot.RootSnapshotList {
			if it.Snapshot == s {
				return it.Quiesced
			}
		}
		return true
	}
	check(!treeQuiesced(off, snap(off, "off", true)), "powered-off VM: quiesce must be ignored")
	check(!treeQuiesced(notools, snap(notools, "notools", true)), "no tools: quiesce must be ignored")

	// CreateSnapshotEx_Task with a Windows quiesce spec.
	ex, err := methods.CreateSnapshotEx_Task(ctx, c, &types.CreateSnapshotEx_Task{This: win.Reference(), Name: "ex",
		QuiesceSpec: &types.VirtualMachineWindowsQuiesceSpec{VssBackupType: 1, VssBackupContext: "ctx_backup"}})
	must(err, "CreateSnapshotEx_Task")
	_, err = object.NewTask(c, ex.Returnval).WaitForResult(ctx, nil)
	must(err, "CreateSnapshotEx task")

	// Injected quiesce fault fails the task.
	control("POST", "/lab/faults", map[string]interface{}{"method": "CreateSnapshot_Task", "fault": "ApplicationQuiesceFault", "vm": "linux-db01"}, nil)
	t, _ = lin.CreateSnapshot(ctx, "q", "", false, true)
	_, err = t.WaitForResult(ctx, nil)
	check(faultOf(err) == "ApplicationQuiesceFault", "quiesce fault: %v", err)

	// Consolidation left needed after remove, then consolidated.
	control("POST", "/lab/faults", map[string]interface{}{"method": "RemoveSnapshot_Task", "fault": "LeaveConsolidationNeeded"}, nil)
	rt, err := methods.RemoveSnapshot_Task(ctx, c, &types.RemoveSnapshot_Task{This: s2, Consolidate: types.NewBool(true)})
	must(err, "RemoveSnapshot_Task")
	must(object.NewTask(c, rt.Returnval).Wait(ctx), "remove task")
	check(*props(win, "runtime").Runtime.ConsolidationNeeded, "consolidationNeeded after faulted remove")
	ct, err := methods.ConsolidateVMDisks_Task(ctx, c, &types.ConsolidateVMDisks_Task{This: win.Reference()})
	must(err, "ConsolidateVMDisks_Task")
	must(object.NewTask(c, ct.Returnval).Wait(ctx), "consolidate task")
	check(!*props(win, "runtime").Runtime.ConsolidationNeeded, "consolidationNeeded after consolidate")
	_, err = qcda(s1, 0, id1) // the older snapshot still answers
	must(err, "QCDA after removing a later snapshot")

	// --- snapshot disk chains: frozen base, deltas, merge on removal, revert ---
	curBacking := func() *types.VirtualDiskFlatVer2BackingInfo {
		d := object.VirtualDeviceList(props(win, "config").Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0]
		return d.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	}
	b := curBacking()
	check(strings.HasPrefix(b.FileName, "[prod-ds1] win-app01/win-app01-0000") && b.Parent != nil, "VM runs on a delta while snapshots exist: %s", b.FileName)
	var root *types.VirtualDiskFlatVer2BackingInfo
	for root = b; root.Parent != nil; root = root.Parent {
	}
	check(root.FileName == "[prod-ds1] win-app01/win-app01.vmdk", "chain ends in the base disk: %s", root.FileName)
	readBase := func(off, n int64) []byte {
		req, _ := http.NewRequest("GET", base+"/folder/win-app01/win-app01-flat.vmdk?dcPath=Lab-DC&dsName=prod-ds1", nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
		res, err := c.Client.Client.Do(req)
		must(err, "ranged GET")
		defer res.Body.Close()
		check(res.StatusCode == 206, "ranged GET status %d", res.StatusCode)
		data, _ := io.ReadAll(res.Body)
		return data
	}
	check(!bytes.Equal(readBase(10<<20+1000, 12), payload[:12]), "base disk frozen while snapshots exist")
	sr := snap(win, "revert-point", false)
	check(control("POST", "/lab/disk?vm=win-app01&disk=0&offset="+fmt.Sprint(20<<20), []byte("discard me"), nil) == 200, "writeDisk 2")
	rv, err := methods.RevertToSnapshot_Task(ctx, c, &types.RevertToSnapshot_Task{This: sr})
	must(err, "RevertToSnapshot_Task")
	must(object.NewTask(c, rv.Returnval).Wait(ctx), "revert task")
	check(props(win, "runtime").Runtime.PowerState == "poweredOff", "reverting to a snapshot without memory powers the VM off")
	pt0, err := win.PowerOn(ctx)
	must(err, "power on after revert")
	must(pt0.Wait(ctx), "power on task")
	ra, err := methods.RemoveAllSnapshots_Task(ctx, c, &types.RemoveAllSnapshots_Task{This: win.Reference()})
	must(err, "RemoveAllSnapshots_Task")
	must(object.NewTask(c, ra.Returnval).Wait(ctx), "remove all task")
	b = curBacking()
	check(b.FileName == "[prod-ds1] win-app01/win-app01.vmdk" && b.Parent == nil, "back on the base disk: %s", b.FileName)
	check(bytes.Equal(readBase(10<<20+1000, 12), payload[:12]), "guest write merged into the base disk")
	check(!bytes.Equal(readBase(20<<20, 10), []byte("discard me")), "write after the revert point discarded")
	res, err = dsGet("win-app01/win-app01-000001-delta.vmdk")
	must(err, "GET delta")
	res.Body.Close()
	check(res.StatusCode == 404, "delta files deleted after consolidation: %d", res.StatusCode)

	// --- guest operations ---
	gom := c.ServiceContent.GuestOperationsManager
	var g mo.GuestOperationsManager
	must(property.DefaultCollector(c).RetrieveOne(ctx, *gom, nil, &g), "guest ops manager")
	auth := &types.NamePasswordAuthentication{Username: lab.GuestUsername, Password: lab.GuestPassword}
	start := func(v *object.VirtualMachine, a types.BaseGuestAuthentication, prog string) (int64, error) {
		r, err := methods.StartProgramInGuest(ctx, c, &types.StartProgramInGuest{This: *g.ProcessManager, Vm: v.Reference(), Auth: a,
			Spec: &types.GuestProgramSpec{ProgramPath: prog, Arguments: "--freeze"}})
		if err != nil {
			return 0, err
		}
		return r.Returnval, nil
	}
	_, err = start(lin, &types.NamePasswordAuthentication{Username: "root", Password: "nope"}, "/bin/true")
	check(faultOf(err) == "InvalidGuestLogin", "bad guest login: %v", err)
	_, err = start(notools, auth, "/bin/true")
	check(faultOf(err) == "GuestOperationsUnavailable", "tools not running: %v", err)
	control("POST", "/lab/guest/program", map[string]interface{}{"vm": "linux-db01", "match": "pre-freeze", "exitCode": 3, "delayMs": 300}, nil)
	pid, err := start(lin, auth, "/usr/local/bin/pre-freeze.sh")
	must(err, "StartProgramInGuest")
	list := func() types.GuestProcessInfo {
		r, err := methods.ListProcessesInGuest(ctx, c, &types.ListProcessesInGuest{This: *g.ProcessManager, Vm: lin.Reference(), Auth: auth, Pids: []int64{pid}})
		must(err, "ListProcessesInGuest")
		check(len(r.Returnval) == 1, "one process")
		return r.Returnval[0]
	}
	check(list().EndTime == nil, "process still running")
	time.Sleep(400 * time.Millisecond)
	p := list()
	check(p.EndTime != nil && p.ExitCode == 3, "process ended with 3: %+v", p)
	up, err := methods.InitiateFileTransferToGuest(ctx, c, &types.InitiateFileTransferToGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth,
		GuestFilePath: "/tmp/freeze.sh", FileAttributes: &types.GuestPosixFileAttributes{}, FileSize: 12, Overwrite: true})
	must(err, "InitiateFileTransferToGuest")
	req, _ := http.NewRequest("PUT", up.Returnval, strings.NewReader("#!/bin/sh\nx\n"))
	res, err = hc.Do(req)
	must(err, "PUT guest file")
	res.Body.Close()
	check(res.StatusCode == 200, "PUT guest file status %d", res.StatusCode)
	var calls []map[string]interface{}
	control("GET", "/lab/guest/calls", nil, &calls)
	check(len(calls) == 2 && calls[1]["content"] == "#!/bin/sh\nx\n" && calls[0]["programPath"] == "/usr/local/bin/pre-freeze.sh", "guest calls %v", calls)
	// Guest files: an existing file without overwrite, folders, listings.
	_, err = methods.InitiateFileTransferToGuest(ctx, c, &types.InitiateFileTransferToGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth,
		GuestFilePath: "/tmp/freeze.sh", FileAttributes: &types.GuestPosixFileAttributes{}, FileSize: 1})
	check(faultOf(err) == "FileAlreadyExists", "existing guest file without overwrite: %v", err)
	_, err = methods.MakeDirectoryInGuest(ctx, c, &types.MakeDirectoryInGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth, DirectoryPath: "/srv/a/b"})
	check(faultOf(err) == "FileNotFound", "mkdir without its parent: %v", err)
	_, err = methods.MakeDirectoryInGuest(ctx, c, &types.MakeDirectoryInGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth, DirectoryPath: "/srv/a/b", CreateParentDirectories: true})
	must(err, "MakeDirectoryInGuest")
	ls, err := methods.ListFilesInGuest(ctx, c, &types.ListFilesInGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth, FilePath: "/srv/a"})
	must(err, "ListFilesInGuest")
	check(len(ls.Returnval.Files) == 3 && ls.Returnval.Files[2].Path == "b" && ls.Returnval.Files[2].Type == "directory", "listing of /srv/a: %+v", ls.Returnval.Files)
	_, err = methods.ListFilesInGuest(ctx, c, &types.ListFilesInGuest{This: *g.FileManager, Vm: lin.Reference(), Auth: auth, FilePath: "/srv/none"})
	check(faultOf(err) == "FileNotFound", "listing a missing folder: %v", err)

	// --- extensions and tasks ---
	em := object.NewExtensionManager(c)
	ext := types.Extension{Key: "com.stillpoint.smoke", Version: "1.0.0", Description: &types.Description{Label: "Smoke", Summary: "smoke"},
		TaskList: []types.ExtensionTaskTypeInfo{{TaskID: "com.stillpoint.smoke.backup"}}}
	must(em.Register(ctx, ext), "RegisterExtension")
	check(faultOf(em.Register(ctx, ext)) == "InvalidArgument", "duplicate register")
	found, err := em.Find(ctx, ext.Key)
	check(err == nil && found != nil && found.Version == "1.0.0", "FindExtension %v %v", found, err)
	var mem mo.ExtensionManager
	must(property.DefaultCollector(c).RetrieveOne(ctx, *c.ServiceContent.ExtensionManager, []string{"extensionList"}, &mem), "extensionList")
	check(len(mem.ExtensionList) == 1 && mem.ExtensionList[0].Key == ext.Key, "extensionList %+v", mem.ExtensionList)
	ext.Version = "1.1.0"
	must(em.Update(ctx, ext), "UpdateExtension")
	check(faultOf(em.Update(ctx, types.Extension{Key: "nope", Description: &types.Description{}})) == "NotFound", "update unknown")
	tm := *c.ServiceContent.TaskManager
	_, err = methods.CreateTask(ctx, c, &types.CreateTask{This: tm, Obj: win.Reference(), TaskTypeId: "com.example.undeclared"})
	check(faultOf(err) == "InvalidArgument", "undeclared task type: %v", err)
	ctr, err := methods.CreateTask(ctx, c, &types.CreateTask{This: tm, Obj: win.Reference(), TaskTypeId: "com.stillpoint.smoke.backup", InitiatedBy: "Stillpoint", Cancelable: true})
	must(err, "CreateTask")
	task := ctr.Returnval.Task
	_, err = methods.UpdateProgress(ctx, c, &types.UpdateProgress{This: task, PercentDone: 10})
	check(faultOf(err) == "InvalidState", "progress before running: %v", err)
	_, err = methods.SetTaskState(ctx, c, &types.SetTaskState{This: task, State: types.TaskInfoStateRunning})
	must(err, "SetTaskState running")
	_, err = methods.UpdateProgress(ctx, c, &types.UpdateProgress{This: task, PercentDone: 42})
	must(err, "UpdateProgress")
	_, err = methods.SetTaskDescription(ctx, c, &types.SetTaskDescription{This: task, Description: types.LocalizableMessage{Key: "k", Message: "Copying disk 1 of 1"}})
	must(err, "SetTaskDescription")
	var mt mo.Task
	must(property.DefaultCollector(c).RetrieveOne(ctx, task, []string{"info"}, &mt), "task info")
	check(mt.Info.Progress == 42 && mt.Info.Description.Message == "Copying disk 1 of 1" && mt.Info.State == "running" && mt.Info.EntityName == "win-app01",
		"task info %+v", mt.Info)
	var mtm mo.TaskManager
	must(property.DefaultCollector(c).RetrieveOne(ctx, tm, []string{"recentTask"}, &mtm), "recentTask")
	check(len(mtm.RecentTask) > 0 && mtm.RecentTask[len(mtm.RecentTask)-1] == task, "recentTask has the task")
	_, err = methods.CancelTask(ctx, c, &types.CancelTask{This: task})
	must(err, "CancelTask")
	must(property.DefaultCollector(c).RetrieveOne(ctx, task, []string{"info"}, &mt), "task info after cancel")
	check(mt.Info.Cancelled && mt.Info.State == "running", "cancel requested: %+v", mt.Info)
	_, err = methods.SetTaskState(ctx, c, &types.SetTaskState{This: task, State: types.TaskInfoStateSuccess})
	must(err, "SetTaskState success")
	_, err = methods.CancelTask(ctx, c, &types.CancelTask{This: task})
	check(faultOf(err) == "InvalidState", "cancel after completion: %v", err)
	_, err = methods.SetTaskState(ctx, c, &types.SetTaskState{This: task, State: types.TaskInfoStateRunning})
	check(faultOf(err) == "InvalidState", "state after completion: %v", err)
	must(em.Unregister(ctx, ext.Key), "UnregisterExtension")
	check(faultOf(em.Unregister(ctx, ext.Key)) == "NotFound", "unregister unknown")

	// --- events ---
	_, err = methods.LogUserEvent(ctx, c, &types.LogUserEvent{This: *c.ServiceContent.EventManager, Entity: win.Reference(), Msg: "Stillpoint backup finished"})
	must(err, "LogUserEvent")
	qe, err := methods.QueryEvents(ctx, c, &types.QueryEvents{This: *c.ServiceContent.EventManager, Filter: types.EventFilterSpec{
		Entity: &types.EventFilterSpecByEntity{Entity: win.Reference(), Recursion: types.EventFilterSpecRecursionOptionSelf}}})
	must(err, "QueryEvents")
	logged := false
	for _, e := range qe.Returnval {
		if u, ok := e.(*types.GeneralUserEvent); ok && u.Message == "Stillpoint backup finished" && u.UserName == lab.Username {
			logged = true
		}
	}
	check(logged, "user event in QueryEvents")

	// --- power: Tools state follows; ShutdownGuest needs Tools ---
	check(faultOf(notools.ShutdownGuest(ctx)) == "ToolsUnavailable", "ShutdownGuest without Tools")
	must(lin.ShutdownGuest(ctx), "ShutdownGuest")
	check(props(lin, "guest").Guest.ToolsRunningStatus == "guestToolsNotRunning", "Tools not running after shutdown")
	pt1, err := lin.PowerOn(ctx)
	must(err, "power on linux-db01")
	must(pt1.Wait(ctx), "power on task")
	check(props(lin, "guest").Guest.ToolsRunningStatus == "guestToolsRunning", "Tools running after power on")

	// --- custom attributes (vcsim's CustomFieldsManager) ---
	cfm, err := object.GetCustomFieldsManager(c)
	must(err, "CustomFieldsManager")
	def, err := cfm.Add(ctx, "Last backup", "VirtualMachine", nil, nil)
	must(err, "AddCustomFieldDef")
	must(cfm.Set(ctx, win.Reference(), def.Key, "2026-11-25 OK"), "SetField")
	cv := props(win, "customValue").CustomValue
	check(len(cv) == 1 && cv[0].(*types.CustomFieldStringValue).Value == "2026-11-25 OK", "customValue %+v", cv)

	// --- faults ---
	control("POST", "/lab/faults", map[string]interface{}{"method": "PowerOffVM_Task", "fault": "TaskInProgress", "vm": "linux-db01"}, nil)
	t, _ = lin.PowerOff(ctx)
	check(faultOf(t.Wait(ctx)) == "TaskInProgress", "injected task fault")
	control("POST", "/lab/faults", map[string]interface{}{"method": "RetrieveProperties", "fault": "NotAuthenticated"}, nil)
	check(faultOf(win.Properties(ctx, win.Reference(), []string{"name"}, &vmm)) == "NotAuthenticated", "injected SOAP fault")
	control("POST", "/lab/faults", map[string]interface{}{"method": "DatastoreGet", "fault": "ReadFault", "path": "linux-db01-flat.vmdk", "afterBytes": 100000}, nil)
	res, err = dsGet("linux-db01/linux-db01-flat.vmdk")
	must(err, "GET flat")
	n, err := io.Copy(io.Discard, res.Body)
	check(err != nil && n == 100000, "read fault after 100000 bytes: n=%d err=%v", n, err)
	control("DELETE", "/lab/faults", nil, nil)

	// --- a VM created through the API (e.g. a restore) is adopted by the lab ---
	drPool, err := finder.ResourcePool(ctx, "/Lab-DC/host/DR/Resources")
	must(err, "DR pool")
	folders, err := dc.Folders(ctx)
	must(err, "folders")
	var devs object.VirtualDeviceList
	scsi, _ := devs.CreateSCSIController("pvscsi")
	devs = append(devs, scsi)
	nd := devs.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{}, "[dr-ds1] restored01/restored01.vmdk")
	nd.CapacityInKB = 8 << 10
	devs = append(devs, nd)
	change, _ := devs.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	cvt, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: "restored01", GuestId: "debian10_64Guest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[dr-ds1]"}, DeviceChange: change, ChangeTrackingEnabled: types.NewBool(true)}, drPool, nil)
	must(err, "CreateVM")
	cinfo, err := cvt.WaitForResult(ctx, nil)
	must(err, "CreateVM task")
	restored := object.NewVirtualMachine(c, cinfo.Result.(types.ManagedObjectReference))
	pt, err := restored.PowerOn(ctx)
	must(err, "power on restored")
	must(pt.Wait(ctx), "power on task")
	check(props(restored, "guest").Guest.ToolsRunningStatus == "guestToolsRunning", "adopted VM reports Tools running after power on")
	rs := snap(restored, "first", false)
	var rsm mo.VirtualMachineSnapshot
	must(property.DefaultCollector(c).RetrieveOne(ctx, rs, []string{"config"}, &rsm), "restored snapshot config")
	rdisk := object.VirtualDeviceList(rsm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))[0].(*types.VirtualDisk)
	_, err = methods.QueryChangedDiskAreas(ctx, c, &types.QueryChangedDiskAreas{This: restored.Reference(), Snapshot: &rs, DeviceKey: rdisk.Key, ChangeId: "*"})
	must(err, "QCDA on an adopted VM")
	var labVMs map[string]struct {
		Disks []struct {
			FlatPath       string
			DescriptorPath string
			CapacityBytes  int64
		}
	}
	control("GET", "/lab/vms", nil, &labVMs)
	rd := labVMs["restored01"].Disks
	check(len(rd) == 1 && rd[0].CapacityBytes == 8<<20, "adopted VM in /lab/vms: %+v", labVMs["restored01"])
	fst, err := os.Stat(rd[0].FlatPath)
	check(err == nil && fst.Size() == 8<<20, "adopted flat file completed to its capacity: %v", err)
	dsc, _ := os.ReadFile(rd[0].DescriptorPath)
	check(strings.HasPrefix(string(dsc), "# Disk DescriptorFile"), "adopted descriptor written")

	// --- vSphere Client clone ticket → CloneSession ---
	var tok struct{ SessionToken string }
	check(control("POST", "/lab/ui-session", map[string]string{"username": lab.Username, "password": lab.Password}, &tok) == 200, "ui-session")
	cloneTicket := func(token string) (int, string) {
		req, _ := http.NewRequest("POST", strings.TrimSuffix(lab.URL, "/sdk")+"/api/ui/vcenter/session/clone-ticket", strings.NewReader(`{"vc_guid":"`+lab.VcGuid+`"}`))
		req.Header.Set("vmware-api-session-id", token)
		req.Header.Set("content-type", "application/json")
		res, err := hc.Do(req)
		must(err, "clone-ticket")
		defer res.Body.Close()
		var out struct {
			SessionCloneTicket string `json:"session_clone_ticket"`
		}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out.SessionCloneTicket
	}
	code, _ := cloneTicket("bogus")
	check(code == 401, "bogus token → 401, got %d", code)
	code, ticket := cloneTicket(tok.SessionToken)
	check(code == 200 && ticket != "", "clone ticket %d", code)
	c2 := connect()
	_, err = methods.CloneSession(ctx, c2, &types.CloneSession{This: *c2.ServiceContent.SessionManager, CloneTicket: ticket})
	must(err, "CloneSession")
	us, err := session.NewManager(c2).UserSession(ctx)
	check(err == nil && us != nil && us.UserName == lab.Username, "cloned session user %v %v", us, err)

	// SearchIndex walks every registry object (including the lab's overlays).
	for i := 0; i < 20; i++ {
		si := object.NewSearchIndex(c)
		ref, err := si.FindByUuid(ctx, nil, "no-such-uuid", true, types.NewBool(true))
		check(err == nil && ref == nil, "FindByUuid: %v %v", ref, err)
	}

	// --- networks and NIC edits (networks.go) ---
	pc := property.DefaultCollector(c)
	iso, err := finder.Network(ctx, "Stillpoint-Test-Isolated")
	must(err, "isolated network")
	var isoNet mo.Network
	must(pc.RetrieveOne(ctx, iso.Reference(), []string{"host", "summary"}, &isoNet), "isolated network properties")
	check(len(isoNet.Host) == 1 && isoNet.Summary.GetNetworkSummary().Name == "Stillpoint-Test-Isolated", "isolated network on one host: %+v", isoNet.Host)
	var drHost mo.HostSystem
	must(pc.RetrieveOne(ctx, isoNet.Host[0], []string{"name", "network", "config.network"}, &drHost), "DR host")
	check(drHost.Name == "esx-dr-01.lab.local" && len(drHost.Network) == 4, "DR host %s with %d networks", drHost.Name, len(drHost.Network))
	bubble := false
	for _, sw := range drHost.Config.Network.Vswitch {
		if sw.Name == "vSwitch-Isolated" {
			bubble = len(sw.Pnic) == 0 && sw.Spec.Bridge == nil && reflect.DeepEqual(sw.Portgroup, []string{"key-vim.host.PortGroup-Stillpoint-Test-Isolated"})
		}
	}
	check(bubble, "vSwitch-Isolated without uplinks: %+v", drHost.Config.Network.Vswitch)
	netBacking := func(name string) types.BaseVirtualDeviceBackingInfo {
		n, err := finder.Network(ctx, name)
		must(err, "network "+name)
		b, err := n.EthernetCardBackingInfo(ctx)
		must(err, "backing "+name)
		return b
	}
	card, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", netBacking("VM Network"))
	must(err, "vmxnet3")
	must(off.AddDevice(ctx, card), "add NIC")
	nic := func() types.BaseVirtualEthernetCard {
		devs, err := off.Device(ctx)
		must(err, "devices")
		for _, d := range devs {
			if c, ok := d.(types.BaseVirtualEthernetCard); ok {
				return c
			}
		}
		check(false, "web-off01 has no NIC")
		return nil
	}
	read := nic()
	e := read.GetVirtualEthernetCard()
	e.Backing, e.DeviceInfo = netBacking("Prod-App"), nil
	e.Connectable.Connected = false
	must(off.EditDevice(ctx, read.(types.BaseVirtualDevice)), "edit NIC as read, without deviceInfo")
	now := nic().GetVirtualEthernetCard()
	check(now.Backing.(*types.VirtualEthernetCardNetworkBackingInfo).DeviceName == "Prod-App" && !now.Connectable.Connected && now.MacAddress == e.MacAddress,
		"edited NIC: %+v %+v", now.Backing, now.Connectable)
	wrong := nic()
	wrong.GetVirtualEthernetCard().Backing = netBacking("DR-Network")
	err = off.EditDevice(ctx, wrong.(types.BaseVirtualDevice))
	check(faultOf(err) == "InvalidDeviceBacking", "DR network on a production host: %v", err)

	// --- session expiry ---
	var exp struct{ Expired int }
	control("POST", "/lab/sessions/expire", nil, &exp)
	check(exp.Expired >= 2, "expired %d sessions", exp.Expired)
	err = win.Properties(ctx, win.Reference(), []string{"name"}, &vmm)
	check(faultOf(err) == "NotAuthenticated", "after expiry: %v", err)
	c = login()
	must(object.NewVirtualMachine(c, win.Reference()).Properties(ctx, win.Reference(), []string{"name"}, &vmm), "after re-login")
	fmt.Println("smoke: all checks passed")
}

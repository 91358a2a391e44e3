// Command vcsim-lab is Stillpoint's lab vCenter: govmomi's vcsim (0.24.2) with an
// inventory shaped like a small customer site, real disk images on its datastores,
// and the vSphere behaviour a backup product depends on that vcsim lacks
// (CBT, quiesced snapshots, guest operations, extensions, custom tasks, events,
// fault injection). All vSphere semantics live in this program; the TypeScript
// helper test/lab/lab.ts only starts it and calls its /lab control endpoints.
//
// When ready it prints exactly one JSON line on stdout (see readyLine) and then
// serves until SIGTERM/SIGINT, removing its data directory on exit unless -keep.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

// options are the command-line flags.
type options struct {
	listen         string
	inventory      string
	vms            int
	diskMiB        int
	images         string
	dataDir        string
	keep           bool
	username       string
	password       string
	restrictedUser string
	restrictedPass string
	restrictedVMs  []string
	guestUser      string
	guestPass      string
	trace          bool
	watchIn        bool
	replication    bool // standard inventory: NICs on the VMs and the DR transporter VM (hotadd.go)
}

// readyLine is the JSON object printed once the server accepts connections.
type readyLine struct {
	URL           string `json:"url"`
	Thumbprint    string `json:"thumbprint"`
	CertPem       string `json:"certPem"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	DataDir       string `json:"dataDir"`
	ControlToken  string `json:"controlToken"`
	GuestUsername string `json:"guestUsername"`
	GuestPassword string `json:"guestPassword"`
	VcGUID        string `json:"vcGuid"`
	// The restricted user (permissions.go) and the VMs it can see.
	RestrictedUsername string   `json:"restrictedUsername"`
	RestrictedPassword string   `json:"restrictedPassword"`
	RestrictedVms      []string `json:"restrictedVms"`
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	flag.StringVar(&o.inventory, "inventory", "standard", "inventory: standard|large")
	flag.IntVar(&o.vms, "vms", 2000, "number of VMs for -inventory large")
	flag.IntVar(&o.diskMiB, "disk-mib", 64, "size of the disk images of win-app01 and linux-db01")
	flag.BoolVar(&o.replication, "replication", false, "standard inventory: give the VMs NICs on production networks and add the DR helper VM dr-transporter01")
	flag.StringVar(&o.images, "images", "", "directory with win-app01.img / linux-db01.img built by test/lab/images/build.sh (blank disks if empty)")
	flag.StringVar(&o.dataDir, "data-dir", "", "directory for datastores and lab state (default: a new temp dir, removed on exit)")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory on exit")
	flag.StringVar(&o.username, "username", "administrator@vsphere.local", "vCenter user name")
	flag.StringVar(&o.password, "password", "Lab-Pass-1!", "vCenter password")
	flag.StringVar(&o.restrictedUser, "restricted-username", "operator@vsphere.local", "a second vCenter user with a role on -restricted-vms only (permissions.go)")
	flag.StringVar(&o.restrictedPass, "restricted-password", "Operator-Pass-1!", "password of the restricted user")
	restrictedVMs := flag.String("restricted-vms", "win-app01,linux-db01", "comma-separated VM names the restricted user can see")
	flag.StringVar(&o.guestUser, "guest-username", "labadmin", "guest OS user accepted by guest operations")
	flag.StringVar(&o.guestPass, "guest-password", "Guest-Pass-1!", "guest OS password accepted by guest operations")
	flag.BoolVar(&o.trace, "trace", false, "write SOAP traffic to stderr")
	flag.BoolVar(&o.watchIn, "exit-on-stdin-eof", false, "shut down when stdin closes (the parent process is gone)")
	flag.Parse()
	for _, name := range strings.Split(*restrictedVMs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			o.restrictedVMs = append(o.restrictedVMs, name)
		}
	}
	// When the parent dies, stdout/stderr are broken pipes: keep running to clean up.
	signal.Ignore(syscall.SIGPIPE)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("vcsim-lab: ")

	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	if o.images != "" {
		abs, err := filepath.Abs(o.images)
		if err != nil {
			return err
		}
		o.images = abs
	}
	removeData := false
	var err error
	if o.dataDir == "" {
		d, err := os.MkdirTemp("", "stillpoint-lab-")
		if err != nil {
			return err
		}
		o.dataDir = d
		removeData = !o.keep
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return err
	}
	if o.dataDir, err = filepath.Abs(o.dataDir); err != nil {
		return err
	}
	if removeData {
		defer os.RemoveAll(o.dataDir)
	}

	cert, certPEM, thumbprint, err := newCertificate()
	if err != nil {
		return err
	}

	// An empty VPX model: we build the inventory ourselves through the API below.
	model := simulator.VPX()
	model.Datacenter, model.Cluster, model.ClusterHost, model.Host = 0, 0, 0, 0
	model.Datastore, model.Machine, model.Portgroup, model.Pool = 0, 0, 0, 0
	if err := model.Create(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	simulator.Trace = o.trace

	u, err := url.Parse("https://" + o.listen)
	if err != nil {
		return err
	}
	u.User = url.UserPassword(o.username, o.password)
	model.Service.Listen = u
	model.Service.TLS = tlsConfig(cert)

	ctx := context.Background()
	// In-process client (no session cookie needed): used to build the inventory
	// through the same methods a vSphere client would call.
	c, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		return err
	}

	lab := newLab(o, c)
	start := time.Now()
	switch o.inventory {
	case "standard":
		err = lab.buildStandard(ctx)
	case "large":
		err = lab.buildLarge(ctx)
	default:
		err = fmt.Errorf("unknown -inventory %q", o.inventory)
	}
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	log.Printf("inventory %s built in %s", o.inventory, time.Since(start).Round(time.Millisecond))

	lab.registerObjects()
	lab.grantRestricted()

	server := model.Service.NewServer()
	defer server.Close()
	// vcsim's server has already been started with its own ServeMux; put the lab
	// front end (SOAP overlay, fault injection, /lab control, REST stand-in) in
	// front of it before any client can connect (we have not announced the URL yet).
	lab.serverURL = server.URL
	lab.certPEM = certPEM
	server.Config.Handler = lab.frontEnd(server.Config.Handler)

	line := readyLine{
		URL:           "https://" + server.URL.Host + "/sdk",
		Thumbprint:    thumbprint,
		CertPem:       certPEM,
		Username:      o.username,
		Password:      o.password,
		DataDir:       o.dataDir,
		ControlToken:  lab.controlToken,
		GuestUsername: o.guestUser,
		GuestPassword: o.guestPass,
		VcGUID:        c.ServiceContent.About.InstanceUuid,

		RestrictedUsername: o.restrictedUser,
		RestrictedPassword: o.restrictedPass,
		RestrictedVms:      lab.restrictedVMNames(),
	}
	out, _ := json.Marshal(line)
	fmt.Println(string(out))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if o.watchIn {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			sig <- syscall.SIGHUP
		}()
	}
	s := <-sig
	log.Printf("%s: shutting down", s)
	lab.close()
	return nil
}

// labPath joins a path below the data directory.
func (l *Lab) labPath(elem ...string) string {
	return filepath.Join(append([]string{l.opts.dataDir}, elem...)...)
}

// Command govmomi-inventory retrieves the full VM inventory with govmomi (ContainerView + PropertyCollector
// Retrieve into mo.VirtualMachine), the same property set as Stillpoint's inventory, and prints one JSON line
// with the time of every round. Used by bench/inventory/run.ts.
//
// Usage: govmomi-inventory -url https://host:port/sdk -user U -password P -ca cert.pem -rounds N -props a,b,c
// With -rounds 0 it runs one round per line read from stdin and prints {"ms":…,"vms":…,"disks":…} after each
// (so the benchmark can interleave it with the other clients under the same machine load).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type result struct {
	Rounds []float64 `json:"roundsMs"`
	VMs    int       `json:"vms"`
	Disks  int       `json:"disks"`
}

func main() {
	rawURL := flag.String("url", "", "vCenter SDK URL")
	user := flag.String("user", "", "user name")
	password := flag.String("password", "", "password")
	ca := flag.String("ca", "", "PEM file with the vCenter certificate (trusted as CA)")
	rounds := flag.Int("rounds", 5, "rounds")
	props := flag.String("props", "name", "comma-separated property paths")
	flag.Parse()

	if err := run(*rawURL, *user, *password, *ca, *rounds, strings.Split(*props, ",")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(rawURL, user, password, ca string, rounds int, props []string) error {
	ctx := context.Background()
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	sc := soap.NewClient(u, false)
	if err := sc.SetRootCAs(ca); err != nil {
		return err
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return err
	}
	if err := session.NewManager(c).Login(ctx, url.UserPassword(user, password)); err != nil {
		return err
	}
	round := func() (float64, int, int, error) {
		start := time.Now()
		v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
		if err != nil {
			return 0, 0, 0, err
		}
		var vms []mo.VirtualMachine
		if err := v.Retrieve(ctx, []string{"VirtualMachine"}, props, &vms); err != nil {
			return 0, 0, 0, err
		}
		if err := v.Destroy(ctx); err != nil {
			return 0, 0, 0, err
		}
		ms := float64(time.Since(start).Microseconds()) / 1000
		disks := 0
		for _, vm := range vms {
			if vm.Config != nil {
				for _, d := range vm.Config.Hardware.Device {
					if _, ok := d.(*types.VirtualDisk); ok {
						disks++
					}
				}
			}
		}
		return ms, len(vms), disks, nil
	}
	if rounds == 0 {
		in := bufio.NewScanner(os.Stdin)
		enc := json.NewEncoder(os.Stdout)
		for in.Scan() {
			ms, n, disks, err := round()
			if err != nil {
				return err
			}
			if err := enc.Encode(map[string]interface{}{"ms": ms, "vms": n, "disks": disks}); err != nil {
				return err
			}
		}
		return nil
	}
	var res result
	for i := 0; i < rounds; i++ {
		ms, n, disks, err := round()
		if err != nil {
			return err
		}
		res.Rounds = append(res.Rounds, ms)
		res.VMs, res.Disks = n, disks
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// Command govmomi-inventory retrieves the full VM inventory with govmomi (ContainerView + PropertyCollector
// Retrieve into mo.VirtualMachine), the same property set as Stillpoint's inventory, and prints one JSON line
// with the time of every round. Used by bench/inventory/run.ts.
//
// Usage: govmomi-inventory -url https://host:port/sdk -user U -password P -ca cert.pem -rounds N -props a,b,c
package main

import (
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
	var res result
	for i := 0; i < rounds; i++ {
		start := time.Now()
		v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
		if err != nil {
			return err
		}
		var vms []mo.VirtualMachine
		if err := v.Retrieve(ctx, []string{"VirtualMachine"}, props, &vms); err != nil {
			return err
		}
		if err := v.Destroy(ctx); err != nil {
			return err
		}
		res.Rounds = append(res.Rounds, float64(time.Since(start).Microseconds())/1000)
		res.VMs = len(vms)
		res.Disks = 0
		for _, vm := range vms {
			if vm.Config != nil {
				for _, d := range vm.Config.Hardware.Device {
					if _, ok := d.(*types.VirtualDisk); ok {
						res.Disks++
					}
				}
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// purchaser is the simulated AWS backend with capacity block purchases:
// buying an offering puts the block it becomes in the engine's
// reservation ledger, once per token (PurchaseCapacityBlockExtension's
// idempotency, which the real backend passes as ClientToken).
type purchaser struct {
	*cloudsim.DirectBackend
	offerings map[string]cloudsim.Reservation // offering ID → the block
	mu        sync.Mutex
	bought    map[string]cloud.Reservation // token → block
	calls     int
}

func (p *purchaser) PurchaseCapacityBlock(_ context.Context, region, offeringID, token string) (cloud.Reservation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if r, ok := p.bought[token]; ok {
		return r, nil
	}
	off, ok := p.offerings[offeringID]
	if !ok || off.Region != region {
		return cloud.Reservation{}, cloud.NotFound("aws", "PurchaseCapacityBlock", "InvalidCapacityBlockOfferingId.NotFound", "offering %s not found in %s", offeringID, region)
	}
	off.ID = fmt.Sprintf("cr-%04d", len(p.bought)+1)
	if _, err := p.Engine.PutReservation(off); err != nil {
		return cloud.Reservation{}, err
	}
	r := cloud.Reservation{ID: off.ID, Start: off.Start, End: off.End}
	if p.bought == nil {
		p.bought = map[string]cloud.Reservation{}
	}
	p.bought[token] = r
	return r, nil
}

// reservationWorld is worldClock polling every 5 minutes (pools wait hours
// for their blocks) with the fleet on the world's clock.
func reservationWorld(t *testing.T) (*cloudsim.Engine, *Fleet, *cloudsim.FakeClock) {
	e, f, clock := worldClock(t)
	f.Backends["aws"].(*cloudsim.DirectBackend).Poll = 5 * time.Minute
	f.Now = clock.Now
	return e, f, clock
}

func reservedOffer(zone, id string, nodes int) Offer {
	o := offer("eu-central-1", zone, nodes)
	o.CapacityType, o.ReservationID = "reserved", id
	o.Key = strings.Replace(o.Key, "on_demand", "reserved/"+id, 1)
	return o
}

func blockOffering(zone, offeringID string, nodes int, start time.Time) Offer {
	o := offer("eu-central-1", zone, nodes)
	o.CapacityType, o.ReservationID, o.Purchase, o.UpfrontUSD = "capacity_block", offeringID, true, 1512
	o.Start, o.End = start, start.Add(24*time.Hour)
	o.Key = strings.Replace(o.Key, "on_demand", "capacity_block/"+offeringID, 1)
	return o
}

func logTo(lines *[]string, mu *sync.Mutex) func(string, ...any) {
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		*lines = append(*lines, fmt.Sprintf(format, args...))
	}
}

// A pool on a block that starts later waits for it: the wait is logged,
// it is no failure, and the nodes launch only from the block's start.
func TestWaitForReservationStart(t *testing.T) {
	e, f, clock := reservationWorld(t)
	start := clock.Now().Add(2*time.Hour + 10*time.Minute)
	if _, err := e.PutReservation(cloudsim.Reservation{Cloud: "aws", ID: "cr-0b1", Region: "eu-central-1", Zone: "euc1-az1",
		InstanceType: "p5.48xlarge", Kind: "capacity_block", Count: 2, Start: start, End: start.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	o := reservedOffer("euc1-az1", "cr-0b1", 2)
	o.CapacityType, o.Start, o.End = "capacity_block", start, start.Add(24*time.Hour)
	var logs []string
	var mu sync.Mutex
	f.Log = logTo(&logs, &mu)
	got, err := f.Create(context.Background(), []Allocation{{Offer: o}}, spec, true)
	if err != nil || len(got) != 1 || got[0].Status != cloud.StatusActive || got[0].Offer.ReservationID != "cr-0b1" {
		t.Fatalf("pools %+v err %v", got, err)
	}
	want := "allocation " + o.Key + ": capacity block cr-0b1 starts at " + start.Format(time.RFC3339) + " (in 2h10m0s): waiting"
	if !strings.Contains(strings.Join(logs, "\n"), want) {
		t.Errorf("logs %q\nwant %q", logs, want)
	}
	if clock.Now().Before(start) {
		t.Errorf("the pool was ready at %s, before its block's start %s", clock.Now(), start)
	}
	if r, _ := e.GetReservation("aws", "cr-0b1"); r.Used != 2 {
		t.Errorf("block used %d, want 2", r.Used)
	}
}

// An exhausted reservation fails with a capacity error naming it and the
// allocation moves to its fallback; deleting the pools frees the slots.
func TestExhaustedReservationFailsOver(t *testing.T) {
	e, f := world(t)
	if _, err := e.PutReservation(cloudsim.Reservation{Cloud: "aws", ID: "cr-small", Region: "eu-central-1", Zone: "euc1-az1",
		InstanceType: "p5.48xlarge", Kind: "reserved", Count: 1}); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: reservedOffer("euc1-az1", "cr-small", 2), Fallbacks: []Offer{offer("eu-central-1", "euc1-az2", 2)}}
	got, err := f.Create(context.Background(), []Allocation{a}, spec, true)
	if err != nil || len(got) != 1 || got[0].Offer.Zone != "euc1-az2" || got[0].Offer.CapacityType != "on_demand" {
		t.Fatalf("pools %+v err %v", got, err)
	}
	if tried := strings.Join(got[0].Tried, "\n"); !strings.Contains(tried, "cr-small") || !strings.Contains(tried, cloudsim.IssueReservationExhausted) {
		t.Errorf("tried %q should name the exhausted reservation", tried)
	}
	if r, _ := e.GetReservation("aws", "cr-small"); r.Used != 0 || pools(e) != 1 {
		t.Errorf("the failed pool holds %d slots, %d pools in the cloud", r.Used, pools(e))
	}
}

func TestPurchaseCapacityBlock(t *testing.T) {
	start := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	block := cloudsim.Reservation{Cloud: "aws", Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge",
		Kind: "capacity_block", Count: 2, Start: start, End: start.Add(24 * time.Hour)}
	for _, tc := range []struct {
		name     string
		allow    bool
		plain    bool // the backend cannot buy
		retries  int  // applies after the first
		wantErr  string
		wantCall int
	}{
		{name: "bought once across a retried apply", allow: true, retries: 1, wantCall: 2},
		{name: "refused without permission", wantErr: "capacity block offering cbo-1 costs $1512.00 upfront and is not bought yet; set purchase_capacity_blocks = true"},
		{name: "backend that cannot buy", allow: true, plain: true, wantErr: "the aws backend cannot buy capacity blocks (offering cbo-1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, f, _ := reservationWorld(t)
			p := &purchaser{DirectBackend: f.Backends["aws"].(*cloudsim.DirectBackend), offerings: map[string]cloudsim.Reservation{"cbo-1": block}}
			if !tc.plain {
				f.Backends["aws"] = p
			}
			s := spec
			s.PurchaseCapacityBlocks = tc.allow
			a := Allocation{Offer: blockOffering("euc1-az1", "cbo-1", 2, start)}
			got, err := f.Create(context.Background(), []Allocation{a}, s, true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "allocation "+a.Key) {
					t.Fatalf("error %v, want it to name the allocation and %q", err, tc.wantErr)
				}
				if len(got) != 0 || pools(e) != 0 || len(f.Purchases()) != 0 || p.calls != 0 {
					t.Fatalf("nothing may be bought or created: pools %+v, %d purchases, %d calls", got, len(f.Purchases()), p.calls)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].Offer.ReservationID != "cr-0001" || got[0].Offer.Purchase {
				t.Fatalf("pools %+v err %v", got, err)
			}
			// The pool is deleted out of band; the retried apply buys
			// nothing new and lands on the same block.
			for range tc.retries {
				if err := f.Delete(context.Background(), got); err != nil {
					t.Fatal(err)
				}
				got, err = f.Create(context.Background(), []Allocation{a}, s, true)
				if err != nil || got[0].Offer.ReservationID != "cr-0001" {
					t.Fatalf("retry: pools %+v err %v", got, err)
				}
			}
			rs, _ := e.Reservations("aws")
			if len(rs) != 1 || rs[0].Used != 2 || p.calls != tc.wantCall {
				t.Fatalf("reservations %+v, %d purchase calls; want one block with 2 used", rs, p.calls)
			}
			if ps := f.Purchases(); len(ps) != 1 || ps[0].Reservation.ID != "cr-0001" || ps[0].Offering != "cbo-1" || ps[0].UpfrontUSD != 1512 {
				t.Fatalf("purchases %+v", ps)
			}
		})
	}
}

// A block bought whose pool then fails is still reported: it is paid for.
func TestPurchaseRecordedWhenThePoolFails(t *testing.T) {
	start := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	e, f, _ := reservationWorld(t)
	p := &purchaser{DirectBackend: f.Backends["aws"].(*cloudsim.DirectBackend), offerings: map[string]cloudsim.Reservation{"cbo-1": {Cloud: "aws",
		Region: "eu-central-1", Zone: "euc1-az1", InstanceType: "p5.48xlarge", Kind: "capacity_block", Count: 1, Start: start, End: start.Add(24 * time.Hour)}}}
	f.Backends["aws"] = p
	s := spec
	s.PurchaseCapacityBlocks = true
	// The block holds 1 node, the allocation asks for 2: the pool fails.
	_, err := f.Create(context.Background(), []Allocation{{Offer: blockOffering("euc1-az1", "cbo-1", 2, start)}}, s, false)
	if err == nil || !cloud.IsCapacity(err) {
		t.Fatalf("error %v, want a capacity error", err)
	}
	if ps := f.Purchases(); len(ps) != 1 || ps[0].Reservation.ID != "cr-0001" || pools(e) != 0 {
		t.Fatalf("purchases %+v, %d pools", ps, pools(e))
	}
}

// A fallback that is a block offering the fleet may not buy is skipped
// (named in Tried), and the allocation goes on to the next fallback.
func TestUnboughtFallbackSkipped(t *testing.T) {
	e, f, clock := reservationWorld(t)
	if err := e.SetCapacity("aws", "euc1-az1", "p5.48xlarge", "on_demand", 0); err != nil {
		t.Fatal(err)
	}
	a := Allocation{Offer: offer("eu-central-1", "euc1-az1", 2),
		Fallbacks: []Offer{blockOffering("euc1-az2", "cbo-1", 2, clock.Now().Add(time.Hour)), offer("eu-central-1", "euc1-az2", 2)}}
	got, err := f.Create(context.Background(), []Allocation{a}, spec, true)
	if err != nil || len(got) != 1 || got[0].Offer.CapacityType != "on_demand" || got[0].Offer.Zone != "euc1-az2" {
		t.Fatalf("pools %+v err %v", got, err)
	}
	if tried := strings.Join(got[0].Tried, "\n"); !strings.Contains(tried, "capacity block offering cbo-1 costs $1512.00 upfront and is not bought yet") {
		t.Errorf("tried %q should say why the block was skipped", tried)
	}
	if len(f.Purchases()) != 0 {
		t.Errorf("bought %+v", f.Purchases())
	}
}

// A flex-start pool's capacity ends its offer's maximum run time after
// the create: the backend gets that end (GKE's max run duration).
func TestFlexStartMaxRun(t *testing.T) {
	e, f, clock := reservationWorld(t)
	o := offer("eu-central-1", "euc1-az1", 1)
	o.CapacityType, o.MaxRun = "flex_start", 168*time.Hour
	o.Key = strings.Replace(o.Key, "on_demand", "flex_start", 1)
	created := clock.Now()
	if _, err := f.Create(context.Background(), []Allocation{{Offer: o}}, spec, true); err != nil {
		t.Fatal(err)
	}
	p, err := e.GetNodePool("aws", "eu-central-1", f.Clusters[o.Site()], PoolName(o.Key))
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Spec.Reservation; r == nil || r.ID != "" || !r.End.Equal(created.Add(168*time.Hour)) {
		t.Fatalf("flex-start pool's capacity %+v; want it to end at %s", r, created.Add(168*time.Hour))
	}
}

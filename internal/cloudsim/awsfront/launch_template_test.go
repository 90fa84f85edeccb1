package awsfront

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// A launch template of the version before the table (an engine object
// with flat attrs, its ID from the object's sequence number) moves into
// the table, reads back typed, stays in the inventory as a row and is
// described through the SDK.
func TestLaunchTemplateLegacyStateLoads(t *testing.T) {
	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "world.json")
	if err := cloudsim.WriteVersion1State(file, old(kindLaunchTemplate, region+"/lt1", "name", "lt1", "region", region,
		"client_token", "tok", "created", created.Format("2006-01-02T15:04:05.000Z"), "instance_type", "p5.48xlarge",
		"user_data", "dXNlcmRhdGE=", ltReservation, "cr-0123456789abcdef0", ltMarketType, "capacity-block")); err != nil {
		t.Fatal(err)
	}
	ev := newEnv(t, envConfig{stateFile: file})
	want := LaunchTemplate{ID: "lt-00000000000000001", Name: "lt1", Region: region, ClientToken: "tok", Created: created,
		InstanceType: "p5.48xlarge", UserData: "dXNlcmRhdGE=", CapacityReservationID: "cr-0123456789abcdef0", MarketType: "capacity-block"}
	got, err := LaunchTemplates(ev.e)
	if err != nil || !reflect.DeepEqual(got, []LaunchTemplate{want}) {
		t.Fatalf("LaunchTemplates: %+v, %v; want %+v", got, err, want)
	}
	var inv []cloudsim.Object
	for _, o := range ev.e.Inventory().Objects {
		if o.Kind == kindLaunchTemplate {
			inv = append(inv, o)
		}
	}
	if len(inv) != 1 || !inv[0].Row || inv[0].Name != region+"/lt1" {
		t.Fatalf("inventory %+v", inv)
	}
	vers := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(ev.ec2.DescribeLaunchTemplateVersions(ctx,
		&ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(want.ID)}))
	if len(vers.LaunchTemplateVersions) != 1 {
		t.Fatalf("versions: %+v", vers.LaunchTemplateVersions)
	}
	v := vers.LaunchTemplateVersions[0]
	d := v.LaunchTemplateData
	if aws.ToString(v.LaunchTemplateName) != "lt1" || !aws.ToTime(v.CreateTime).Equal(created) || aws.ToString(d.UserData) != "dXNlcmRhdGE=" ||
		d.InstanceType != ec2types.InstanceTypeP548xlarge || d.InstanceMarketOptions == nil || d.InstanceMarketOptions.MarketType != "capacity-block" ||
		d.CapacityReservationSpecification == nil ||
		aws.ToString(d.CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationId) != "cr-0123456789abcdef0" {
		t.Fatalf("version: %+v %+v", v, d)
	}
}

// Of concurrent creates of one name with different tokens exactly one
// makes the template; the others are AlreadyExists.
func TestLaunchTemplateConcurrentCreates(t *testing.T) {
	ev := newEnv(t, envConfig{})
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-race"),
				ClientToken:        aws.String(fmt.Sprintf("tok-%d", i)),
				LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeG4dnXlarge}}, noRetryEC2)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case apiCode(err) != "InvalidLaunchTemplateName.AlreadyExistsException":
			t.Errorf("create: %v", err)
		}
	}
	lts, err := LaunchTemplates(ev.e)
	if won != 1 || err != nil || len(lts) != 1 {
		t.Fatalf("%d creates succeeded, templates %+v %v", won, lts, err)
	}
}

// A create that finds the name taken is the first create's answer only
// when it repeats its token and data.
func TestLaunchTemplateRetriedBy(t *testing.T) {
	first := LaunchTemplate{ID: "lt-00000000000000001", Name: "lt1", Region: region, ClientToken: "tok",
		Created: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), InstanceType: "p5.48xlarge"}
	retry := first
	retry.ID, retry.Created = "", time.Time{}
	otherData, otherToken, noToken := retry, retry, retry
	otherData.UserData = "eA=="
	otherToken.ClientToken = "tok2"
	noToken.ClientToken = ""
	for _, c := range []struct {
		name string
		lt   LaunchTemplate
		code string
	}{
		{"retry", retry, ""},
		{"other data", otherData, "IdempotentParameterMismatch"},
		{"other token", otherToken, "InvalidLaunchTemplateName.AlreadyExistsException"},
		{"no token", noToken, "InvalidLaunchTemplateName.AlreadyExistsException"},
	} {
		got, err := first.retriedBy(c.lt)
		code := ""
		if ee, ok := err.(*ec2Err); ok {
			code = ee.Code
		} else if err != nil {
			code = err.Error()
		}
		if code != c.code || (err == nil && got != first) {
			t.Errorf("%s: %+v %v, want code %q", c.name, got, err, c.code)
		}
	}
}

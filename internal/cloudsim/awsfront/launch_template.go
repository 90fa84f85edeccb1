package awsfront

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// The EC2 launch templates (ec2.go) as rows of the engine's table
// "LaunchTemplate" (cloud "aws"), named region/LaunchTemplateName.

// kindLaunchTemplate is the table's kind: the operations that Inject and
// SetRateLimit name are CreateLaunchTemplate, GetLaunchTemplate and
// DeleteLaunchTemplate.
const kindLaunchTemplate = "LaunchTemplate"

// LaunchTemplate is an EC2 launch template and its only version (1).
type LaunchTemplate struct {
	// ID is "lt-" and 17 hex digits.
	ID     string
	Name   string
	Region string
	// ClientToken is the first create's idempotency token ("" when none).
	ClientToken string
	Created     time.Time
	// InstanceType and UserData are the LaunchTemplateData's.
	InstanceType string `json:",omitempty"`
	UserData     string `json:",omitempty"`
	// CapacityReservationID and CapacityReservationPreference (open or
	// none) are the CapacityReservationSpecification's, MarketType (spot or
	// capacity-block) the InstanceMarketOptions' (reservations.go).
	CapacityReservationID         string `json:",omitempty"`
	CapacityReservationPreference string `json:",omitempty"`
	MarketType                    string `json:",omitempty"`
}

// rowName is the template's row name.
func (lt LaunchTemplate) rowName() string { return lt.Region + "/" + lt.Name }

// launchTemplateName is what EC2 allows in a LaunchTemplateName.
var launchTemplateName = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]+$`)

// checkName refuses a missing or malformed name. EC2 API reference,
// CreateLaunchTemplate: LaunchTemplateName is 3-128 characters of
// [a-zA-Z0-9\(\)\.\-/_].
func (lt LaunchTemplate) checkName() error {
	if lt.Name == "" {
		return &ec2Err{400, "MissingParameter", "The request must contain the parameter LaunchTemplateName"}
	}
	if n := len(lt.Name); n < 3 || n > 128 || !launchTemplateName.MatchString(lt.Name) {
		return &ec2Err{400, "InvalidLaunchTemplateName.MalformedException",
			"A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _."}
	}
	return nil
}

// checkCapacity refuses a market type other than spot or capacity-block,
// a reservation preference other than open or none, and a target that is
// not a capacity reservation ID.
func (lt LaunchTemplate) checkCapacity() error {
	if v := lt.MarketType; v != "" {
		if err := oneOf("marketType", v, []string{"spot", "capacity-block"}); err != nil {
			return err
		}
	}
	if v := lt.CapacityReservationPreference; v != "" {
		if err := oneOf("capacityReservationPreference", v, []string{"open", "none"}); err != nil {
			return err
		}
	}
	if id := lt.CapacityReservationID; id != "" && (!strings.HasPrefix(id, "cr-") || !idPattern.MatchString(id)) {
		return noReservation(id)
	}
	return nil
}

// retriedBy is the template a create retried with its ClientToken
// answers: this one when lt asks for the same; otherwise an existing name
// is InvalidLaunchTemplateName.AlreadyExistsException, or with the same
// token and other data IdempotentParameterMismatch.
func (old LaunchTemplate) retriedBy(lt LaunchTemplate) (LaunchTemplate, error) {
	if lt.ClientToken == "" || old.ClientToken != lt.ClientToken {
		return LaunchTemplate{}, ltNameExists(lt.Name)
	}
	lt.ID, lt.Created = old.ID, old.Created
	if lt != old {
		return LaunchTemplate{}, &ec2Err{400, "IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted or has different parameters."}
	}
	return old, nil
}

func ltNameExists(name string) error {
	return &ec2Err{400, "InvalidLaunchTemplateName.AlreadyExistsException",
		fmt.Sprintf("Launch template name already in use: %s", name)}
}

// storeLaunchTemplate writes a new template under a fresh ID
// (CreateLaunchTemplate), or answers a retry of the create that wrote the
// existing one (LaunchTemplate.retriedBy; still a CreateLaunchTemplate
// that changes nothing).
func (s *server) storeLaunchTemplate(lt LaunchTemplate) (LaunchTemplate, error) {
	name := lt.rowName()
	old, ok, err := s.lts.Lookup(name)
	if err != nil {
		return LaunchTemplate{}, err
	}
	if ok {
		first, err := old.retriedBy(lt)
		if err != nil {
			return LaunchTemplate{}, err
		}
		return first, s.lts.Put(name, first)
	}
	if lt.ID, err = s.newLaunchTemplateID(); err != nil {
		return LaunchTemplate{}, err
	}
	lt.Created = s.now().Truncate(time.Millisecond)
	if err := s.lts.Insert(name, lt); err != nil {
		if !cloud.IsConflict(err) {
			return LaunchTemplate{}, err
		}
		// Another create of the name came first: this one is its retry or
		// refused.
		old, ok, lerr := s.lts.Lookup(name)
		if lerr != nil || !ok {
			return LaunchTemplate{}, errors.Join(ltNameExists(lt.Name), lerr)
		}
		return old.retriedBy(lt)
	}
	return lt, nil
}

// newLaunchTemplateID is an ID no launch template has: "lt-" and 17
// random hex digits.
func (s *server) newLaunchTemplateID() (string, error) {
	all, err := s.lts.All()
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, lt := range rows[LaunchTemplate](all).values() {
		used[lt.ID] = true
	}
	for {
		if id := randomID("lt"); !used[id] {
			return id, nil
		}
	}
}

// Launch template attrs of the version before the table.
const (
	ltReservation = "capacity_reservation_id"
	ltPreference  = "capacity_reservation_preference"
	ltMarketType  = "market_type"
)

// openLaunchTemplates opens the table. A world of the version before it
// kept each template as an engine object of kind "LaunchTemplate" of the
// same name with flat attrs (name, region, client_token, created,
// instance_type, user_data and, when given, capacity_reservation_id,
// capacity_reservation_preference, market_type); its ID was "lt-" and the
// object's engine sequence number as 17 hex digits.
func openLaunchTemplates(e *cloudsim.Engine) *cloudsim.Table[LaunchTemplate] {
	return cloudsim.NewTable[LaunchTemplate](e, cloudName, kindLaunchTemplate, cloudsim.TableOptions{
		Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindLaunchTemplate {
				return nil, false, nil
			}
			lt, err := legacyLaunchTemplate(o)
			return &lt, true, err
		}})
}

// legacyLaunchTemplate reads a launch template object of the version
// before the table.
func legacyLaunchTemplate(o cloudsim.Object) (LaunchTemplate, error) {
	i := strings.LastIndex(o.ID, "-")
	n, err := strconv.ParseInt(o.ID[i+1:], 10, 64)
	if err != nil {
		return LaunchTemplate{}, fmt.Errorf("launch template %s: object ID %q: %w", o.Name, o.ID, err)
	}
	a := &oldAttrs{m: o.Attrs}
	lt := LaunchTemplate{ID: fmt.Sprintf("lt-%017x", n), Name: a.str("name"), Region: a.str("region"),
		ClientToken: a.str("client_token"), Created: a.time("created"), InstanceType: a.str("instance_type"),
		UserData: a.str("user_data"), CapacityReservationID: a.str(ltReservation),
		CapacityReservationPreference: a.str(ltPreference), MarketType: a.str(ltMarketType)}
	return lt, a.err
}

// LaunchTemplates are the launch templates of the simulated EC2 in e,
// every region's, in row-name order (for the checks of tests and tools).
func LaunchTemplates(e *cloudsim.Engine) ([]LaunchTemplate, error) {
	all, err := openLaunchTemplates(e).All()
	return rows[LaunchTemplate](all).values(), err
}

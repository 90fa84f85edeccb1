package awsfront

// EC2 Auto Scaling (awsQuery, Version 2011-01-01, XML namespace
// http://autoscaling.amazonaws.com/doc/2011-01-01/), for the Auto Scaling
// groups behind EKS managed node groups: the group of a node group is
// eks-<nodegroup>-<uuid> (its resources.autoScalingGroups) and its
// instances are the engine pool's machines (cloudsim.Node: InstanceId,
// AvailabilityZone = the node's zone as the pool has it).
//
//   - DescribeAutoScalingInstances: InstanceIds (at most 50, each 1-19
//     characters) name instances; IDs that are in no group are left out
//     without an error, as the API reference says; no InstanceIds lists
//     every instance of the region (MaxRecords 1-50, NextToken an offset).
//     LifecycleState is Pending until the machine has booted, then
//     InService; HealthStatus HEALTHY.
//   - TerminateInstanceInAutoScalingGroup: InstanceId and
//     ShouldDecrementDesiredCapacity are required (ValidationError 400).
//     With false the engine replaces the machine (Engine.ReplaceNode: the
//     group launches a new instance, the size stays); the answer is the
//     Activity (InProgress). An instance in no group is ValidationError
//     "Instance Id not found - No managed instance found for instance ID:
//     <id>" (the answer EC2 Auto Scaling gives). true (terminate and
//     shrink the group) is not modelled: the engine removes machines only
//     by scaling a pool, so it is a ValidationError naming that.
//
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeAutoScalingInstances.html,
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_TerminateInstanceInAutoScalingGroup.html.
// Engine operations: TerminateInstanceInAutoScalingGroup -> ReplaceNode;
// DescribeAutoScalingInstances reads the inventory and is never throttled.
// Engine errors are answered as Auto Scaling answers them: Throttled ->
// Throttling 400, NotFound and Invalid -> ValidationError 400, Conflict
// -> ScalingActivityInProgress 400, anything else ResourceContention 500.

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const autoscalingNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

var autoscalingActions = map[string]bool{"DescribeAutoScalingInstances": true, "TerminateInstanceInAutoScalingGroup": true}

type asErr struct {
	Status        int
	Code, Message string
}

func (e *asErr) Error() string { return e.Code + ": " + e.Message }

func asValidation(format string, args ...any) error {
	return &asErr{400, "ValidationError", fmt.Sprintf(format, args...)}
}

func autoscalingError(err error) *asErr {
	var ae *asErr
	if errors.As(err, &ae) {
		return ae
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return &asErr{500, "ResourceContention", err.Error()}
	}
	switch ce.Kind {
	case cloud.KindThrottled:
		return &asErr{400, "Throttling", "Rate exceeded"}
	case cloud.KindNotFound, cloud.KindInvalid:
		return &asErr{400, "ValidationError", ce.Message}
	case cloud.KindConflict:
		return &asErr{400, "ScalingActivityInProgress", ce.Message}
	}
	return &asErr{500, "ResourceContention", ce.Message}
}

type asInstance struct {
	InstanceID           string `xml:"InstanceId"`
	InstanceType         string `xml:"InstanceType"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	AvailabilityZone     string `xml:"AvailabilityZone"`
	LifecycleState       string `xml:"LifecycleState"`
	HealthStatus         string `xml:"HealthStatus"`
	ProtectedFromScaleIn bool   `xml:"ProtectedFromScaleIn"`
}

type asActivity struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string `xml:"AutoScalingGroupName"`
	Description          string `xml:"Description"`
	Cause                string `xml:"Cause"`
	StartTime            string `xml:"StartTime"`
	StatusCode           string `xml:"StatusCode"`
	Progress             int    `xml:"Progress"`
	Details              string `xml:"Details"`
}

type asResult struct {
	XMLName   xml.Name
	Instances *[]asInstance `xml:"AutoScalingInstances>member,omitempty"`
	NextToken string        `xml:"NextToken,omitempty"`
	Activity  *asActivity   `xml:"Activity,omitempty"`
}

type asResponse struct {
	XMLName   xml.Name
	Xmlns     string    `xml:"xmlns,attr"`
	Result    *asResult `xml:",omitempty"`
	RequestID string    `xml:"ResponseMetadata>RequestId"`
}

func (s *server) serveAutoScaling(w http.ResponseWriter, r *http.Request, region string) {
	reqID := s.requestID()
	action := r.Form.Get("Action")
	var (
		res *asResult
		err error
	)
	switch action {
	case "DescribeAutoScalingInstances":
		res, err = s.describeAutoScalingInstances(r, region)
	case "TerminateInstanceInAutoScalingGroup":
		res, err = s.terminateInstanceInAutoScalingGroup(r, region)
	default:
		err = &asErr{400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2011-01-01", action)}
	}
	if err != nil {
		ae := autoscalingError(err)
		typ := "Sender"
		if ae.Status >= 500 {
			typ = "Receiver"
		}
		writeXML(w, ae.Status, iamErrorResponse{Xmlns: autoscalingNS, Type: typ, Code: ae.Code, Message: ae.Message, RequestID: reqID})
		return
	}
	res.XMLName = xml.Name{Local: action + "Result"}
	writeXML(w, http.StatusOK, asResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: autoscalingNS, Result: res, RequestID: reqID})
}

// asMachine is an engine machine with its pool.
type asMachine struct {
	pool cloudsim.Pool
	node cloudsim.Node
}

// machines are the region's machines in node groups, by pool then index.
func (s *server) machines(region string) []asMachine {
	var out []asMachine
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud != cloudName || p.Spec.Region != region {
			continue
		}
		for _, n := range p.Nodes {
			out = append(out, asMachine{p, n})
		}
	}
	return out
}

func (s *server) asInstanceOf(m asMachine) asInstance {
	state := "InService"
	if !m.node.Ready(s.e.Now()) {
		state = "Pending"
	}
	return asInstance{InstanceID: m.node.InstanceID, InstanceType: m.pool.Spec.InstanceType, AutoScalingGroupName: asgName(m.pool.Spec.Name, m.pool.ID),
		AvailabilityZone: m.node.Zone, LifecycleState: state, HealthStatus: "HEALTHY"}
}

// instanceIDs reads InstanceIds.member.N.
func instanceIDs(r *http.Request) ([]string, error) {
	var ids []string
	for i := 1; ; i++ {
		id, ok := r.Form["InstanceIds.member."+strconv.Itoa(i)]
		if !ok {
			break
		}
		ids = append(ids, id[0])
	}
	if len(ids) > 50 {
		return nil, asValidation("The number of instance ids that may be passed in is limited to 50.")
	}
	for _, id := range ids {
		if err := checkInstanceID("instanceIds", id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func checkInstanceID(field, id string) error {
	if len(id) < 1 || len(id) > 19 {
		return asValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to 19", id, field)
	}
	return nil
}

func (s *server) describeAutoScalingInstances(r *http.Request, region string) (*asResult, error) {
	ids, err := instanceIDs(r)
	if err != nil {
		return nil, err
	}
	limit := 50
	if v := r.Form.Get("MaxRecords"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 50 {
			return nil, asValidation("MaxRecords must be between 1 and 50")
		}
	}
	var all []asInstance
	for _, m := range s.machines(region) {
		if len(ids) == 0 || slices.Contains(ids, m.node.InstanceID) {
			all = append(all, s.asInstanceOf(m))
		}
	}
	start := 0
	if t := r.Form.Get("NextToken"); t != "" {
		if start, err = strconv.Atoi(t); err != nil || start < 0 || start > len(all) {
			return nil, &asErr{400, "InvalidNextToken", "The token '" + t + "' is invalid."}
		}
	}
	end := min(len(all), start+limit)
	page := append([]asInstance{}, all[start:end]...)
	res := &asResult{Instances: &page}
	if end < len(all) {
		res.NextToken = strconv.Itoa(end)
	}
	return res, nil
}

func (s *server) terminateInstanceInAutoScalingGroup(r *http.Request, region string) (*asResult, error) {
	id := r.Form.Get("InstanceId")
	if err := checkInstanceID("instanceId", id); err != nil {
		return nil, err
	}
	var decrement bool
	switch v := r.Form.Get("ShouldDecrementDesiredCapacity"); v {
	case "true":
		decrement = true
	case "false":
	default:
		return nil, asValidation("1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null")
	}
	i := slices.IndexFunc(s.machines(region), func(m asMachine) bool { return m.node.InstanceID == id })
	if i < 0 {
		return nil, asValidation("Instance Id not found - No managed instance found for instance ID: %s", id)
	}
	m := s.machines(region)[i]
	if decrement {
		return nil, asValidation("cloudsim models ShouldDecrementDesiredCapacity=false only: scale node group %s with UpdateNodegroupConfig to shrink it", m.pool.Spec.Name)
	}
	if err := s.e.ReplaceNode(cloudName, region, m.pool.Spec.Cluster, m.pool.Spec.Name, m.node.Name); err != nil {
		return nil, err
	}
	now := s.now()
	group := asgName(m.pool.Spec.Name, m.pool.ID)
	return &asResult{Activity: &asActivity{
		ActivityID: uuidFor(group + "/" + id + "/" + now.String()), AutoScalingGroupName: group,
		Description: "Terminating EC2 instance: " + id,
		Cause: fmt.Sprintf("At %s instance %s was taken out of service in response to a user request.",
			now.Format("2006-01-02T15:04:05Z"), id),
		StartTime: now.Format("2006-01-02T15:04:05.000Z"), StatusCode: "InProgress", Progress: 0,
		Details: fmt.Sprintf(`{"Availability Zone":%q}`, m.node.Zone),
	}}, nil
}

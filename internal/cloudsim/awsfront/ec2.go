package awsfront

import (
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const ec2NS = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ec2Actions are the EC2 actions served (network.go adds its own).
var ec2Actions = map[string]bool{
	"CreateLaunchTemplate": true, "DescribeLaunchTemplates": true, "DeleteLaunchTemplate": true,
	"DescribeLaunchTemplateVersions": true,
}

// ec2Err is an EC2 error reply: <Response><Errors><Error><Code>…</Code>
// <Message>…</Message></Error></Errors><RequestID>…</RequestID></Response>.
type ec2Err struct {
	Status        int
	Code, Message string
}

func (e *ec2Err) Error() string { return e.Code + ": " + e.Message }

// engineCodes are the engine's own generic codes, which each front end
// translates; any other Code of a *cloud.Error (an injected fault) is the
// cloud's own and passes through.
var engineCodes = map[string]bool{
	"": true, "NotFound": true, "AlreadyExists": true, "ThrottlingException": true, "ResourceInUseException": true,
	"InvalidRequestException": true, "QuotaExceeded": true, "InsufficientCapacity": true,
}

// ec2Error maps an engine error to EC2's: NotFound -> notFound code,
// Conflict -> conflict code (both per operation) 400, Invalid ->
// InvalidParameterValue 400, Throttled -> RequestLimitExceeded 503,
// Transient -> Unavailable 503, Quota -> LaunchTemplateLimitExceeded 400,
// Capacity -> InsufficientInstanceCapacity 500, Fatal -> InternalError 500.
// Injected faults with their own code keep it (status by kind).
func ec2Error(err error, notFound, conflict string) *ec2Err {
	var ee *ec2Err
	if errors.As(err, &ee) {
		return ee
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return &ec2Err{500, "InternalError", err.Error()}
	}
	out := &ec2Err{Message: ce.Message}
	switch ce.Kind {
	case cloud.KindNotFound:
		out.Status, out.Code = 400, notFound
	case cloud.KindConflict:
		out.Status, out.Code = 400, conflict
	case cloud.KindInvalid:
		out.Status, out.Code = 400, "InvalidParameterValue"
	case cloud.KindThrottled:
		out.Status, out.Code, out.Message = 503, "RequestLimitExceeded", "Request limit exceeded."
	case cloud.KindTransient:
		out.Status, out.Code = 503, "Unavailable"
	case cloud.KindQuota:
		out.Status, out.Code = 400, "LaunchTemplateLimitExceeded"
	case cloud.KindCapacity:
		out.Status, out.Code = 500, "InsufficientInstanceCapacity"
	default:
		out.Status, out.Code = 500, "InternalError"
	}
	if !engineCodes[ce.Code] {
		out.Code = ce.Code
	}
	return out
}

type ec2ErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeXML(w http.ResponseWriter, status int, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(data)
}

type ec2LaunchTemplate struct {
	CreateTime           string `xml:"createTime,omitempty"`
	CreatedBy            string `xml:"createdBy"`
	DefaultVersionNumber int    `xml:"defaultVersionNumber"`
	LatestVersionNumber  int    `xml:"latestVersionNumber"`
	LaunchTemplateID     string `xml:"launchTemplateId"`
	LaunchTemplateName   string `xml:"launchTemplateName"`
}

type ec2LaunchTemplateVersion struct {
	CreateTime         string `xml:"createTime,omitempty"`
	CreatedBy          string `xml:"createdBy"`
	DefaultVersion     bool   `xml:"defaultVersion"`
	LaunchTemplateID   string `xml:"launchTemplateId"`
	LaunchTemplateName string `xml:"launchTemplateName"`
	VersionNumber      int    `xml:"versionNumber"`
	Data               struct {
		InstanceType string `xml:"instanceType,omitempty"`
		UserData     string `xml:"userData,omitempty"`
		// The capacity a launch uses (reservations.go).
		InstanceMarketOptions            *xMarketOptions           `xml:"instanceMarketOptions,omitempty"`
		CapacityReservationSpecification *xCapacityReservationSpec `xml:"capacityReservationSpecification,omitempty"`
	} `xml:"launchTemplateData"`
}

type ec2LTResponse struct {
	XMLName        xml.Name
	Xmlns          string             `xml:"xmlns,attr"`
	RequestID      string             `xml:"requestId"`
	LaunchTemplate *ec2LaunchTemplate `xml:"launchTemplate"`
}

type ec2DescribeLTResponse struct {
	XMLName   xml.Name            `xml:"DescribeLaunchTemplatesResponse"`
	Xmlns     string              `xml:"xmlns,attr"`
	RequestID string              `xml:"requestId"`
	Items     []ec2LaunchTemplate `xml:"launchTemplates>item"`
}

type ec2DescribeLTVResponse struct {
	XMLName   xml.Name                   `xml:"DescribeLaunchTemplateVersionsResponse"`
	Xmlns     string                     `xml:"xmlns,attr"`
	RequestID string                     `xml:"requestId"`
	Items     []ec2LaunchTemplateVersion `xml:"launchTemplateVersionSet>item"`
}

// launchTemplateID is the EC2 ID of a launch template object: "lt-" and
// the engine sequence number as 17 hex digits.
func launchTemplateID(o cloudsim.Object) string {
	i := strings.LastIndex(o.ID, "-")
	n, _ := strconv.ParseInt(o.ID[i+1:], 10, 64)
	return fmt.Sprintf("lt-%017x", n)
}

func (s *server) ltJSON(o cloudsim.Object) ec2LaunchTemplate {
	return ec2LaunchTemplate{CreateTime: o.Attrs["created"], CreatedBy: fmt.Sprintf("arn:aws:iam::%s:root", s.opts.AccountID),
		DefaultVersionNumber: 1, LatestVersionNumber: 1, LaunchTemplateID: launchTemplateID(o), LaunchTemplateName: o.Attrs["name"]}
}

// formList returns the values of a flattened EC2 list parameter
// (Name.1, Name.2, …) in index order.
func formList(r *http.Request, name string) []string {
	type kv struct {
		i int
		v string
	}
	var items []kv
	for k, vs := range r.Form {
		if !strings.HasPrefix(k, name+".") || len(vs) == 0 {
			continue
		}
		i, err := strconv.Atoi(strings.TrimPrefix(k, name+"."))
		if err != nil {
			continue
		}
		items = append(items, kv{i, vs[0]})
	}
	slices.SortFunc(items, func(a, b kv) int { return a.i - b.i })
	var out []string
	for _, it := range items {
		out = append(out, it.v)
	}
	return out
}

func (s *server) serveEC2(w http.ResponseWriter, r *http.Request, region string) {
	reqID := s.requestID()
	action := r.Form.Get("Action")
	var (
		v   any
		err error
	)
	switch action {
	case "CreateLaunchTemplate":
		v, err = s.createLaunchTemplate(r, region, reqID)
	case "DescribeLaunchTemplates":
		v, err = s.describeLaunchTemplates(r, region, reqID)
	case "DescribeLaunchTemplateVersions":
		v, err = s.describeLaunchTemplateVersions(r, region, reqID)
	case "DeleteLaunchTemplate":
		v, err = s.deleteLaunchTemplate(r, region, reqID)
	default:
		if h := networkActions[action]; h != nil { // network.go
			v, err = s.serveNetwork(h, r, region, reqID)
			break
		}
		err = &ec2Err{400, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action)}
	}
	if err != nil {
		var ee *ec2Err
		if !errors.As(err, &ee) {
			ee = ec2Error(err, "InternalError", "InternalError")
		}
		writeXML(w, ee.Status, ec2ErrorResponse{Code: ee.Code, Message: ee.Message, RequestID: reqID})
		return
	}
	writeXML(w, http.StatusOK, v)
}

// launchTemplates lists the region's launch template objects without
// going through rate limits and faults.
func (s *server) launchTemplates(region string) []cloudsim.Object {
	var out []cloudsim.Object
	for _, o := range s.e.Inventory().Objects {
		if o.Cloud == cloudName && o.Kind == "LaunchTemplate" && o.Attrs["region"] == region {
			out = append(out, o)
		}
	}
	return out
}

func ltNameNotFound(name string) error {
	return &ec2Err{400, "InvalidLaunchTemplateName.NotFoundException",
		fmt.Sprintf("The specified launch template, with template name %s, does not exist.", name)}
}

func ltIDNotFound(id string) error {
	if !strings.HasPrefix(id, "lt-") {
		return &ec2Err{400, "InvalidLaunchTemplateId.Malformed", fmt.Sprintf("The specified ID for the launch template is malformed: %s", id)}
	}
	return &ec2Err{400, "InvalidLaunchTemplateId.NotFound", fmt.Sprintf("The specified launch template, with template ID %s, does not exist.", id)}
}

// ltByID finds a launch template's name by ID.
func (s *server) ltByID(region, id string) (string, error) {
	for _, o := range s.launchTemplates(region) {
		if launchTemplateID(o) == id {
			return o.Attrs["name"], nil
		}
	}
	return "", ltIDNotFound(id)
}

// createLaunchTemplate stores LaunchTemplateName with
// LaunchTemplateData.UserData and .InstanceType. As on EC2, an existing
// name is InvalidLaunchTemplateName.AlreadyExistsException unless the
// request repeats the first create's ClientToken with the same data (then
// it returns the first template; other data with that token is
// IdempotentParameterMismatch).
var launchTemplateName = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]+$`)

func (s *server) createLaunchTemplate(r *http.Request, region, reqID string) (any, error) {
	name := r.Form.Get("LaunchTemplateName")
	if name == "" {
		return nil, &ec2Err{400, "MissingParameter", "The request must contain the parameter LaunchTemplateName"}
	}
	// EC2 API reference, CreateLaunchTemplate: LaunchTemplateName is 3-128
	// characters of [a-zA-Z0-9\(\)\.\-/_]; LaunchTemplateData is required.
	if n := len(name); n < 3 || n > 128 || !launchTemplateName.MatchString(name) {
		return nil, &ec2Err{400, "InvalidLaunchTemplateName.MalformedException",
			"A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _."}
	}
	hasData := false
	for k := range r.Form {
		hasData = hasData || strings.HasPrefix(k, "LaunchTemplateData.")
	}
	if !hasData {
		return nil, &ec2Err{400, "MissingParameter", "The request must contain the parameter LaunchTemplateData"}
	}
	token := r.Form.Get("ClientToken")
	attrs := map[string]string{
		"name": name, "region": region, "user_data": r.Form.Get("LaunchTemplateData.UserData"),
		"instance_type": r.Form.Get("LaunchTemplateData.InstanceType"), "client_token": token,
	}
	if err := launchTemplateCapacity(r, attrs); err != nil {
		return nil, err
	}
	exists := func() error {
		return &ec2Err{400, "InvalidLaunchTemplateName.AlreadyExistsException",
			fmt.Sprintf("Launch template name already in use: %s", name)}
	}
	for _, o := range s.launchTemplates(region) {
		if o.Attrs["name"] != name {
			continue
		}
		if token == "" || o.Attrs["client_token"] != token {
			return nil, exists()
		}
		created := o.Attrs["created"]
		attrs["created"] = created
		if !maps.Equal(attrs, o.Attrs) {
			return nil, &ec2Err{400, "IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted or has different parameters."}
		}
	}
	if attrs["created"] == "" {
		attrs["created"] = s.now().Format("2006-01-02T15:04:05.000Z")
	}
	o, err := s.e.PutObject(cloudName, "LaunchTemplate", region+"/"+name, attrs)
	if err != nil {
		return nil, ec2Error(err, "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateName.AlreadyExistsException")
	}
	lt := s.ltJSON(o)
	return ec2LTResponse{XMLName: xml.Name{Local: "CreateLaunchTemplateResponse"}, Xmlns: ec2NS, RequestID: reqID, LaunchTemplate: &lt}, nil
}

// lookupLaunchTemplates resolves LaunchTemplateName.N / LaunchTemplateId.N
// (or the singular LaunchTemplateName / LaunchTemplateId) through the
// engine (op GetLaunchTemplate); with neither it lists the region.
func (s *server) lookupLaunchTemplates(r *http.Request, region string) ([]cloudsim.Object, error) {
	names := formList(r, "LaunchTemplateName")
	ids := formList(r, "LaunchTemplateId")
	if n := r.Form.Get("LaunchTemplateName"); n != "" {
		names = append(names, n)
	}
	if id := r.Form.Get("LaunchTemplateId"); id != "" {
		ids = append(ids, id)
	}
	if len(names) == 0 && len(ids) == 0 {
		return s.launchTemplates(region), nil
	}
	var out []cloudsim.Object
	get := func(name string, notFound error) error {
		o, err := s.e.GetObject(cloudName, "LaunchTemplate", region+"/"+name)
		if err != nil {
			if cloud.IsNotFound(err) {
				return notFound
			}
			return ec2Error(err, "InvalidLaunchTemplateName.NotFoundException", "InternalError")
		}
		out = append(out, o)
		return nil
	}
	for _, id := range ids {
		name, err := s.ltByID(region, id)
		if err != nil {
			return nil, err
		}
		if err := get(name, ltIDNotFound(id)); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		if err := get(name, &ec2Err{400, "InvalidLaunchTemplateName.NotFoundException",
			"At least one of the launch templates specified in the request does not exist."}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *server) describeLaunchTemplates(r *http.Request, region, reqID string) (any, error) {
	objs, err := s.lookupLaunchTemplates(r, region)
	if err != nil {
		return nil, err
	}
	out := ec2DescribeLTResponse{Xmlns: ec2NS, RequestID: reqID}
	for _, o := range objs {
		out.Items = append(out.Items, s.ltJSON(o))
	}
	return out, nil
}

// describeLaunchTemplateVersions reports version 1 (the only one) of a
// template with its data (userData, instanceType).
func (s *server) describeLaunchTemplateVersions(r *http.Request, region, reqID string) (any, error) {
	objs, err := s.lookupLaunchTemplates(r, region)
	if err != nil {
		return nil, err
	}
	out := ec2DescribeLTVResponse{Xmlns: ec2NS, RequestID: reqID}
	for _, o := range objs {
		v := ec2LaunchTemplateVersion{CreateTime: o.Attrs["created"], CreatedBy: fmt.Sprintf("arn:aws:iam::%s:root", s.opts.AccountID),
			DefaultVersion: true, LaunchTemplateID: launchTemplateID(o), LaunchTemplateName: o.Attrs["name"], VersionNumber: 1}
		v.Data.InstanceType = o.Attrs["instance_type"]
		v.Data.UserData = o.Attrs["user_data"]
		v.Data.InstanceMarketOptions, v.Data.CapacityReservationSpecification = launchTemplateCapacityXML(o)
		out.Items = append(out.Items, v)
	}
	return out, nil
}

func (s *server) deleteLaunchTemplate(r *http.Request, region, reqID string) (any, error) {
	name, id := r.Form.Get("LaunchTemplateName"), r.Form.Get("LaunchTemplateId")
	notFound := ltNameNotFound(name)
	switch {
	case id != "":
		n, err := s.ltByID(region, id)
		if err != nil {
			return nil, err
		}
		name, notFound = n, ltIDNotFound(id)
	case name == "":
		return nil, &ec2Err{400, "MissingParameter", "The request must contain the parameter LaunchTemplateName or LaunchTemplateId"}
	}
	var o cloudsim.Object
	for _, x := range s.launchTemplates(region) {
		if x.Attrs["name"] == name {
			o = x
		}
	}
	if err := s.e.DeleteObject(cloudName, "LaunchTemplate", region+"/"+name); err != nil {
		if cloud.IsNotFound(err) {
			return nil, notFound
		}
		return nil, ec2Error(err, "InvalidLaunchTemplateName.NotFoundException", "InternalError")
	}
	lt := s.ltJSON(o)
	return ec2LTResponse{XMLName: xml.Name{Local: "DeleteLaunchTemplateResponse"}, Xmlns: ec2NS, RequestID: reqID, LaunchTemplate: &lt}, nil
}

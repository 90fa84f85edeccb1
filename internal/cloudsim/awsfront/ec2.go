package awsfront

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
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

func (s *server) ltJSON(lt LaunchTemplate) ec2LaunchTemplate {
	return ec2LaunchTemplate{CreateTime: ec2Time(lt.Created), CreatedBy: fmt.Sprintf("arn:aws:iam::%s:root", s.opts.AccountID),
		DefaultVersionNumber: 1, LatestVersionNumber: 1, LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name}
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

// launchTemplates are the region's launch templates, read without going
// through rate limits and faults.
func (s *server) launchTemplates(region string) (rows[LaunchTemplate], error) {
	all, err := s.lts.All()
	if err != nil {
		return nil, err
	}
	return rows[LaunchTemplate](all).where(func(lt LaunchTemplate) bool { return lt.Region == region }), nil
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
	lts, err := s.launchTemplates(region)
	if err != nil {
		return "", err
	}
	for _, lt := range lts.values() {
		if lt.ID == id {
			return lt.Name, nil
		}
	}
	return "", ltIDNotFound(id)
}

// createLaunchTemplate stores LaunchTemplateName with
// LaunchTemplateData.UserData, .InstanceType and the capacity it launches
// into. As on EC2, an existing name is
// InvalidLaunchTemplateName.AlreadyExistsException unless the request
// repeats the first create's ClientToken with the same data (then it
// returns the first template; other data with that token is
// IdempotentParameterMismatch). The row is inserted, so that of two
// concurrent creates of one name only one makes a template.
func (s *server) createLaunchTemplate(r *http.Request, region, reqID string) (any, error) {
	lt := LaunchTemplate{Name: r.Form.Get("LaunchTemplateName"), Region: region, ClientToken: r.Form.Get("ClientToken"),
		UserData: r.Form.Get("LaunchTemplateData.UserData"), InstanceType: r.Form.Get("LaunchTemplateData.InstanceType")}
	if err := lt.checkName(); err != nil {
		return nil, err
	}
	// EC2 API reference, CreateLaunchTemplate: LaunchTemplateData is required.
	hasData := false
	for k := range r.Form {
		hasData = hasData || strings.HasPrefix(k, "LaunchTemplateData.")
	}
	if !hasData {
		return nil, &ec2Err{400, "MissingParameter", "The request must contain the parameter LaunchTemplateData"}
	}
	launchTemplateCapacity(r, &lt)
	if err := lt.checkCapacity(); err != nil {
		return nil, err
	}
	stored, err := s.storeLaunchTemplate(lt)
	if err != nil {
		return nil, ec2Error(err, "InvalidLaunchTemplateName.NotFoundException", "InvalidLaunchTemplateName.AlreadyExistsException")
	}
	out := s.ltJSON(stored)
	return ec2LTResponse{XMLName: xml.Name{Local: "CreateLaunchTemplateResponse"}, Xmlns: ec2NS, RequestID: reqID, LaunchTemplate: &out}, nil
}

// lookupLaunchTemplates resolves LaunchTemplateName.N / LaunchTemplateId.N
// (or the singular LaunchTemplateName / LaunchTemplateId) through the
// engine (op GetLaunchTemplate); with neither it lists the region.
func (s *server) lookupLaunchTemplates(r *http.Request, region string) ([]LaunchTemplate, error) {
	names := formList(r, "LaunchTemplateName")
	ids := formList(r, "LaunchTemplateId")
	if n := r.Form.Get("LaunchTemplateName"); n != "" {
		names = append(names, n)
	}
	if id := r.Form.Get("LaunchTemplateId"); id != "" {
		ids = append(ids, id)
	}
	if len(names) == 0 && len(ids) == 0 {
		lts, err := s.launchTemplates(region)
		return lts.values(), err
	}
	var out []LaunchTemplate
	get := func(name string, notFound error) error {
		o, err := s.lts.Get(region + "/" + name)
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
	lts, err := s.lookupLaunchTemplates(r, region)
	if err != nil {
		return nil, err
	}
	out := ec2DescribeLTResponse{Xmlns: ec2NS, RequestID: reqID}
	for _, lt := range lts {
		out.Items = append(out.Items, s.ltJSON(lt))
	}
	return out, nil
}

// describeLaunchTemplateVersions reports version 1 (the only one) of a
// template with its data (userData, instanceType).
func (s *server) describeLaunchTemplateVersions(r *http.Request, region, reqID string) (any, error) {
	lts, err := s.lookupLaunchTemplates(r, region)
	if err != nil {
		return nil, err
	}
	out := ec2DescribeLTVResponse{Xmlns: ec2NS, RequestID: reqID}
	for _, lt := range lts {
		v := ec2LaunchTemplateVersion{CreateTime: ec2Time(lt.Created), CreatedBy: fmt.Sprintf("arn:aws:iam::%s:root", s.opts.AccountID),
			DefaultVersion: true, LaunchTemplateID: lt.ID, LaunchTemplateName: lt.Name, VersionNumber: 1}
		v.Data.InstanceType = lt.InstanceType
		v.Data.UserData = lt.UserData
		v.Data.InstanceMarketOptions, v.Data.CapacityReservationSpecification = launchTemplateCapacityXML(lt)
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
	lt, _, err := s.lts.Lookup(region + "/" + name)
	if err != nil {
		return nil, err
	}
	if err := s.lts.Delete(region + "/" + name); err != nil {
		if cloud.IsNotFound(err) {
			return nil, notFound
		}
		return nil, ec2Error(err, "InvalidLaunchTemplateName.NotFoundException", "InternalError")
	}
	out := s.ltJSON(lt)
	return ec2LTResponse{XMLName: xml.Name{Local: "DeleteLaunchTemplateResponse"}, Xmlns: ec2NS, RequestID: reqID, LaunchTemplate: &out}, nil
}

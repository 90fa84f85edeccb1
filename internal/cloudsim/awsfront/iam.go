package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"

var iamActions = map[string]bool{
	"CreateRole": true, "GetRole": true, "DeleteRole": true, "AttachRolePolicy": true,
	"DetachRolePolicy": true, "ListAttachedRolePolicies": true,
}

// iamErr is an IAM error reply: <ErrorResponse><Error><Type>Sender</Type>
// <Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId>
// </ErrorResponse>.
type iamErr struct {
	Status        int
	Code, Message string
}

func (e *iamErr) Error() string { return e.Code + ": " + e.Message }

// iamError maps an engine error to IAM's: NotFound -> NoSuchEntity 404,
// Conflict -> EntityAlreadyExists 409, Invalid -> InvalidInput 400,
// Throttled -> Throttling 400, Quota -> LimitExceeded 409, Transient,
// Capacity and Fatal -> ServiceFailure 500. Injected faults with their own
// code keep it (status by kind).
func iamError(err error) *iamErr {
	var ie *iamErr
	if errors.As(err, &ie) {
		return ie
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return &iamErr{500, "ServiceFailure", err.Error()}
	}
	out := &iamErr{Message: ce.Message}
	switch ce.Kind {
	case cloud.KindNotFound:
		out.Status, out.Code = 404, "NoSuchEntity"
	case cloud.KindConflict:
		out.Status, out.Code = 409, "EntityAlreadyExists"
	case cloud.KindInvalid:
		out.Status, out.Code = 400, "InvalidInput"
	case cloud.KindThrottled:
		out.Status, out.Code, out.Message = 400, "Throttling", "Rate exceeded"
	case cloud.KindQuota:
		out.Status, out.Code = 409, "LimitExceeded"
	default:
		out.Status, out.Code = 500, "ServiceFailure"
	}
	if !engineCodes[ce.Code] {
		out.Code = ce.Code
	}
	return out
}

type iamErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

type iamRole struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string `xml:"Description,omitempty"`
	MaxSessionDuration       int    `xml:"MaxSessionDuration"`
}

type iamAttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

// iamResponse is <{Action}Response xmlns=…><{Action}Result>…</…Result>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></…Response>.
type iamResponse struct {
	XMLName   xml.Name
	Xmlns     string     `xml:"xmlns,attr"`
	Result    *iamResult `xml:",omitempty"`
	RequestID string     `xml:"ResponseMetadata>RequestId"`
}

type iamResult struct {
	XMLName          xml.Name
	Role             *iamRole             `xml:"Role,omitempty"`
	AttachedPolicies *[]iamAttachedPolicy `xml:"AttachedPolicies>member,omitempty"`
	IsTruncated      *bool                `xml:"IsTruncated,omitempty"`
}

// policyEscape encodes a policy document the way IAM returns it
// (RFC 3986 percent-encoding); callers url.QueryUnescape it.
func policyEscape(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

// Kinds of the IAM tables.
const (
	kindRole       = "Role"
	kindRolePolicy = "RolePolicyAttachment"
)

// roleRow is an IAM role as its table keeps it (rows named by RoleName).
type roleRow struct {
	ID               string `json:"id"` // RoleId
	Path             string `json:"path"`
	AssumeRolePolicy string `json:"assumeRolePolicy"`
	Description      string `json:"description,omitempty"`
	Created          string `json:"created,omitempty"` // CreateDate as IAM answers it
}

// rolePolicy is a managed policy attached to a role (rows named
// RoleName|PolicyArn).
type rolePolicy struct {
	Role      string `json:"role"`
	PolicyArn string `json:"policyArn"`
}

// iamTables are the IAM resources.
type iamTables struct {
	roles    *cloudsim.Table[roleRow]
	policies *cloudsim.Table[rolePolicy]
}

// openIAM opens the tables. A world of the version before them kept each
// role as an engine object of kind "Role" (attrs assume_role_policy, path,
// description, created; its RoleId from the object's ID) and each
// attachment as one of kind "RolePolicyAttachment" (attrs role,
// policy_arn): those move into the tables.
func openIAM(e *cloudsim.Engine) iamTables {
	return iamTables{
		roles: cloudsim.NewTable[roleRow](e, cloudName, kindRole, cloudsim.TableOptions{Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindRole {
				return nil, false, nil
			}
			n, err := strconv.ParseInt(o.ID[strings.LastIndex(o.ID, "-")+1:], 10, 64)
			if err != nil {
				return nil, true, fmt.Errorf("role ID %q: %w", o.ID, err)
			}
			return &roleRow{ID: fmt.Sprintf("AROA%017X", n), Path: o.Attrs["path"], AssumeRolePolicy: o.Attrs["assume_role_policy"],
				Description: o.Attrs["description"], Created: o.Attrs["created"]}, true, nil
		}}),
		policies: cloudsim.NewTable[rolePolicy](e, cloudName, kindRolePolicy, cloudsim.TableOptions{Legacy: func(o cloudsim.Object) (any, bool, error) {
			if o.Kind != kindRolePolicy {
				return nil, false, nil
			}
			return &rolePolicy{Role: o.Attrs["role"], PolicyArn: o.Attrs["policy_arn"]}, true, nil
		}}),
	}
}

// newRoleID makes a RoleId: "AROA" and 17 random hex digits.
func newRoleID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "AROA" + strings.ToUpper(hex.EncodeToString(b[:])[:17])
}

func (s *server) roleXML(name string, r roleRow) *iamRole {
	return &iamRole{
		Path: r.Path, RoleName: name, RoleID: r.ID,
		Arn:        fmt.Sprintf("arn:aws:iam::%s:role%s%s", s.opts.AccountID, r.Path, name),
		CreateDate: r.Created, AssumeRolePolicyDocument: policyEscape(r.AssumeRolePolicy),
		Description: r.Description, MaxSessionDuration: 3600,
	}
}

func (s *server) serveIAM(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID()
	action := r.Form.Get("Action")
	var (
		res *iamResult
		err error
	)
	switch action {
	case "CreateRole":
		res, err = s.createRole(r)
	case "GetRole":
		res, err = s.describeRole(r)
	case "DeleteRole":
		err = s.deleteRole(r)
	case "AttachRolePolicy":
		err = s.attachRolePolicy(r)
	case "DetachRolePolicy":
		err = s.detachRolePolicy(r)
	case "ListAttachedRolePolicies":
		res, err = s.listAttachedRolePolicies(r)
	default:
		err = &iamErr{400, "InvalidAction", fmt.Sprintf("Could not find operation %s for version 2010-05-08", action)}
	}
	if err != nil {
		ie := iamError(err)
		typ := "Sender"
		if ie.Status >= 500 {
			typ = "Receiver"
		}
		writeXML(w, ie.Status, iamErrorResponse{Xmlns: iamNS, Type: typ, Code: ie.Code, Message: ie.Message, RequestID: reqID})
		return
	}
	if res != nil {
		res.XMLName = xml.Name{Local: action + "Result"}
	}
	writeXML(w, http.StatusOK, iamResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: iamNS, Result: res, RequestID: reqID})
}

func noSuchRole(name string) error {
	return &iamErr{404, "NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name)}
}

func (s *server) roleName(r *http.Request) (string, error) {
	name := r.Form.Get("RoleName")
	if name == "" {
		return "", &iamErr{400, "ValidationError", "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null"}
	}
	return name, nil
}

// attachments lists a role's attached policy ARNs, sorted, without going
// through rate limits and faults.
func (s *server) attachments(role string) ([]string, error) {
	rows, err := s.iam.policies.All()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		if r.Value.Role == role {
			out = append(out, r.Value.PolicyArn)
		}
	}
	slices.Sort(out)
	return out, nil
}

// getRole reads a role (GetRole): NoSuchEntity when there is none.
func (s *server) getRole(name string) (roleRow, error) {
	r, err := s.iam.roles.Get(name)
	if cloud.IsNotFound(err) {
		return r, noSuchRole(name)
	}
	return r, err
}

// createRole: an existing name is EntityAlreadyExists (409), as on IAM.
func (s *server) createRole(r *http.Request) (*iamResult, error) {
	name, err := s.roleName(r)
	if err != nil {
		return nil, err
	}
	doc := r.Form.Get("AssumeRolePolicyDocument")
	if doc == "" {
		return nil, &iamErr{400, "ValidationError", "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"}
	}
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return nil, &iamErr{400, "MalformedPolicyDocument", "This policy contains invalid Json"}
	}
	path := r.Form.Get("Path")
	if path == "" {
		path = "/"
	}
	if _, ok, err := s.iam.roles.Lookup(name); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return nil, roleExists(name)
	}
	ro := roleRow{ID: newRoleID(), Path: path, AssumeRolePolicy: doc, Description: r.Form.Get("Description"),
		Created: s.now().Format("2006-01-02T15:04:05Z")}
	// Insert, not Put: of two concurrent creates one is EntityAlreadyExists.
	if err := s.iam.roles.Insert(name, ro); err != nil {
		if cloud.IsConflict(err) {
			return nil, roleExists(name)
		}
		return nil, err
	}
	return &iamResult{Role: s.roleXML(name, ro)}, nil
}

// roleExists is IAM's answer to a create of a role name in use.
func roleExists(name string) error {
	return &iamErr{409, "EntityAlreadyExists", fmt.Sprintf("Role with name %s already exists.", name)}
}

func (s *server) describeRole(r *http.Request) (*iamResult, error) {
	name, err := s.roleName(r)
	if err != nil {
		return nil, err
	}
	ro, err := s.getRole(name)
	if err != nil {
		return nil, err
	}
	return &iamResult{Role: s.roleXML(name, ro)}, nil
}

// deleteRole: attached policies make it DeleteConflict (409).
func (s *server) deleteRole(r *http.Request) error {
	name, err := s.roleName(r)
	if err != nil {
		return err
	}
	att, err := s.attachments(name)
	if err != nil {
		return err
	}
	if len(att) > 0 {
		return &iamErr{409, "DeleteConflict", "Cannot delete entity, must detach all policies first."}
	}
	if err := s.iam.roles.Delete(name); err != nil {
		if cloud.IsNotFound(err) {
			return noSuchRole(name)
		}
		return err
	}
	return nil
}

func policyArn(r *http.Request) (string, error) {
	arn := r.Form.Get("PolicyArn")
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":policy/") {
		return "", &iamErr{400, "InvalidInput", fmt.Sprintf("ARN %s is not valid.", arn)}
	}
	return arn, nil
}

// attachRolePolicy is idempotent, as on IAM (engine ops GetRole, then
// CreateRolePolicyAttachment).
func (s *server) attachRolePolicy(r *http.Request) error {
	name, err := s.roleName(r)
	if err != nil {
		return err
	}
	arn, err := policyArn(r)
	if err != nil {
		return err
	}
	if _, err := s.getRole(name); err != nil {
		return err
	}
	return s.iam.policies.Put(name+"|"+arn, rolePolicy{Role: name, PolicyArn: arn})
}

// detachRolePolicy: a policy that is not attached is NoSuchEntity (engine
// ops GetRole, then DeleteRolePolicyAttachment).
func (s *server) detachRolePolicy(r *http.Request) error {
	name, err := s.roleName(r)
	if err != nil {
		return err
	}
	arn, err := policyArn(r)
	if err != nil {
		return err
	}
	if _, err := s.getRole(name); err != nil {
		return err
	}
	if err := s.iam.policies.Delete(name + "|" + arn); err != nil {
		if cloud.IsNotFound(err) {
			return &iamErr{404, "NoSuchEntity", fmt.Sprintf("Policy %s was not found.", arn)}
		}
		return err
	}
	return nil
}

// listAttachedRolePolicies lists all attachments in one page (engine op
// GetRole for the role).
func (s *server) listAttachedRolePolicies(r *http.Request) (*iamResult, error) {
	name, err := s.roleName(r)
	if err != nil {
		return nil, err
	}
	if _, err := s.getRole(name); err != nil {
		return nil, err
	}
	att, err := s.attachments(name)
	if err != nil {
		return nil, err
	}
	pols := []iamAttachedPolicy{}
	for _, arn := range att {
		pols = append(pols, iamAttachedPolicy{PolicyName: arn[strings.LastIndex(arn, "/")+1:], PolicyArn: arn})
	}
	f := false
	return &iamResult{AttachedPolicies: &pols, IsTruncated: &f}, nil
}

// The roles EKS takes, as EKS checks them when a cluster or a managed node
// group is created:
//   - the cluster role must exist and trust eks.amazonaws.com ("could not
//     be assumed": https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html);
//   - a managed node group's node role must trust ec2.amazonaws.com and
//     have AmazonEKSWorkerNodePolicy and an ECR read policy
//     (AmazonEC2ContainerRegistryReadOnly, or the newer PullOnly) attached,
//     or EKS refuses the node group with "The provided role doesn't have
//     the Amazon EKS Managed Policies associated with it"
//     (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html;
//     the message: https://github.com/aws/containers-roadmap/issues/1610).
//     AmazonEKS_CNI_Policy is not checked: it may be on the VPC CNI's own
//     IRSA role instead.
//
// EKS creates the access entry of a managed node group's role itself
// (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
const (
	eksWorkerNodePolicy = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
	ecrReadOnlyPolicy   = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	ecrPullOnlyPolicy   = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
)

// roleOfARN is the role name of an IAM role ARN (the last part of its
// path), "" if arn is not a role ARN.
func roleOfARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":role/")
	if !ok || !strings.HasPrefix(arn, "arn:aws") || rest == "" {
		return ""
	}
	return rest[strings.LastIndex(rest, "/")+1:]
}

// roleTrusts reports whether a role's trust policy lets service assume it
// (an Allow statement with the service principal and sts:AssumeRole),
// without rate limits or faults; exists is false when there is no such
// role (name "" is none).
func (s *server) roleTrusts(name, service string) (exists, trusts bool, err error) {
	ro, ok, err := s.iam.roles.Lookup(name)
	if !ok || err != nil {
		return false, false, err
	}
	var doc struct {
		Statement []struct {
			Effect    string `json:"Effect"`
			Principal struct {
				Service any `json:"Service"`
			} `json:"Principal"`
			Action any `json:"Action"`
		} `json:"Statement"`
	}
	if json.Unmarshal([]byte(ro.AssumeRolePolicy), &doc) != nil {
		return true, false, nil
	}
	strs := func(v any) []string {
		switch x := v.(type) {
		case string:
			return []string{x}
		case []any:
			var out []string
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
		return nil
	}
	for _, st := range doc.Statement {
		if st.Effect == "Allow" && slices.Contains(strs(st.Principal.Service), service) && slices.Contains(strs(st.Action), "sts:AssumeRole") {
			return true, true, nil
		}
	}
	return true, false, nil
}

// checkClusterRole is EKS's check of CreateCluster's roleArn.
func (s *server) checkClusterRole(arn string) error {
	_, trusts, err := s.roleTrusts(roleOfARN(arn), "eks.amazonaws.com")
	if err != nil {
		return err
	}
	if !trusts {
		return badParam("Role with arn: %s, could not be assumed because it does not exist or the trusted entity is not right.", arn)
	}
	return nil
}

// checkNodeRole is EKS's check of CreateNodegroup's nodeRole.
func (s *server) checkNodeRole(arn string) error {
	name := roleOfARN(arn)
	exists, trusts, err := s.roleTrusts(name, "ec2.amazonaws.com")
	switch {
	case err != nil:
		return err
	case !exists:
		return badParam("Role with arn: %s, could not be assumed because it does not exist or the trusted entity is not right.", arn)
	case !trusts:
		return badParam("Following required service principals [ec2.amazonaws.com] were not found in the trust relationships of nodeRole %s", arn)
	}
	att, err := s.attachments(name)
	if err != nil {
		return err
	}
	if !slices.Contains(att, eksWorkerNodePolicy) || !(slices.Contains(att, ecrReadOnlyPolicy) || slices.Contains(att, ecrPullOnlyPolicy)) {
		return badParam("The provided role doesn't have the Amazon EKS Managed Policies associated with it. Please ensure the following policies [%s, %s] are attached", eksWorkerNodePolicy, ecrReadOnlyPolicy)
	}
	return nil
}

package awsfront

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

// EKS wire shapes (restJson1; member names as in the EKS model).

type eksScaling struct {
	MinSize     *int `json:"minSize,omitempty"`
	MaxSize     *int `json:"maxSize,omitempty"`
	DesiredSize *int `json:"desiredSize,omitempty"`
}

type eksTaint struct {
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect,omitempty"`
}

type eksLaunchTemplate struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	ID      string `json:"id,omitempty"`
}

type eksIssue struct {
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

type eksASG struct {
	Name string `json:"name"`
}

type eksNodegroup struct {
	NodegroupName  string            `json:"nodegroupName"`
	NodegroupArn   string            `json:"nodegroupArn"`
	ClusterName    string            `json:"clusterName"`
	Version        string            `json:"version,omitempty"`
	ReleaseVersion string            `json:"releaseVersion,omitempty"`
	CreatedAt      *float64          `json:"createdAt,omitempty"`
	ModifiedAt     *float64          `json:"modifiedAt,omitempty"`
	Status         string            `json:"status"`
	CapacityType   string            `json:"capacityType"`
	ScalingConfig  eksScaling        `json:"scalingConfig"`
	InstanceTypes  []string          `json:"instanceTypes"`
	Subnets        []string          `json:"subnets"`
	AmiType        string            `json:"amiType,omitempty"`
	NodeRole       string            `json:"nodeRole,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Taints         []eksTaint        `json:"taints,omitempty"`
	Resources      struct {
		AutoScalingGroups []eksASG `json:"autoScalingGroups"`
	} `json:"resources"`
	DiskSize *int `json:"diskSize,omitempty"`
	Health   struct {
		Issues []eksIssue `json:"issues"`
	} `json:"health"`
	UpdateConfig struct {
		MaxUnavailable int `json:"maxUnavailable"`
	} `json:"updateConfig"`
	LaunchTemplate *eksLaunchTemplate `json:"launchTemplate,omitempty"`
	Tags           map[string]string  `json:"tags,omitempty"`
}

type eksCluster struct {
	Name               string   `json:"name"`
	Arn                string   `json:"arn"`
	CreatedAt          *float64 `json:"createdAt,omitempty"`
	Version            string   `json:"version"`
	Endpoint           string   `json:"endpoint,omitempty"`
	RoleArn            string   `json:"roleArn,omitempty"`
	ResourcesVpcConfig struct {
		SubnetIDs             []string `json:"subnetIds"`
		SecurityGroupIDs      []string `json:"securityGroupIds"`
		VpcID                 string   `json:"vpcId,omitempty"`
		EndpointPublicAccess  bool     `json:"endpointPublicAccess"`
		EndpointPrivateAccess bool     `json:"endpointPrivateAccess"`
	} `json:"resourcesVpcConfig"`
	KubernetesNetworkConfig struct {
		ServiceIpv4Cidr string `json:"serviceIpv4Cidr"`
		IPFamily        string `json:"ipFamily"`
	} `json:"kubernetesNetworkConfig"`
	Status               string `json:"status"`
	CertificateAuthority *struct {
		Data string `json:"data"`
	} `json:"certificateAuthority,omitempty"`
	ClientRequestToken string            `json:"clientRequestToken,omitempty"`
	PlatformVersion    string            `json:"platformVersion"`
	Tags               map[string]string `json:"tags,omitempty"`
	AccessConfig       eksAccessConfig   `json:"accessConfig"`
}

// eksAccessConfig is CreateAccessConfigRequest and AccessConfigResponse
// (same members).
type eksAccessConfig struct {
	BootstrapClusterCreatorAdminPermissions *bool  `json:"bootstrapClusterCreatorAdminPermissions,omitempty"`
	AuthenticationMode                      string `json:"authenticationMode,omitempty"`
}

// authenticationModes are the EKS model's AuthenticationMode values.
var authenticationModes = []string{"API", "API_AND_CONFIG_MAP", "CONFIG_MAP"}

// accessConfigOf checks a CreateCluster accessConfig and fills EKS's
// defaults (EKS API reference, CreateAccessConfigRequest: "If you create
// a cluster by using the EKS API, Amazon Web Services SDKs, or
// CloudFormation, the default is CONFIG_MAP"; bootstrapClusterCreatorAdminPermissions
// "The default value is true";
// https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessConfigRequest.html).
func accessConfigOf(in *eksAccessConfig) (eksAccessConfig, error) {
	out := eksAccessConfig{AuthenticationMode: "CONFIG_MAP"}
	if in != nil {
		if in.AuthenticationMode != "" {
			if !slices.Contains(authenticationModes, in.AuthenticationMode) {
				return out, badParam("accessConfig.authenticationMode %q is not one of %s", in.AuthenticationMode, strings.Join(authenticationModes, ", "))
			}
			out.AuthenticationMode = in.AuthenticationMode
		}
		out.BootstrapClusterCreatorAdminPermissions = in.BootstrapClusterCreatorAdminPermissions
	}
	if out.BootstrapClusterCreatorAdminPermissions == nil {
		t := true
		out.BootstrapClusterCreatorAdminPermissions = &t
	}
	return out, nil
}

type eksUpdateParam struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type eksErrorDetail struct {
	ErrorCode    string   `json:"errorCode"`
	ErrorMessage string   `json:"errorMessage"`
	ResourceIDs  []string `json:"resourceIds,omitempty"`
}

type eksUpdate struct {
	ID        string           `json:"id"`
	Status    string           `json:"status"`
	Type      string           `json:"type"`
	Params    []eksUpdateParam `json:"params"`
	CreatedAt float64          `json:"createdAt"`
	Errors    []eksErrorDetail `json:"errors"`
}

// clusterMeta is what EKS reports about a cluster that the engine does not
// keep (a row of table "ClusterMeta", named region/cluster).
type clusterMeta struct {
	Token            string   `json:"token,omitempty"`
	RoleArn          string   `json:"roleArn,omitempty"`
	SubnetIDs        []string `json:"subnetIds,omitempty"`
	SecurityGroupIDs []string `json:"securityGroupIds,omitempty"`
	// VpcID is the VPC of the subnets when they are EC2 subnets.
	VpcID string `json:"vpcId,omitempty"`
	// ServiceCIDR is kubernetesNetworkConfig.serviceIpv4Cidr as created
	// (empty: the engine's default range).
	ServiceCIDR string    `json:"serviceCidr,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	// Access is accessConfig as created, defaults filled (clusters
	// created before accessConfig was modelled report CONFIG_MAP).
	Access *eksAccessConfig `json:"access,omitempty"`
}

// nodegroupMeta is what EKS reports about a node group that the engine
// does not keep (a row of table "NodegroupMeta", named region/cluster/nodegroup).
type nodegroupMeta struct {
	MinSize        int                `json:"minSize"`
	MaxSize        int                `json:"maxSize"`
	Subnets        []string           `json:"subnets,omitempty"`
	LaunchTemplate *eksLaunchTemplate `json:"launchTemplate,omitempty"`
	NodeRole       string             `json:"nodeRole,omitempty"`
	AmiType        string             `json:"amiType,omitempty"`
	DiskSize       *int               `json:"diskSize,omitempty"`
	Tags           map[string]string  `json:"tags,omitempty"`
	Version        string             `json:"version,omitempty"`
	ReleaseVersion string             `json:"releaseVersion,omitempty"`
	CreatedAt      time.Time          `json:"createdAt"`
	ModifiedAt     time.Time          `json:"modifiedAt"`
}

type nodegroupUpdate struct {
	Region, Cluster, Nodegroup string
	Update                     eksUpdate
}

// eksErr is an EKS error reply: HTTP status, X-Amzn-Errortype and a JSON
// body {"message": ..., "clusterName": ..., "nodegroupName": ...}.
type eksErr struct {
	Status  int
	Code    string
	Message string
}

func (e *eksErr) Error() string { return e.Code + ": " + e.Message }

// eksStatus is the HTTP status of each modeled EKS error.
var eksStatus = map[string]int{
	"AccessDeniedException": 403, "BadRequestException": 400, "ClientException": 400,
	"InvalidParameterException": 400, "InvalidRequestException": 400, "InvalidStateException": 400,
	"NotFoundException": 404, "ResourceInUseException": 409, "ResourceLimitExceededException": 400,
	"ResourceNotFoundException": 404, "ResourcePropagationDelayException": 428, "ServerException": 500,
	"ServiceUnavailableException": 503, "ThrottlingException": 429, "UnsupportedAvailabilityZoneException": 400,
}

// eksErrorCode maps an engine error to the EKS error code and HTTP status.
// A *cloud.Error whose Code is a modeled EKS error keeps it; otherwise by
// kind: NotFound -> ResourceNotFoundException 404, Conflict ->
// ResourceInUseException 409, Invalid -> InvalidParameterException 400,
// Throttled -> ThrottlingException 429, Transient ->
// ServiceUnavailableException 503, Capacity ->
// UnsupportedAvailabilityZoneException 400, Quota ->
// ResourceLimitExceededException 400, Fatal and anything else ->
// ServerException 500.
func eksErrorCode(err error) (string, int) {
	var ee *eksErr
	if errors.As(err, &ee) {
		return ee.Code, ee.Status
	}
	var ce *cloud.Error
	if !errors.As(err, &ce) {
		return "ServerException", 500
	}
	if st, ok := eksStatus[ce.Code]; ok {
		return ce.Code, st
	}
	code := map[cloud.Kind]string{
		cloud.KindNotFound: "ResourceNotFoundException", cloud.KindConflict: "ResourceInUseException",
		cloud.KindInvalid: "InvalidParameterException", cloud.KindThrottled: "ThrottlingException",
		cloud.KindTransient: "ServiceUnavailableException", cloud.KindCapacity: "UnsupportedAvailabilityZoneException",
		cloud.KindQuota: "ResourceLimitExceededException",
	}[ce.Kind]
	if code == "" {
		code = "ServerException"
	}
	return code, eksStatus[code]
}

func (s *server) eksFail(w http.ResponseWriter, reqID string, err error, cluster, nodegroup string) {
	code, status := eksErrorCode(err)
	msg := err.Error()
	var ce *cloud.Error
	var ee *eksErr
	switch {
	case errors.As(err, &ee):
		msg = ee.Message
	case errors.As(err, &ce):
		msg = ce.Message
	}
	body := map[string]string{"message": msg}
	if cluster != "" {
		body["clusterName"] = cluster
	}
	if nodegroup != "" {
		body["nodegroupName"] = nodegroup
	}
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, reqID, status, body)
}

func writeJSON(w http.ResponseWriter, reqID string, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = 500, []byte(`{"message":"awsfront: `+strconv.Quote(err.Error())+`"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func badParam(format string, args ...any) error {
	return &eksErr{Status: 400, Code: "InvalidParameterException", Message: fmt.Sprintf(format, args...)}
}

func epoch(t time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	f := float64(t.UnixNano()) / 1e9
	return &f
}

func (s *server) serveEKS(w http.ResponseWriter, r *http.Request, region string) {
	reqID := s.requestID()
	var segs []string
	for _, p := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		u, err := url.PathUnescape(p)
		if err != nil {
			u = p
		}
		segs = append(segs, u)
	}
	n := len(segs)
	route := func(method string, want int, tail ...string) bool {
		if r.Method != method || n != want || segs[0] != "clusters" {
			return false
		}
		for i, t := range tail {
			if t != "" && segs[2+2*i] != t {
				return false
			}
		}
		return true
	}
	var (
		v   any
		err error
	)
	cluster, ng := "", ""
	if n >= 2 {
		cluster = segs[1]
	}
	if n >= 4 && segs[2] == "node-groups" {
		ng = segs[3]
	}
	switch {
	case route(http.MethodPost, 1):
		v, err = s.createCluster(r, region)
	case route(http.MethodGet, 1):
		v, err = s.listClusters(r, region)
	case route(http.MethodGet, 2):
		v, err = s.describeCluster(region, cluster)
	case route(http.MethodDelete, 2):
		v, err = s.deleteCluster(region, cluster)
	case route(http.MethodPost, 3, "node-groups"):
		v, err = s.createNodegroup(r, region, cluster)
	case route(http.MethodGet, 3, "node-groups"):
		v, err = s.listNodegroups(r, region, cluster)
	case route(http.MethodGet, 4, "node-groups"):
		v, err = s.describeNodegroup(region, cluster, ng)
	case route(http.MethodDelete, 4, "node-groups"):
		v, err = s.deleteNodegroup(region, cluster, ng)
	case route(http.MethodPost, 5, "node-groups") && segs[4] == "update-config":
		v, err = s.updateNodegroupConfig(r, region, cluster, ng)
	case route(http.MethodGet, 4, "updates"):
		v, err = s.describeUpdate(r, region, cluster, segs[3])
	default:
		err = &eksErr{Status: 404, Code: "NotFoundException", Message: fmt.Sprintf("awsfront: no EKS operation for %s %s", r.Method, r.URL.Path)}
	}
	if err != nil {
		s.eksFail(w, reqID, err, cluster, ng)
		return
	}
	writeJSON(w, reqID, http.StatusOK, v)
}

func decodeBody(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badParam("malformed request body: %v", err)
	}
	return nil
}

// findCluster looks a cluster up without going through the engine's rate
// limits and faults (for the checks EKS makes before an operation).
func (s *server) findCluster(region, name string) (cloudsim.Cluster, bool) {
	return s.e.LookupCluster(cloudName, region, name)
}

func (s *server) findPool(region, cluster, name string) (cloudsim.Pool, bool) {
	return s.e.LookupPool(cloudName, region, cluster, name)
}

func noCluster(name string) error {
	return &eksErr{Status: 404, Code: "ResourceNotFoundException", Message: fmt.Sprintf("No cluster found for name: %s.", name)}
}

func noNodegroup(name string) error {
	return &eksErr{Status: 404, Code: "ResourceNotFoundException", Message: fmt.Sprintf("No node group found for name: %s.", name)}
}

func (s *server) clusterArn(region, name string) string {
	return fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", region, s.opts.AccountID, name)
}

func (s *server) clusterJSON(c cloudsim.Cluster, m clusterMeta) eksCluster {
	out := eksCluster{
		Name: c.Name, Arn: s.clusterArn(c.Region, c.Name), CreatedAt: epoch(m.CreatedAt), Version: c.Spec.KubernetesVersion,
		RoleArn: m.RoleArn, Status: strings.ToUpper(string(s.e.ClusterStatus(c))), ClientRequestToken: m.Token,
		PlatformVersion: "eks.1", Tags: c.Spec.Tags,
	}
	out.ResourcesVpcConfig.SubnetIDs = m.SubnetIDs
	out.ResourcesVpcConfig.SecurityGroupIDs = m.SecurityGroupIDs
	out.ResourcesVpcConfig.VpcID = m.VpcID
	out.ResourcesVpcConfig.EndpointPublicAccess = c.Spec.PublicEndpoint
	out.ResourcesVpcConfig.EndpointPrivateAccess = c.Spec.PrivateEndpoint
	out.KubernetesNetworkConfig.ServiceIpv4Cidr = c.ServiceCIDR
	if m.ServiceCIDR != "" {
		out.KubernetesNetworkConfig.ServiceIpv4Cidr = m.ServiceCIDR
	}
	out.KubernetesNetworkConfig.IPFamily = "ipv4"
	if m.Access != nil {
		out.AccessConfig = *m.Access
	} else {
		out.AccessConfig, _ = accessConfigOf(nil)
	}
	// As on EKS, the endpoint and CA are there once the cluster is active.
	if out.Status == "ACTIVE" {
		out.Endpoint = c.Endpoint
		out.CertificateAuthority = &struct {
			Data string `json:"data"`
		}{Data: c.CACertificate}
	}
	return out
}

func (s *server) createCluster(r *http.Request, region string) (any, error) {
	var req struct {
		Name               string `json:"name"`
		Version            string `json:"version"`
		RoleArn            string `json:"roleArn"`
		ResourcesVpcConfig struct {
			SubnetIDs             []string `json:"subnetIds"`
			SecurityGroupIDs      []string `json:"securityGroupIds"`
			EndpointPublicAccess  *bool    `json:"endpointPublicAccess"`
			EndpointPrivateAccess *bool    `json:"endpointPrivateAccess"`
		} `json:"resourcesVpcConfig"`
		KubernetesNetworkConfig *struct {
			ServiceIpv4Cidr string `json:"serviceIpv4Cidr"`
			IPFamily        string `json:"ipFamily"`
		} `json:"kubernetesNetworkConfig"`
		ClientRequestToken string            `json:"clientRequestToken"`
		Tags               map[string]string `json:"tags"`
		AccessConfig       *eksAccessConfig  `json:"accessConfig"`
	}
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, badParam("name is required")
	}
	if err := s.checkClusterRole(req.RoleArn); err != nil {
		return nil, err
	}
	access, err := accessConfigOf(req.AccessConfig)
	if err != nil {
		return nil, err
	}
	vpcID, err := s.clusterVpc(region, req.ResourcesVpcConfig.SubnetIDs)
	if err != nil {
		return nil, err
	}
	serviceCIDR := ""
	if k := req.KubernetesNetworkConfig; k != nil {
		if k.IPFamily != "" && k.IPFamily != "ipv4" {
			return nil, badParam("ipFamily %q is not supported by cloudsim; use ipv4", k.IPFamily)
		}
		if k.ServiceIpv4Cidr != "" {
			if err := checkServiceCIDR(k.ServiceIpv4Cidr); err != nil {
				return nil, err
			}
			if err := s.serviceOutsideVpc(region, vpcID, k.ServiceIpv4Cidr); err != nil {
				return nil, err
			}
			serviceCIDR = k.ServiceIpv4Cidr
		}
	}
	if req.Version == "" {
		req.Version = DefaultKubernetesVersion
	}
	spec := cloud.ClusterSpec{Name: req.Name, Region: region, KubernetesVersion: req.Version, PublicEndpoint: true, Tags: req.Tags}
	if p := req.ResourcesVpcConfig.EndpointPublicAccess; p != nil {
		spec.PublicEndpoint = *p
	}
	if p := req.ResourcesVpcConfig.EndpointPrivateAccess; p != nil {
		spec.PrivateEndpoint = *p
	}
	metaName := region + "/" + req.Name
	_, existed := s.findCluster(region, req.Name)
	var m clusterMeta
	if existed {
		// EKS: an existing name is ResourceInUseException, unless this is a
		// retry carrying the first create's clientRequestToken.
		old, found, err := s.rec.clusters.Find(metaName)
		if err != nil {
			return nil, err
		}
		if !found || req.ClientRequestToken == "" || old.Token != req.ClientRequestToken {
			return nil, &eksErr{Status: 409, Code: "ResourceInUseException", Message: fmt.Sprintf("Cluster already exists with name: %s", req.Name)}
		}
		m = old
	}
	c, err := s.e.CreateCluster(cloudName, spec)
	if err != nil {
		return nil, err
	}
	if !existed {
		m = clusterMeta{Token: req.ClientRequestToken, RoleArn: req.RoleArn, SubnetIDs: req.ResourcesVpcConfig.SubnetIDs,
			SecurityGroupIDs: req.ResourcesVpcConfig.SecurityGroupIDs, VpcID: vpcID, ServiceCIDR: serviceCIDR, CreatedAt: s.now(),
			Access: &access}
		if err := s.rec.clusters.Put(metaName, m); err != nil {
			return nil, err
		}
	}
	return map[string]any{"cluster": s.clusterJSON(c, m)}, nil
}

func (s *server) describeCluster(region, name string) (any, error) {
	c, err := s.e.GetCluster(cloudName, region, name)
	if err != nil {
		if cloud.IsNotFound(err) {
			return nil, noCluster(name)
		}
		return nil, err
	}
	m, _, err := s.rec.clusters.Find(region + "/" + name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": s.clusterJSON(c, m)}, nil
}

func (s *server) deleteCluster(region, name string) (any, error) {
	c, err := s.e.DeleteCluster(cloudName, region, name)
	if err != nil {
		var ce *cloud.Error
		switch {
		case cloud.IsNotFound(err):
			return nil, noCluster(name)
		case errors.As(err, &ce) && ce.Kind == cloud.KindConflict && ce.Op == "DeleteCluster" && ce.Code == "ResourceInUseException":
			return nil, &eksErr{Status: 409, Code: "ResourceInUseException", Message: fmt.Sprintf("Cluster has nodegroups attached (%s)", ce.Message)}
		}
		return nil, err
	}
	m, _, err := s.rec.clusters.Find(region + "/" + name)
	if err != nil {
		return nil, err
	}
	if err := s.rec.clusters.Remove(region + "/" + name); err != nil {
		return nil, err
	}
	return map[string]any{"cluster": s.clusterJSON(c, m)}, nil
}

// page returns one page of sorted names (maxResults, nextToken = offset).
func page(r *http.Request, names []string) ([]string, *string, error) {
	slices.Sort(names)
	q := r.URL.Query()
	start := 0
	if t := q.Get("nextToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(names) {
			return nil, nil, badParam("invalid nextToken %q", t)
		}
		start = n
	}
	limit := 100
	if m := q.Get("maxResults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 100 {
			return nil, nil, badParam("maxResults must be between 1 and 100")
		}
		limit = n
	}
	end := min(len(names), start+limit)
	out := append([]string{}, names[start:end]...)
	if end < len(names) {
		t := strconv.Itoa(end)
		return out, &t, nil
	}
	return out, nil, nil
}

func (s *server) listClusters(r *http.Request, region string) (any, error) {
	var names []string
	for _, c := range s.e.Inventory().Clusters {
		if c.Cloud == cloudName && c.Region == region {
			names = append(names, c.Name)
		}
	}
	out, next, err := page(r, names)
	if err != nil {
		return nil, err
	}
	return map[string]any{"clusters": out, "nextToken": next}, nil
}

func (s *server) listNodegroups(r *http.Request, region, cluster string) (any, error) {
	if _, ok := s.findCluster(region, cluster); !ok {
		return nil, noCluster(cluster)
	}
	var names []string
	for _, p := range s.e.Inventory().Pools {
		if p.Cloud == cloudName && p.Spec.Region == region && p.Spec.Cluster == cluster {
			names = append(names, p.Spec.Name)
		}
	}
	out, next, err := page(r, names)
	if err != nil {
		return nil, err
	}
	return map[string]any{"nodegroups": out, "nextToken": next}, nil
}

var effects = map[string]string{"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

func toTaints(in []eksTaint) ([]cloud.Taint, error) {
	var out []cloud.Taint
	for _, t := range in {
		eff, ok := effects[t.Effect]
		if !ok {
			return nil, badParam("taint %s: effect %q is not one of NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE", t.Key, t.Effect)
		}
		if t.Key == "" {
			return nil, badParam("taint key must not be empty")
		}
		out = append(out, cloud.Taint{Key: t.Key, Value: t.Value, Effect: eff})
	}
	return out, nil
}

func fromTaints(in []cloud.Taint) []eksTaint {
	var out []eksTaint
	for _, t := range in {
		eff := t.Effect
		for k, v := range effects {
			if v == t.Effect {
				eff = k
			}
		}
		out = append(out, eksTaint{Key: t.Key, Value: t.Value, Effect: eff})
	}
	return out
}

func capacityType(ct string) (string, error) {
	switch ct {
	case "", "ON_DEMAND":
		return "on_demand", nil
	case "SPOT":
		return "spot", nil
	case "CAPACITY_BLOCK":
		return "capacity_block", nil
	}
	return "", badParam("capacityType %q is not one of ON_DEMAND, SPOT, CAPACITY_BLOCK", ct)
}

// resolveLaunchTemplate finds the launch template a node group names (by
// name or ID, in the region) without going through rate limits and faults.
func (s *server) resolveLaunchTemplate(region string, spec *eksLaunchTemplate) (*eksLaunchTemplate, *LaunchTemplate, error) {
	if spec == nil {
		return nil, nil, nil
	}
	if (spec.Name == "") == (spec.ID == "") {
		return nil, nil, badParam("launchTemplate needs either name or id")
	}
	lts, err := s.launchTemplates(region)
	if err != nil {
		return nil, nil, err
	}
	for _, lt := range lts.values() {
		if (spec.Name != "" && lt.Name == spec.Name) || (spec.ID != "" && lt.ID == spec.ID) {
			out := &eksLaunchTemplate{Name: lt.Name, ID: lt.ID, Version: spec.Version}
			if out.Version == "" || out.Version == "$Default" || out.Version == "$Latest" {
				out.Version = "1"
			}
			return out, &lt, nil
		}
	}
	what := spec.Name
	if what == "" {
		what = spec.ID
	}
	return nil, nil, badParam("The launch template %s does not exist.", what)
}

func (s *server) nodegroupArn(region, cluster, name, poolID string) string {
	return fmt.Sprintf("arn:aws:eks:%s:%s:nodegroup/%s/%s/%s", region, s.opts.AccountID, cluster, name, uuidFor(poolID))
}

func asgName(name, poolID string) string { return "eks-" + name + "-" + uuidFor(poolID) }

// healthIssues reports the engine's issues as EKS reports the Auto
// Scaling group's launch failures (resourceIds is the node group's Auto
// Scaling group, eks-<nodegroup>-<uuid>):
//
//   - InsufficientCapacity (capacity): code "AsgInstanceLaunchFailures",
//     message "Could not launch On-Demand Instances.
//     InsufficientInstanceCapacity - We currently do not have sufficient
//     p5.48xlarge capacity in the Availability Zone you requested
//     (euc1-az1). Our system will be working on provisioning additional
//     capacity. You can currently get p5.48xlarge capacity by not specifying
//     an Availability Zone in your request or choosing another Availability
//     Zone. Launching EC2 instance failed."; for spot "Could not launch Spot
//     Instances. InsufficientInstanceCapacity - There is no Spot capacity
//     available that matches your request. Launching EC2 instance failed."
//   - QuotaExceeded (quota): code "AsgInstanceLaunchFailures", message
//     "Could not launch On-Demand Instances. VcpuLimitExceeded - You have
//     requested more vCPU capacity than your current vCPU limit allows for
//     the instance bucket that the specified instance type belongs to.
//     Please visit http://aws.amazon.com/contact-us/ec2-request to request
//     an adjustment to this limit. Launching EC2 instance failed." ("Spot
//     Instances" for spot, where real EC2 says MaxSpotInstanceCountExceeded).
//   - Any other code (injected faults) passes through with its message.
func healthIssues(p cloudsim.Pool) []eksIssue {
	out := []eksIssue{}
	kind := "On-Demand"
	if p.Spec.CapacityType == "spot" {
		kind = "Spot"
	}
	for _, is := range p.Issues {
		i := eksIssue{Code: is.Code, Message: is.Message, ResourceIDs: []string{asgName(p.Spec.Name, p.ID)}}
		switch is.Code {
		case "InsufficientCapacity":
			i.Code = "AsgInstanceLaunchFailures"
			if kind == "Spot" {
				i.Message = "Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed."
			} else {
				i.Message = fmt.Sprintf("Could not launch On-Demand Instances. InsufficientInstanceCapacity - We currently do not have sufficient %[1]s capacity in the Availability Zone you requested (%[2]s). Our system will be working on provisioning additional capacity. You can currently get %[1]s capacity by not specifying an Availability Zone in your request or choosing another Availability Zone. Launching EC2 instance failed.",
					p.Spec.InstanceType, p.Spec.Zone)
			}
		case "QuotaExceeded":
			i.Code = "AsgInstanceLaunchFailures"
			i.Message = fmt.Sprintf("Could not launch %s Instances. VcpuLimitExceeded - You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.", kind)
		}
		if ri, ok := reservationIssue(p, is); ok {
			i = ri
		}
		out = append(out, i)
	}
	return out
}

func (s *server) nodegroupJSON(p cloudsim.Pool, m *nodegroupMeta) eksNodegroup {
	status, _ := s.e.PoolStatus(p)
	st := strings.ToUpper(string(status))
	if m == nil {
		m = &nodegroupMeta{MinSize: min(p.Spec.Nodes, 1), MaxSize: max(p.Spec.Nodes, 1), Subnets: []string{p.Spec.Zone}}
	}
	minSize, maxSize, desired := m.MinSize, m.MaxSize, p.Spec.Nodes
	out := eksNodegroup{
		NodegroupName: p.Spec.Name, NodegroupArn: s.nodegroupArn(p.Spec.Region, p.Spec.Cluster, p.Spec.Name, p.ID),
		ClusterName: p.Spec.Cluster, Version: m.Version, ReleaseVersion: m.ReleaseVersion,
		CreatedAt: epoch(m.CreatedAt), ModifiedAt: epoch(m.ModifiedAt), Status: st,
		CapacityType:  eksCapacityType(p.Spec.CapacityType),
		ScalingConfig: eksScaling{MinSize: &minSize, MaxSize: &maxSize, DesiredSize: &desired},
		InstanceTypes: []string{p.Spec.InstanceType}, Subnets: m.Subnets, AmiType: m.AmiType, NodeRole: m.NodeRole,
		Labels: p.Spec.Labels, Taints: fromTaints(p.Spec.Taints), DiskSize: m.DiskSize, LaunchTemplate: m.LaunchTemplate, Tags: m.Tags,
	}
	out.Resources.AutoScalingGroups = []eksASG{{Name: asgName(p.Spec.Name, p.ID)}}
	out.Health.Issues = healthIssues(p)
	out.UpdateConfig.MaxUnavailable = 1
	return out
}

func ngMetaName(region, cluster, name string) string { return region + "/" + cluster + "/" + name }

func (s *server) createNodegroup(r *http.Request, region, cluster string) (any, error) {
	var req struct {
		NodegroupName      string             `json:"nodegroupName"`
		ScalingConfig      *eksScaling        `json:"scalingConfig"`
		DiskSize           *int               `json:"diskSize"`
		Subnets            []string           `json:"subnets"`
		InstanceTypes      []string           `json:"instanceTypes"`
		AmiType            string             `json:"amiType"`
		NodeRole           string             `json:"nodeRole"`
		Labels             map[string]string  `json:"labels"`
		Taints             []eksTaint         `json:"taints"`
		Tags               map[string]string  `json:"tags"`
		ClientRequestToken string             `json:"clientRequestToken"`
		LaunchTemplate     *eksLaunchTemplate `json:"launchTemplate"`
		CapacityType       string             `json:"capacityType"`
		Version            string             `json:"version"`
		ReleaseVersion     string             `json:"releaseVersion"`
	}
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	c, ok := s.findCluster(region, cluster)
	if !ok {
		return nil, noCluster(cluster)
	}
	if st := s.e.ClusterStatus(c); st != cloud.StatusActive {
		return nil, &eksErr{Status: 400, Code: "InvalidRequestException", Message: fmt.Sprintf("Cluster '%s' is not in ACTIVE status", cluster)}
	}
	if req.NodegroupName == "" {
		return nil, badParam("nodegroupName is required")
	}
	if len(req.Subnets) == 0 {
		return nil, badParam("Subnets are required")
	}
	if err := s.checkNodeRole(req.NodeRole); err != nil {
		return nil, err
	}
	zone, err := s.nodegroupZone(region, cluster, req.Subnets)
	if err != nil {
		return nil, err
	}
	ct, err := capacityType(req.CapacityType)
	if err != nil {
		return nil, err
	}
	taints, err := toTaints(req.Taints)
	if err != nil {
		return nil, err
	}
	lt, ltData, err := s.resolveLaunchTemplate(region, req.LaunchTemplate)
	if err != nil {
		return nil, err
	}
	instanceType := ""
	switch {
	case lt != nil && ltData.InstanceType != "" && len(req.InstanceTypes) > 0:
		return nil, badParam("Instance type is specified in both the launch template and instanceTypes; specify it in one place")
	case lt != nil && ltData.InstanceType != "":
		instanceType = ltData.InstanceType
	case len(req.InstanceTypes) > 0:
		instanceType = req.InstanceTypes[0]
	default:
		instanceType = "t3.medium" // the EKS default
	}
	sc := eksScaling{}
	if req.ScalingConfig != nil {
		sc = *req.ScalingConfig
	}
	desired := 2
	if sc.DesiredSize != nil {
		desired = *sc.DesiredSize
	}
	minSize, maxSize := min(desired, 1), max(desired, 2)
	if sc.MinSize != nil {
		minSize = *sc.MinSize
	}
	if sc.MaxSize != nil {
		maxSize = *sc.MaxSize
	}
	if err := checkScaling(minSize, maxSize, desired); err != nil {
		return nil, err
	}
	ct, reservation, err := nodegroupReservation(ct, ltData)
	if err != nil {
		return nil, err
	}
	userData := ""
	if ltData != nil {
		userData = ltData.UserData
	}
	spec := cloud.NodePoolSpec{
		Cluster: cluster, Region: region, Name: req.NodegroupName, InstanceType: instanceType, Zone: zone,
		CapacityType: ct, Reservation: reservation, Nodes: desired, Labels: req.Labels, Taints: taints, UserData: userData,
		IdempotencyToken: req.ClientRequestToken,
	}
	existing, existed := s.findPool(region, cluster, req.NodegroupName)
	if existed && (req.ClientRequestToken == "" || existing.Spec.IdempotencyToken != req.ClientRequestToken) {
		return nil, &eksErr{Status: 409, Code: "ResourceInUseException",
			Message: fmt.Sprintf("NodeGroup already exists with name %s and cluster name %s", req.NodegroupName, cluster)}
	}
	p, err := s.e.CreateNodePool(cloudName, spec, s.opts.InstanceOptions(instanceType))
	if err != nil {
		return nil, err
	}
	name := ngMetaName(region, cluster, req.NodegroupName)
	if existed {
		m, found, err := s.rec.nodegroups.Find(name)
		if err != nil {
			return nil, err
		}
		if found {
			return map[string]any{"nodegroup": s.nodegroupJSON(p, &m)}, nil
		}
	}
	version := req.Version
	if version == "" {
		version = c.Spec.KubernetesVersion
	}
	release := req.ReleaseVersion
	if release == "" {
		release = version + ".0-20261101"
	}
	now := s.now()
	m := nodegroupMeta{MinSize: minSize, MaxSize: maxSize, Subnets: req.Subnets, LaunchTemplate: lt, NodeRole: req.NodeRole,
		AmiType: req.AmiType, DiskSize: req.DiskSize, Tags: req.Tags, Version: version, ReleaseVersion: release,
		CreatedAt: now, ModifiedAt: now}
	if m.AmiType == "" && lt == nil {
		m.AmiType = "AL2023_x86_64_NVIDIA"
	}
	if m.AmiType == "" {
		m.AmiType = "CUSTOM"
	}
	if err := s.rec.nodegroups.Put(name, m); err != nil {
		return nil, err
	}
	return map[string]any{"nodegroup": s.nodegroupJSON(p, &m)}, nil
}

func checkScaling(minSize, maxSize, desired int) error {
	switch {
	case minSize < 0 || desired < 0:
		return badParam("Minimum size and desired size must be at least 0")
	case maxSize < 1:
		return badParam("Maximum size must be at least 1")
	case minSize > desired:
		return badParam("Minimum capacity %d can't be greater than desired size %d", minSize, desired)
	case desired > maxSize:
		return badParam("Desired capacity:%d can't be greater than max size %d", desired, maxSize)
	}
	return nil
}

// nodegroupMetaFor returns the metadata of a node group, including one
// whose deletion is under way (nil: none); an error is the engine's.
func (s *server) nodegroupMetaFor(region, cluster, name string) (*nodegroupMeta, error) {
	m, found, err := s.rec.nodegroups.Find(ngMetaName(region, cluster, name))
	if err != nil || found {
		return &m, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.gone[ngMetaName(region, cluster, name)]; ok {
		return &g, nil
	}
	return nil, nil
}

func (s *server) describeNodegroup(region, cluster, name string) (any, error) {
	p, err := s.e.GetNodePool(cloudName, region, cluster, name)
	if err != nil {
		if cloud.IsNotFound(err) {
			s.mu.Lock()
			delete(s.gone, ngMetaName(region, cluster, name))
			s.mu.Unlock()
			if _, ok := s.findCluster(region, cluster); !ok {
				return nil, noCluster(cluster)
			}
			return nil, noNodegroup(name)
		}
		return nil, err
	}
	m, err := s.nodegroupMetaFor(region, cluster, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"nodegroup": s.nodegroupJSON(p, m)}, nil
}

func (s *server) deleteNodegroup(region, cluster, name string) (any, error) {
	p, err := s.e.DeleteNodePool(cloudName, region, cluster, name)
	if err != nil {
		if cloud.IsNotFound(err) {
			if _, ok := s.findCluster(region, cluster); !ok {
				return nil, noCluster(cluster)
			}
			return nil, noNodegroup(name)
		}
		return nil, err
	}
	m, err := s.nodegroupMetaFor(region, cluster, name)
	if err != nil {
		return nil, err
	}
	if m != nil {
		s.mu.Lock()
		s.gone[ngMetaName(region, cluster, name)] = *m
		s.mu.Unlock()
	}
	if err := s.rec.nodegroups.Remove(ngMetaName(region, cluster, name)); err != nil {
		return nil, err
	}
	return map[string]any{"nodegroup": s.nodegroupJSON(p, m)}, nil
}

func jsonString(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// updateNodegroupConfig applies scalingConfig, labels
// {addOrUpdateLabels, removeLabels} and taints {addOrUpdateTaints,
// removeTaints} (a taint is identified by key and effect; removals apply
// before additions) as one engine update.
func (s *server) updateNodegroupConfig(r *http.Request, region, cluster, name string) (any, error) {
	var req struct {
		Labels *struct {
			AddOrUpdateLabels map[string]string `json:"addOrUpdateLabels"`
			RemoveLabels      []string          `json:"removeLabels"`
		} `json:"labels"`
		Taints *struct {
			AddOrUpdateTaints []eksTaint `json:"addOrUpdateTaints"`
			RemoveTaints      []eksTaint `json:"removeTaints"`
		} `json:"taints"`
		ScalingConfig      *eksScaling `json:"scalingConfig"`
		ClientRequestToken string      `json:"clientRequestToken"`
	}
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	cur, ok := s.findPool(region, cluster, name)
	if !ok {
		if _, ok := s.findCluster(region, cluster); !ok {
			return nil, noCluster(cluster)
		}
		return nil, noNodegroup(name)
	}
	var u cloud.NodePoolUpdate
	var params []eksUpdateParam
	if l := req.Labels; l != nil {
		labels := maps.Clone(cur.Spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		for _, k := range l.RemoveLabels {
			delete(labels, k)
		}
		maps.Copy(labels, l.AddOrUpdateLabels)
		u.Labels = labels
		if len(l.AddOrUpdateLabels) > 0 {
			params = append(params, eksUpdateParam{Type: "LabelsToAdd", Value: jsonString(l.AddOrUpdateLabels)})
		}
		if len(l.RemoveLabels) > 0 {
			params = append(params, eksUpdateParam{Type: "LabelsToRemove", Value: jsonString(l.RemoveLabels)})
		}
	}
	if t := req.Taints; t != nil {
		add, err := toTaints(t.AddOrUpdateTaints)
		if err != nil {
			return nil, err
		}
		remove, err := toTaints(t.RemoveTaints)
		if err != nil {
			return nil, err
		}
		taints := slices.Clone(cur.Spec.Taints)
		taints = slices.DeleteFunc(taints, func(x cloud.Taint) bool {
			return slices.ContainsFunc(remove, func(y cloud.Taint) bool { return x.Key == y.Key && x.Effect == y.Effect })
		})
		for _, a := range add {
			if i := slices.IndexFunc(taints, func(x cloud.Taint) bool { return x.Key == a.Key && x.Effect == a.Effect }); i >= 0 {
				taints[i] = a
			} else {
				taints = append(taints, a)
			}
		}
		if taints == nil {
			taints = []cloud.Taint{}
		}
		u.Taints = &taints
		if len(t.AddOrUpdateTaints) > 0 {
			params = append(params, eksUpdateParam{Type: "TaintsToAdd", Value: jsonString(t.AddOrUpdateTaints)})
		}
		if len(t.RemoveTaints) > 0 {
			params = append(params, eksUpdateParam{Type: "TaintsToRemove", Value: jsonString(t.RemoveTaints)})
		}
	}
	m, err := s.nodegroupMetaFor(region, cluster, name)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = &nodegroupMeta{MinSize: min(cur.Spec.Nodes, 1), MaxSize: max(cur.Spec.Nodes, 1), Subnets: []string{cur.Spec.Zone}}
	}
	if sc := req.ScalingConfig; sc != nil {
		minSize, maxSize, desired := m.MinSize, m.MaxSize, cur.Spec.Nodes
		if sc.MinSize != nil {
			minSize = *sc.MinSize
			params = append(params, eksUpdateParam{Type: "MinSize", Value: strconv.Itoa(minSize)})
		}
		if sc.MaxSize != nil {
			maxSize = *sc.MaxSize
			params = append(params, eksUpdateParam{Type: "MaxSize", Value: strconv.Itoa(maxSize)})
		}
		if sc.DesiredSize != nil {
			desired = *sc.DesiredSize
			u.Nodes = &desired
			params = append(params, eksUpdateParam{Type: "DesiredSize", Value: strconv.Itoa(desired)})
		}
		if err := checkScaling(minSize, maxSize, desired); err != nil {
			return nil, err
		}
		m.MinSize, m.MaxSize = minSize, maxSize
	}
	if len(params) == 0 {
		return nil, badParam("No changes needed")
	}
	if _, err := s.e.UpdateNodePool(cloudName, region, cluster, name, u); err != nil {
		if cloud.IsNotFound(err) {
			return nil, noNodegroup(name)
		}
		var ce *cloud.Error
		if errors.As(err, &ce) && ce.Kind == cloud.KindConflict && ce.Code == "ResourceInUseException" {
			return nil, &eksErr{Status: 409, Code: "ResourceInUseException", Message: "Nodegroup cannot be updated as it is currently not in Active State"}
		}
		return nil, err
	}
	now := s.now()
	m.ModifiedAt = now
	if err := s.rec.nodegroups.Put(ngMetaName(region, cluster, name), *m); err != nil {
		return nil, err
	}
	up := eksUpdate{ID: uuidFor(fmt.Sprintf("update/%s/%s/%s/%s", region, cluster, name, s.requestID())), Status: "InProgress",
		Type: "ConfigUpdate", Params: params, CreatedAt: float64(now.UnixNano()) / 1e9, Errors: []eksErrorDetail{}}
	s.mu.Lock()
	s.updates[up.ID] = nodegroupUpdate{Region: region, Cluster: cluster, Nodegroup: name, Update: up}
	s.mu.Unlock()
	return map[string]any{"update": up}, nil
}

// describeUpdate reports a node group update started by this front end
// (updates are not persisted): InProgress while the node group is
// UPDATING, Successful once ACTIVE, Failed (with the health issues) when it
// ended DEGRADED or CREATE_FAILED or is gone.
func (s *server) describeUpdate(r *http.Request, region, cluster, id string) (any, error) {
	s.mu.Lock()
	up, ok := s.updates[id]
	s.mu.Unlock()
	if !ok || up.Region != region || up.Cluster != cluster {
		return nil, &eksErr{Status: 404, Code: "ResourceNotFoundException", Message: fmt.Sprintf("No update found for ID: %s", id)}
	}
	out := up.Update
	p, err := s.e.GetNodePool(cloudName, region, cluster, up.Nodegroup)
	switch {
	case cloud.IsNotFound(err):
		out.Status = "Failed"
	case err != nil:
		return nil, err
	default:
		switch st, _ := s.e.PoolStatus(p); st {
		case cloud.StatusUpdating:
		case cloud.StatusActive:
			out.Status = "Successful"
		default:
			out.Status = "Failed"
			for _, is := range healthIssues(p) {
				out.Errors = append(out.Errors, eksErrorDetail{ErrorCode: "NodeCreationFailure", ErrorMessage: is.Message, ResourceIDs: is.ResourceIDs})
			}
		}
	}
	return map[string]any{"update": out}, nil
}

// EC2 subnets of EKS clusters and node groups.
//
// A subnet given in EC2's ID shape (subnet- and 8 or 17 hex digits) must
// exist in the region (InvalidParameterException "The subnet ID '…' does
// not exist", as EKS reports EC2's InvalidSubnetID.NotFound), and a
// cluster's such subnets must share one VPC, which DescribeCluster
// reports as resourcesVpcConfig.vpcId; a node group's must lie in its
// cluster's VPC. A node group in an EC2 subnet runs in that subnet's
// availability zone ID (the engine pool's zone, where capacity and quota
// are counted). Anything else given as a subnet (a zone ID, a placeholder)
// is taken as it is and a node group's first subnet is its zone, as
// cloudsim always did. Not enforced, unlike EKS: subnets in at least two
// availability zones for a cluster (so that one-zone sites simulate), and
// a service range that overlaps no CIDR block of the VPC.

// ec2SubnetID tells an EC2 subnet ID from the other values cloudsim
// accepts as subnets.
func ec2SubnetID(s string) bool { return strings.HasPrefix(s, "subnet-") && idPattern.MatchString(s) }

// findSubnet reads an EC2 subnet without rate limits and faults (EKS
// checks it on its side); one EC2 does not know is noSubnet.
func (s *server) findSubnet(region, id string) (Subnet, error) {
	sn, ok, err := s.net.subnets.Lookup(subnets.name(region, id))
	if err == nil && !ok {
		err = s.noSubnet(id)
	}
	return sn, err
}

// noSubnet is EKS's answer for a subnet EC2 does not know.
func (s *server) noSubnet(id string) error {
	return badParam("The subnet ID '%s' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound; Request ID: %s)",
		id, s.requestID())
}

// clusterVpc checks a cluster's EC2 subnets and returns their VPC ("" when
// there are none).
func (s *server) clusterVpc(region string, subnets []string) (string, error) {
	vpc, first := "", ""
	for _, id := range subnets {
		if !ec2SubnetID(id) {
			continue
		}
		o, err := s.findSubnet(region, id)
		if err != nil {
			return "", err
		}
		switch v := o.VPC; {
		case vpc == "":
			vpc, first = v, id
		case v != vpc:
			return "", badParam("Subnets %s and %s are in different VPCs (%s, %s): the subnets of a cluster must be in one VPC", first, id, vpc, v)
		}
	}
	return vpc, nil
}

// serviceOutsideVpc applies EKS's rule that the service range may not
// overlap the cluster VPC's CIDR blocks.
func (s *server) serviceOutsideVpc(region, vpcID, service string) error {
	if vpcID == "" {
		return nil
	}
	svc, err := netip.ParsePrefix(service)
	if err != nil {
		return nil // checkServiceCIDR reported it
	}
	o, ok, err := s.net.vpcs.Lookup(vpcs.name(region, vpcID))
	if err != nil {
		return err
	}
	if ok {
		if vpc := o.prefix(); vpc.IsValid() && vpc.Overlaps(svc) {
			return badParam("The specified serviceIpv4Cidr %s overlaps with the CIDR block %s of VPC %s; choose a range outside the VPC", service, vpc, vpcID)
		}
	}
	return nil
}

// nodegroupZone is the engine zone of a node group in subnets: the first
// subnet's availability zone ID when it is an EC2 subnet, else the first
// subnet as it is.
func (s *server) nodegroupZone(region, cluster string, subnets []string) (string, error) {
	m, _, err := s.rec.clusters.Find(region + "/" + cluster)
	if err != nil {
		return "", err
	}
	zone := ""
	for i, id := range subnets {
		if !ec2SubnetID(id) {
			if i == 0 {
				zone = id
			}
			continue
		}
		o, err := s.findSubnet(region, id)
		if err != nil {
			return "", err
		}
		if m.VpcID != "" && o.VPC != m.VpcID {
			return "", badParam("Subnet %s is in VPC %s, not in the VPC %s of cluster %s: node group subnets must be in the cluster's VPC",
				id, o.VPC, m.VpcID, cluster)
		}
		if i == 0 {
			zone = o.ZoneID
		}
	}
	return zone, nil
}

// privateRanges are where EKS accepts a service range.
var privateRanges = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}

// checkServiceCIDR applies EKS's rules for serviceIpv4Cidr: a network
// address in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, /12 to /24.
func checkServiceCIDR(v string) error {
	p, err := netip.ParsePrefix(v)
	switch {
	case err != nil || !p.Addr().Is4():
		return badParam("serviceIpv4Cidr %s is not a valid IPv4 CIDR block", v)
	case p.Masked() != p:
		return badParam("serviceIpv4Cidr %s is not a network address (did you mean %s?)", v, p.Masked())
	case p.Bits() < 12 || p.Bits() > 24:
		return badParam("serviceIpv4Cidr %s must be between /12 and /24", v)
	}
	for _, r := range privateRanges {
		if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
			return nil
		}
	}
	return badParam("serviceIpv4Cidr %s must be within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", v)
}

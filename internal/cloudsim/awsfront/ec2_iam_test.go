package awsfront

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloud"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

func TestLaunchTemplates(t *testing.T) {
	ev := newEnv(t, envConfig{})
	create := func(name, userData, token string, opts ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error) {
		in := &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String(name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: aws.String(userData), InstanceType: ec2types.InstanceTypeP548xlarge},
		}
		if token != "" {
			in.ClientToken = aws.String(token)
		}
		return ev.ec2.CreateLaunchTemplate(ctx, in, opts...)
	}
	out := must[*ec2.CreateLaunchTemplateOutput](t)(create("lt1", "dXNlcmRhdGE=", "tok"))
	lt := out.LaunchTemplate
	id := aws.ToString(lt.LaunchTemplateId)
	if aws.ToString(lt.LaunchTemplateName) != "lt1" || !strings.HasPrefix(id, "lt-") || len(id) != 20 ||
		aws.ToInt64(lt.DefaultVersionNumber) != 1 || lt.CreateTime == nil || !lt.CreateTime.Equal(epoch0) {
		t.Fatalf("create: %+v", lt)
	}
	stored, err := LaunchTemplates(ev.e)
	if err != nil || len(stored) != 1 || stored[0].Name != "lt1" || stored[0].ID != id || stored[0].Region != region ||
		stored[0].UserData != "dXNlcmRhdGE=" || stored[0].InstanceType != "p5.48xlarge" {
		t.Fatalf("table rows %+v %v", stored, err)
	}
	// Same token and data: the first template; another token: AlreadyExists.
	again := must[*ec2.CreateLaunchTemplateOutput](t)(create("lt1", "dXNlcmRhdGE=", "tok"))
	if aws.ToString(again.LaunchTemplate.LaunchTemplateId) != id {
		t.Fatalf("idempotent create gave %s, want %s", aws.ToString(again.LaunchTemplate.LaunchTemplateId), id)
	}
	_, err = create("lt1", "b3RoZXI=", "", noRetryEC2)
	if apiCode(err) != "InvalidLaunchTemplateName.AlreadyExistsException" {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = create("lt1", "b3RoZXI=", "tok", noRetryEC2)
	if apiCode(err) != "IdempotentParameterMismatch" {
		t.Fatalf("token reuse: %v", err)
	}

	byName := must[*ec2.DescribeLaunchTemplatesOutput](t)(ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"lt1"}}))
	byID := must[*ec2.DescribeLaunchTemplatesOutput](t)(ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}}))
	all := must[*ec2.DescribeLaunchTemplatesOutput](t)(ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{}))
	for _, d := range []*ec2.DescribeLaunchTemplatesOutput{byName, byID, all} {
		if len(d.LaunchTemplates) != 1 || aws.ToString(d.LaunchTemplates[0].LaunchTemplateId) != id || aws.ToString(d.LaunchTemplates[0].LaunchTemplateName) != "lt1" {
			t.Fatalf("describe: %+v", d.LaunchTemplates)
		}
	}
	vers := must[*ec2.DescribeLaunchTemplateVersionsOutput](t)(ev.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String("lt1")}))
	if len(vers.LaunchTemplateVersions) != 1 || aws.ToString(vers.LaunchTemplateVersions[0].LaunchTemplateData.UserData) != "dXNlcmRhdGE=" ||
		vers.LaunchTemplateVersions[0].LaunchTemplateData.InstanceType != ec2types.InstanceTypeP548xlarge {
		t.Fatalf("versions: %+v", vers.LaunchTemplateVersions)
	}

	// Launch templates are regional.
	other := must[*ec2.DescribeLaunchTemplatesOutput](t)(ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{},
		func(o *ec2.Options) { o.Region = "us-east-1" }))
	if len(other.LaunchTemplates) != 0 {
		t.Fatalf("us-east-1 sees %+v", other.LaunchTemplates)
	}

	del := must[*ec2.DeleteLaunchTemplateOutput](t)(ev.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String(id)}))
	if aws.ToString(del.LaunchTemplate.LaunchTemplateName) != "lt1" {
		t.Fatalf("delete: %+v", del.LaunchTemplate)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"describe name", func() error {
			_, err := ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"lt1"}}, noRetryEC2)
			return err
		}, "InvalidLaunchTemplateName.NotFoundException"},
		{"describe id", func() error {
			_, err := ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}}, noRetryEC2)
			return err
		}, "InvalidLaunchTemplateId.NotFound"},
		{"delete name", func() error {
			_, err := ev.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: aws.String("lt1")}, noRetryEC2)
			return err
		}, "InvalidLaunchTemplateName.NotFoundException"},
		{"delete malformed id", func() error {
			_, err := ev.ec2.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: aws.String("bogus")}, noRetryEC2)
			return err
		}, "InvalidLaunchTemplateId.Malformed"},
	} {
		if got := apiCode(tc.call()); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestEC2ErrorsAndThrottling(t *testing.T) {
	ev := newEnv(t, envConfig{})
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateLaunchTemplate", Err: &cloud.Error{Kind: cloud.KindFatal, Message: "boom"}}); err != nil {
		t.Fatal(err)
	}
	_, err := ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-x"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeG4dnXlarge}}, noRetryEC2)
	if apiCode(err) != "InternalError" {
		t.Fatalf("fatal fault: %v", err)
	}
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "CreateLaunchTemplate", Err: &cloud.Error{Kind: cloud.KindInvalid, Code: "InvalidUserData.Malformed", Message: "bad"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-x"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeG4dnXlarge}}, noRetryEC2)
	if apiCode(err) != "InvalidUserData.Malformed" {
		t.Fatalf("coded fault: %v", err)
	}

	must[*ec2.CreateLaunchTemplateOutput](t)(ev.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-x"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeG4dnXlarge}}))
	if err := ev.e.SetRateLimit("aws", "GetLaunchTemplate", 0.001, 0); err != nil {
		t.Fatal(err)
	}
	before := ev.count("ec2 DescribeLaunchTemplates")
	_, err = ev.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"lt-x"}})
	if apiCode(err) != "RequestLimitExceeded" {
		t.Fatalf("throttled: %v", err)
	}
	if n := ev.count("ec2 DescribeLaunchTemplates") - before; n != 3 {
		t.Fatalf("%d requests, want 3 (the SDK retries RequestLimitExceeded)", n)
	}
}

func TestIAMRoles(t *testing.T) {
	ev := newEnv(t, envConfig{})
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role := must[*iam.CreateRoleOutput](t)(ev.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("eks-role"), AssumeRolePolicyDocument: aws.String(doc)})).Role
	if aws.ToString(role.Arn) != "arn:aws:iam::123456789012:role/eks-role" || !strings.HasPrefix(aws.ToString(role.RoleId), "AROA") ||
		aws.ToString(role.Path) != "/" || role.CreateDate == nil || !role.CreateDate.Equal(epoch0) {
		t.Fatalf("create: %+v", role)
	}
	got := must[*iam.GetRoleOutput](t)(ev.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("eks-role")})).Role
	if d, err := url.QueryUnescape(aws.ToString(got.AssumeRolePolicyDocument)); err != nil || d != doc {
		t.Fatalf("policy document %q (%v)", aws.ToString(got.AssumeRolePolicyDocument), err)
	}
	if r, err := ev.srv.iam.roles.Get("eks-role"); err != nil || r.AssumeRolePolicy != doc || r.ID != aws.ToString(role.RoleId) {
		t.Fatalf("engine role %+v %v", r, err)
	}

	_, err := ev.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("eks-role"), AssumeRolePolicyDocument: aws.String(doc)}, noRetryIAM)
	if !isA[*iamtypes.EntityAlreadyExistsException](err) || apiCode(err) != "EntityAlreadyExists" {
		t.Fatalf("duplicate: %T %v", err, err)
	}

	// Concurrent creates of one name: exactly one role, the others
	// EntityAlreadyExists, as IAM answers them.
	const racers = 6
	errs := make(chan error, racers)
	for range racers {
		go func() {
			_, err := ev.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("raced"), AssumeRolePolicyDocument: aws.String(doc)}, noRetryIAM)
			errs <- err
		}()
	}
	created := 0
	for range racers {
		switch err := <-errs; {
		case err == nil:
			created++
		case !isA[*iamtypes.EntityAlreadyExistsException](err):
			t.Fatalf("concurrent create: %T %v", err, err)
		}
	}
	if created != 1 {
		t.Fatalf("%d of %d concurrent CreateRole calls succeeded, want 1", created, racers)
	}
	must[*iam.DeleteRoleOutput](t)(ev.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("raced")}))

	policies := []string{"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"}
	for _, p := range append(policies, policies[0]) { // attaching twice is fine
		must[*iam.AttachRolePolicyOutput](t)(ev.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("eks-role"), PolicyArn: aws.String(p)}))
	}
	list := must[*iam.ListAttachedRolePoliciesOutput](t)(ev.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("eks-role")}))
	var arns, names []string
	for _, p := range list.AttachedPolicies {
		arns, names = append(arns, aws.ToString(p.PolicyArn)), append(names, aws.ToString(p.PolicyName))
	}
	if !slices.Equal(arns, policies) || !slices.Equal(names, []string{"AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"}) || list.IsTruncated {
		t.Fatalf("attached: %v %v", arns, names)
	}

	_, err = ev.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("eks-role")}, noRetryIAM)
	if !isA[*iamtypes.DeleteConflictException](err) || apiCode(err) != "DeleteConflict" {
		t.Fatalf("delete with policies: %T %v", err, err)
	}
	for _, p := range policies {
		must[*iam.DetachRolePolicyOutput](t)(ev.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("eks-role"), PolicyArn: aws.String(p)}))
	}
	_, err = ev.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String("eks-role"), PolicyArn: aws.String(policies[0])}, noRetryIAM)
	if !isA[*iamtypes.NoSuchEntityException](err) {
		t.Fatalf("detach twice: %T %v", err, err)
	}
	must[*iam.DeleteRoleOutput](t)(ev.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("eks-role")}))

	for name, call := range map[string]func() error{
		"get": func() error {
			_, err := ev.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("eks-role")}, noRetryIAM)
			return err
		},
		"delete": func() error {
			_, err := ev.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("eks-role")}, noRetryIAM)
			return err
		},
		"attach": func() error {
			_, err := ev.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("eks-role"), PolicyArn: aws.String(policies[0])}, noRetryIAM)
			return err
		},
		"list": func() error {
			_, err := ev.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("eks-role")}, noRetryIAM)
			return err
		},
	} {
		err := call()
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) || apiCode(err) != "NoSuchEntity" {
			t.Errorf("%s missing role: %T %v", name, err, err)
		}
	}
	if inv := ev.leftovers(); !inv.Empty() {
		t.Fatalf("leftovers: %+v", inv)
	}
}

func TestIAMThrottlingAndFaults(t *testing.T) {
	ev := newEnv(t, envConfig{})
	must[*iam.CreateRoleOutput](t)(ev.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String("{}")}))
	if err := ev.e.SetRateLimit("aws", "GetRole", 0.001, 0); err != nil {
		t.Fatal(err)
	}
	before := ev.count("iam GetRole")
	_, err := ev.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
	if apiCode(err) != "Throttling" {
		t.Fatalf("throttled: %v", err)
	}
	if n := ev.count("iam GetRole") - before; n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	if err := ev.e.SetRateLimit("aws", "GetRole", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "GetRole", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "blip"}}); err != nil {
		t.Fatal(err)
	}
	_, err = ev.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")}, noRetryIAM)
	if !isA[*iamtypes.ServiceFailureException](err) {
		t.Fatalf("transient: %T %v", err, err)
	}
	// The default retryer retries a 500 ServiceFailure.
	if err := ev.e.Inject(cloudsim.Fault{Cloud: "aws", Op: "GetRole", Err: &cloud.Error{Kind: cloud.KindTransient, Message: "blip"}}); err != nil {
		t.Fatal(err)
	}
	must[*iam.GetRoleOutput](t)(ev.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")}))
}

func TestScopeAndDefaults(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/clusters", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-central-1/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	if reg, svc := scope(r); reg != "eu-central-1" || svc != "eks" {
		t.Fatalf("scope %q %q", reg, svc)
	}
	for in, want := range map[string]string{"p5.48xlarge": "p", "g6e.xlarge": "g", "trn1.32xlarge": "trn", "p4de.24xlarge": "p"} {
		if got := DefaultInstanceOptions(in); got.Family != want || got.GPUsPerNode != 1 {
			t.Errorf("%s: %+v, want family %s", in, got, want)
		}
	}
	// Unsigned requests are routed by Version / path.
	e, _ := cloudsim.New(cloudsim.Config{Clock: cloudsim.NewFakeClock(epoch0)})
	h := New(e, Options{})
	for _, tc := range []struct {
		body, want string
	}{
		{"Action=DescribeLaunchTemplates&Version=2016-11-15", "<DescribeLaunchTemplatesResponse"},
		{"Action=GetRole&Version=2010-05-08&RoleName=x", "<Code>NoSuchEntity</Code>"},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s: %s", tc.body, w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/clusters/nope", nil))
	if w.Code != 404 || w.Header().Get("X-Amzn-Errortype") != "ResourceNotFoundException" || !strings.Contains(w.Body.String(), `"message"`) {
		t.Fatalf("unsigned EKS: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
}

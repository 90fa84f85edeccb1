package kubefront

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// identity is who a request comes from.
type identity struct {
	user   string
	groups []string
	// admin skips authorisation (cluster-admin, system:masters).
	admin bool
	// saNamespace and saName are set for service accounts.
	saNamespace, saName string
}

const (
	eksTokenPrefix = "k8s-aws-v1."
	mastersGroup   = "system:masters"
)

// authenticate finds the identity of a request: a service account token
// the server minted; the cluster-admin token; on EKS a token of the
// aws-iam-authenticator form; on GKE any bearer token; a client
// certificate signed by the cluster CA. Anything else is 401.
func (st *store) authenticate(r *http.Request) (*identity, error) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		if ns, name, ok := st.parseSAToken(tok); ok {
			st.mu.Lock()
			exists := st.get(resSAs, ns, name) != nil
			st.mu.Unlock()
			if !exists {
				return nil, apierrors.NewUnauthorized(fmt.Sprintf("service account %s/%s does not exist", ns, name))
			}
			return &identity{user: "system:serviceaccount:" + ns + ":" + name, saNamespace: ns, saName: name,
				groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}, nil
		}
		switch {
		case tok == st.adminToken:
			return admin("cluster-admin"), nil
		case st.cloud == "aws" && strings.HasPrefix(tok, eksTokenPrefix):
			if err := checkEKSToken(tok); err != nil {
				return nil, apierrors.NewUnauthorized(err.Error())
			}
			return admin("arn:aws:iam::000000000000:user/cloudsim"), nil
		case st.cloud == "gcp" && tok != "":
			return admin("cloudsim@gpufleet-sim.iam.gserviceaccount.com"), nil
		}
		return nil, apierrors.NewUnauthorized("Unauthorized")
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		c := r.TLS.PeerCertificates[0]
		id := &identity{user: c.Subject.CommonName, groups: append(slices.Clone(c.Subject.Organization), "system:authenticated")}
		id.admin = slices.Contains(id.groups, mastersGroup)
		return id, nil
	}
	return nil, apierrors.NewUnauthorized("Unauthorized")
}

func admin(user string) *identity {
	return &identity{user: user, groups: []string{mastersGroup, "system:authenticated"}, admin: true}
}

// checkEKSToken checks the shape of an aws-iam-authenticator token: a
// presigned STS GetCallerIdentity URL that signs the x-k8s-aws-id header
// (the cluster name). The signature itself is not checked.
func checkEKSToken(tok string) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimPrefix(tok, eksTokenPrefix), "="))
	if err != nil {
		return fmt.Errorf("EKS token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil || u.Scheme != "https" {
		return fmt.Errorf("EKS token is not a presigned https URL")
	}
	q := u.Query()
	switch {
	case q.Get("Action") != "GetCallerIdentity":
		return fmt.Errorf("EKS token is not a GetCallerIdentity request")
	case q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get("X-Amz-Signature") == "" || q.Get("X-Amz-Credential") == "" || q.Get("X-Amz-Date") == "":
		return fmt.Errorf("EKS token is not SigV4-presigned")
	case !slices.Contains(strings.Split(strings.ToLower(q.Get("X-Amz-SignedHeaders")), ";"), "x-k8s-aws-id"):
		return fmt.Errorf("EKS token does not sign the x-k8s-aws-id header (the cluster name)")
	}
	return nil
}

// authorize checks a request against RBAC: ClusterRoleBindings, and
// RoleBindings of the request's namespace, whose subjects include the
// identity. Administrators pass. Denials are 403.
func (st *store) authorize(id *identity, req *request) error {
	if id.admin {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.allowed(id, req) {
		return nil
	}
	scope := "at the cluster scope"
	if req.ns != "" {
		scope = "in the namespace \"" + req.ns + "\""
	}
	res := req.res.gvr.Resource
	if req.sub != "" {
		res += "/" + req.sub
	}
	return apierrors.NewForbidden(req.res.gvr.GroupResource(), req.name,
		fmt.Errorf("User %q cannot %s resource %q in API group %q %s", id.user, req.verb, res, req.res.gvr.Group, scope))
}

// allowed evaluates the rules. It is called with st.mu held.
func (st *store) allowed(id *identity, req *request) bool {
	for _, o := range st.list(resCRBs, "", nil, nil) {
		b := o.(*rbacv1.ClusterRoleBinding)
		if b.RoleRef.Kind == "ClusterRole" && bindsTo(b.Subjects, id, "") && st.roleAllows(b.RoleRef, "", id, req) {
			return true
		}
	}
	if req.ns == "" {
		return false
	}
	for _, o := range st.list(resRoleBinding, req.ns, nil, nil) {
		b := o.(*rbacv1.RoleBinding)
		if bindsTo(b.Subjects, id, req.ns) && st.roleAllows(b.RoleRef, req.ns, id, req) {
			return true
		}
	}
	return false
}

func bindsTo(subjects []rbacv1.Subject, id *identity, bindingNS string) bool {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			if id.saName != "" && s.Name == id.saName && ns == id.saNamespace {
				return true
			}
		case rbacv1.UserKind:
			if s.Name == id.user {
				return true
			}
		case rbacv1.GroupKind:
			if slices.Contains(id.groups, s.Name) {
				return true
			}
		}
	}
	return false
}

func (st *store) roleAllows(ref rbacv1.RoleRef, ns string, id *identity, req *request) bool {
	var rules []rbacv1.PolicyRule
	switch ref.Kind {
	case "ClusterRole":
		o := st.get(resClusterRole, "", ref.Name)
		if o == nil {
			return false
		}
		rules = o.(*rbacv1.ClusterRole).Rules
	case "Role":
		o := st.get(resRoles, ns, ref.Name)
		if o == nil {
			return false
		}
		rules = o.(*rbacv1.Role).Rules
	}
	for _, r := range rules {
		if ruleAllows(r, req) {
			return true
		}
	}
	return false
}

func ruleAllows(r rbacv1.PolicyRule, req *request) bool {
	if !has(r.Verbs, req.verb) || !has(r.APIGroups, req.res.gvr.Group) {
		return false
	}
	res := req.res.gvr.Resource
	if req.sub != "" {
		res += "/" + req.sub
	}
	ok := false
	for _, x := range r.Resources {
		if x == "*" || x == res || (req.sub != "" && x == "*/"+req.sub) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	if len(r.ResourceNames) == 0 {
		return true
	}
	return req.name != "" && slices.Contains(r.ResourceNames, req.name)
}

func has(list []string, v string) bool {
	return slices.Contains(list, v) || slices.Contains(list, rbacv1.VerbAll)
}

package kubefront

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// eksToken builds a token the way aws eks get-token and
// aws-iam-authenticator do: a presigned STS GetCallerIdentity URL that
// signs the x-k8s-aws-id header. Presigning sends nothing.
func eksToken(t *testing.T, cluster string) string {
	t.Helper()
	client := sts.New(sts.Options{Region: "eu-central-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSIMULATED", "secret", "")})
	req, err := sts.NewPresignClient(client).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{},
		func(o *sts.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
				o.APIOptions = append(o.APIOptions, smithyhttp.SetHeaderValue("x-k8s-aws-id", cluster), smithyhttp.SetHeaderValue("X-Amz-Expires", "60"))
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(req.URL))
}

// clientCert issues a client certificate signed by the cluster CA (or by
// another CA when rogue).
func clientCert(t *testing.T, w *world, cl string, rogue bool, groups ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	ca, caKey, err := w.e.KubeCA(cl, clusterOf[cl].region, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if rogue {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "rogue"}, IsCA: true, BasicConstraintsValid: true,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		ca, _ = x509.ParseCertificate(der)
		caKey = k
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "masterclient", Organization: groups},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestAuthentication: what each cloud's API server accepts.
func TestAuthentication(t *testing.T) {
	w := newWorld(t, Options{})
	token := func(cl string) string {
		tok, _, err := w.e.KubeAdmin(cl, clusterOf[cl].region, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	badEKS := "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte("https://sts.amazonaws.com/?Action=GetCallerIdentity"))
	sa, _ := w.srv.ServiceAccountToken("aws", clusterOf["aws"].region, "c1", "default", "default")
	ghost, _ := w.srv.ServiceAccountToken("aws", clusterOf["aws"].region, "c1", "default", "ghost")
	cases := []struct {
		name, cloud string
		auth        func(*rest.Config)
		// want: 0 allowed, 401, 403, or -1 (TLS handshake refused)
		want int
	}{
		{"admin token", "aws", func(c *rest.Config) {}, 0},
		{"admin token", "gcp", func(c *rest.Config) {}, 0},
		{"admin token", "azure", func(c *rest.Config) {}, 0},
		{"other cluster's admin token", "aws", func(c *rest.Config) { c.BearerToken = token("azure") }, 401},
		{"no credentials", "aws", func(c *rest.Config) { c.BearerToken = "" }, 401},
		{"EKS token", "aws", func(c *rest.Config) { c.BearerToken = eksToken(t, "c1") }, 0},
		{"malformed EKS token", "aws", func(c *rest.Config) { c.BearerToken = badEKS }, 401},
		{"EKS token on AKS", "azure", func(c *rest.Config) { c.BearerToken = eksToken(t, "c1") }, 401},
		{"OAuth token", "gcp", func(c *rest.Config) { c.BearerToken = "ya29.simulated" }, 0},
		{"static SIMULATED token", "gcp", func(c *rest.Config) { c.BearerToken = "SIMULATED" }, 0},
		{"OAuth token on EKS", "aws", func(c *rest.Config) { c.BearerToken = "ya29.simulated" }, 401},
		{"service account without RBAC", "aws", func(c *rest.Config) { c.BearerToken = sa }, 403},
		{"missing service account", "aws", func(c *rest.Config) { c.BearerToken = ghost }, 401},
		{"client certificate", "azure", func(c *rest.Config) {
			c.BearerToken = ""
			c.CertData, c.KeyData = clientCert(t, w, "azure", false, "system:masters")
		}, 0},
		{"client certificate without a group", "azure", func(c *rest.Config) {
			c.BearerToken = ""
			c.CertData, c.KeyData = clientCert(t, w, "azure", false)
		}, 403},
		{"client certificate of another CA", "azure", func(c *rest.Config) {
			c.BearerToken = ""
			c.CertData, c.KeyData = clientCert(t, w, "azure", true, "system:masters")
		}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.cloud+" "+tc.name, func(t *testing.T) {
			cfg := w.config(tc.cloud)
			tc.auth(cfg)
			c, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
			var got int
			switch {
			case err == nil:
			case apierrors.IsUnauthorized(err):
				got = 401
			case apierrors.IsForbidden(err):
				got = 403
			default:
				got = -1
			}
			if got != tc.want {
				t.Fatalf("got %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

// TestRBAC: a service account may do exactly what its ClusterRoleBindings
// and RoleBindings grant.
func TestRBAC(t *testing.T) {
	w := newWorld(t, Options{})
	w.pool("aws", "gpu", 1)
	admin := w.client("aws")
	ctx := context.Background()
	node := nodeNames(t, admin, "")[0]
	admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "checker"}}, metav1.CreateOptions{})
	admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "node-patcher"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{"allowed"}},
	}}, metav1.CreateOptions{})
	admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "checker"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "node-patcher"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "checker", Namespace: "default"}}}, metav1.CreateOptions{})
	admin.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "events"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create"}}}}, metav1.CreateOptions{})
	admin.RbacV1().RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "events"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "events"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "checker"}}}, metav1.CreateOptions{})
	admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{})

	tok, err := w.srv.ServiceAccountToken("aws", clusterOf["aws"].region, "c1", "default", "checker")
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.config("aws")
	cfg.BearerToken = tok
	sa, _ := kubernetes.NewForConfig(cfg)
	ev := func(ns string) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "e-", Namespace: ns}, InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node}}
	}
	cases := []struct {
		name    string
		call    func() error
		allowed bool
	}{
		{"get node", func() error { _, err := sa.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); return err }, true},
		{"patch node", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}, true},
		{"list nodes", func() error { _, err := sa.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); return err }, false},
		{"delete node", func() error { return sa.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}) }, false},
		{"patch node status", func() error {
			_, err := sa.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}, "status")
			return err
		}, false},
		{"event in default (RoleBinding)", func() error {
			_, err := sa.CoreV1().Events("default").Create(ctx, ev("default"), metav1.CreateOptions{})
			return err
		}, true},
		{"event in other", func() error {
			_, err := sa.CoreV1().Events("other").Create(ctx, ev("other"), metav1.CreateOptions{})
			return err
		}, false},
		{"named config map", func() error {
			_, err := sa.CoreV1().ConfigMaps("default").Get(ctx, "allowed", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}, true},
		{"other config map", func() error {
			_, err := sa.CoreV1().ConfigMaps("default").Get(ctx, "secret", metav1.GetOptions{})
			return err
		}, false},
		{"discovery", func() error { _, err := sa.Discovery().ServerVersion(); return err }, true},
	}
	for _, tc := range cases {
		err := tc.call()
		if tc.allowed && err != nil || !tc.allowed && !apierrors.IsForbidden(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Revoking the binding revokes the access.
	admin.RbacV1().ClusterRoleBindings().Delete(ctx, "checker", metav1.DeleteOptions{})
	if _, err := sa.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("after revoking: %v", err)
	}
}

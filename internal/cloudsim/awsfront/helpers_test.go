package awsfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
)

const region = "eu-central-1"

var ctx = context.Background()

var epoch0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// testDurations are the fake-clock operation times.
var testDurations = cloudsim.Durations{
	ClusterCreate: 10 * time.Minute, ClusterDelete: 5 * time.Minute,
	PoolCreate: 3 * time.Minute, PoolUpdate: 2 * time.Minute, PoolDelete: 2 * time.Minute,
}

// fastDurations are real-clock operation times for waiter tests.
var fastDurations = cloudsim.Durations{
	ClusterCreate: 60 * time.Millisecond, ClusterDelete: 40 * time.Millisecond,
	PoolCreate: 60 * time.Millisecond, PoolUpdate: 40 * time.Millisecond, PoolDelete: 40 * time.Millisecond,
}

type env struct {
	e     *cloudsim.Engine
	srv   *server
	clock *cloudsim.FakeClock
	eks   *eks.Client
	ec2   *ec2.Client
	iam   *iam.Client
	// cfg is the SDK configuration of the clients above.
	cfg aws.Config
	// requests counts HTTP requests per SDK operation path/action.
	mu       sync.Mutex
	requests map[string]int
	total    atomic.Int64
}

type envConfig struct {
	realClock bool
	durations cloudsim.Durations
	stateFile string
	opts      Options
}

func newEnv(t *testing.T, c envConfig) *env {
	t.Helper()
	ev := &env{requests: map[string]int{}}
	cfg := cloudsim.Config{Durations: c.durations, StateFile: c.stateFile}
	if cfg.Durations == (cloudsim.Durations{}) {
		cfg.Durations = testDurations
	}
	if !c.realClock {
		ev.clock = cloudsim.NewFakeClock(epoch0)
		cfg.Clock = ev.clock
		c.opts.Clock = ev.clock
	}
	e, err := cloudsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev.e = e
	h := New(e, c.opts)
	ev.srv = h.(*server)
	seedEKSRoles(t, ev.srv)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev.total.Add(1)
		_, service := scope(r)
		key := service + " " + r.Method + " " + r.URL.Path
		if r.Method == http.MethodPost && r.URL.Path == "/" {
			_ = r.ParseForm()
			key = service + " " + r.Form.Get("Action")
		}
		ev.mu.Lock()
		ev.requests[key]++
		ev.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	awsCfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRET", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
	ev.eks = eks.NewFromConfig(awsCfg)
	ev.ec2 = ec2.NewFromConfig(awsCfg)
	ev.iam = iam.NewFromConfig(awsCfg)
	ev.cfg = awsCfg
	return ev
}

func (ev *env) count(key string) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.requests[key]
}

// noRetry makes an SDK call fail at the first error.
func noRetryEKS(o *eks.Options) { o.RetryMaxAttempts = 1 }
func noRetryEC2(o *ec2.Options) { o.RetryMaxAttempts = 1 }
func noRetryIAM(o *iam.Options) { o.RetryMaxAttempts = 1 }

// apiCode returns the smithy API error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// isA reports whether err is (wraps) a T.
func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// seedEKSRoles puts the roles createClusterInput and nodegroupInput name
// into the account, as EKS wants them (see checkClusterRole and
// checkNodeRole): "eks" trusted by eks.amazonaws.com with
// AmazonEKSClusterPolicy, "node" trusted by ec2.amazonaws.com with the
// node policies. A state file that has them already keeps them.
func seedEKSRoles(t *testing.T, s *server) {
	t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},"Action":"sts:AssumeRole"}]}`
	roles := map[string][]string{
		"eks":  {"eks.amazonaws.com", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"},
		"node": {"ec2.amazonaws.com", eksWorkerNodePolicy, ecrReadOnlyPolicy, "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"},
	}
	for name, r := range roles {
		if _, ok, err := s.iam.roles.Lookup(name); ok || err != nil {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := s.iam.roles.Put(name, roleRow{ID: newRoleID(), AssumeRolePolicy: fmt.Sprintf(trust, r[0]), Path: "/"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range r[1:] {
			if err := s.iam.policies.Put(name+"|"+p, rolePolicy{Role: name, PolicyArn: p}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// leftovers is what exists besides the seeded EKS roles.
func (ev *env) leftovers() cloudsim.Inventory {
	inv := ev.e.Inventory()
	kept := inv.Objects[:0:0]
	for _, o := range inv.Objects {
		seeded := (o.Kind == kindRole && (o.Name == "eks" || o.Name == "node")) ||
			(o.Kind == kindRolePolicy && (strings.HasPrefix(o.Name, "eks|") || strings.HasPrefix(o.Name, "node|")))
		if !seeded {
			kept = append(kept, o)
		}
	}
	inv.Objects = kept
	return inv
}

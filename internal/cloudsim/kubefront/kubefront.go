// Package kubefront serves the Kubernetes API of every simulated cluster
// of a cloudsim engine over loopback TLS, so that client-go, kubectl and
// the provider talk to a simulated cluster exactly as to a real one.
//
// One listener serves all clusters, routed by the TLS server name: the
// host of the cluster's endpoint (<name>.<region>.<cloud>.cloudsim.invalid),
// with a serving certificate signed by the cluster's CA from the engine.
// Objects (namespaces, nodes, pods, service accounts, resource quotas,
// config maps, events, RBAC, daemon sets) persist in the engine's state
// file. The server plays the parts of a cluster that matter to gpufleet:
// the cloud registers the pools' machines as Nodes, and a "kubelet" runs
// the pods of DaemonSets on the nodes their affinity and tolerations admit,
// through a PodRunner the host supplies.
package kubefront

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim"
	"github.com/gpufleet/terraform-provider-gpufleet/internal/simworld"
)

// EndpointSuffix ends the host of every simulated cluster endpoint.
const EndpointSuffix = simworld.EndpointSuffix

// Options configure a Server.
type Options struct {
	// Addr is the loopback address to listen on; "127.0.0.1:0" (a free
	// port) when empty.
	Addr string
	// Runner runs the containers of the pods the kubelet starts; nil
	// leaves pods Pending (no kubelet).
	Runner PodRunner
	// ReconcileInterval is how often Nodes and pods are reconciled with
	// the engine while the server runs (besides on every request); 200ms
	// when zero, never when negative.
	ReconcileInterval time.Duration
	// MaxRestarts is how often a container that exits non-zero is started
	// again (restartCount) before its pod is left Failed.
	MaxRestarts int
	// RestartDelay is the back-off before a restart; 100ms when zero.
	RestartDelay time.Duration
	// WorkDir holds the kubeconfig files of running pods; a temporary
	// directory (removed by Close) when empty.
	WorkDir string
	// Hardware describes an instance type (GPU model and count, CPUs,
	// memory) where the node pool does not say; nil uses built-in guesses.
	Hardware func(cloud, instanceType string) Hardware
}

// Hardware is what a node of an instance type has.
type Hardware struct {
	GPUModel  string
	GPUs      int
	CPUs      int
	MemoryGiB int
}

// Server is the simulated Kubernetes API of all clusters of an engine.
type Server struct {
	e    *cloudsim.Engine
	opts Options

	mu      sync.Mutex
	stores  map[string]*store
	certs   map[string]*tls.Certificate // serving certificates by cluster ID
	calls   map[string]int
	addr    string
	ln      net.Listener
	http    *http.Server
	workDir string
	ownDir  bool
	// closing refuses new pod runs; runs counts the running ones.
	closing bool
	runs    sync.WaitGroup

	ctx    context.Context
	cancel context.CancelFunc
	// quiet stops the background loop (Quiesce).
	quiet     chan struct{}
	quietOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a server for the clusters of e; Start listens.
func New(e *cloudsim.Engine, opts Options) *Server {
	if opts.ReconcileInterval == 0 {
		opts.ReconcileInterval = 200 * time.Millisecond
	}
	if opts.RestartDelay == 0 {
		opts.RestartDelay = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{e: e, opts: opts, stores: map[string]*store{}, certs: map[string]*tls.Certificate{},
		calls: map[string]int{}, ctx: ctx, cancel: cancel, quiet: make(chan struct{})}
}

// Start listens on the loopback address of Options.Addr, serves until
// Close (or ctx ends), and returns the address ("127.0.0.1:PORT").
func (s *Server) Start(ctx context.Context) (string, error) {
	addr := s.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("kubefront: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("kubefront: address %q is not a loopback address", addr)
	}
	dir := s.opts.WorkDir
	own := false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "kubefront-"); err != nil {
			return "", err
		}
		own = true
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if own {
			os.RemoveAll(dir)
		}
		return "", fmt.Errorf("kubefront: %w", err)
	}
	s.mu.Lock()
	s.ln, s.addr, s.workDir, s.ownDir = ln, ln.Addr().String(), dir, own
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{GetConfigForClient: s.tlsConfigFor, NextProtos: []string{"h2", "http/1.1"}}}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.http.ServeTLS(ln, "", "")
	}()
	if s.opts.ReconcileInterval > 0 {
		s.wg.Add(1)
		go s.loop()
	}
	if ctx != nil && ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				s.Close()
			case <-s.ctx.Done():
			}
		}()
	}
	return s.addr, nil
}

// Addr is the listening address ("127.0.0.1:PORT"); empty before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops serving, ends watches and running pods, and removes the
// temporary work directory.
func (s *Server) Close() {
	s.cancel()
	s.mu.Lock()
	s.closing = true
	h := s.http
	stores := maps.Clone(s.stores)
	s.mu.Unlock()
	for _, st := range stores {
		st.shutdown()
	}
	if h != nil {
		_ = h.Close()
	}
	s.wg.Wait()
	s.runs.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownDir && s.workDir != "" {
		os.RemoveAll(s.workDir)
		s.workDir = ""
	}
}

// loop reconciles every cluster on the interval.
func (s *Server) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.quiet:
			return
		case <-t.C:
		}
		s.ReconcileAll()
	}
}

// Quiesce stops the background reconcile loop and keeps serving: the
// clusters are still reconciled on every request. For a server another
// one has taken over from in the same process, whose clients may still be
// finishing their work.
func (s *Server) Quiesce() {
	s.quietOnce.Do(func() { close(s.quiet) })
}

// ReconcileAll reconciles the Nodes and pods of every simulated cluster
// with the engine now (the background loop does this on its interval).
func (s *Server) ReconcileAll() {
	seen := map[string]bool{}
	for _, c := range s.e.Inventory().Clusters {
		k := key3(c.Cloud, c.Region, c.Name)
		seen[k] = true
		if st, err := s.storeFor(c.Cloud, c.Region, c.Name); err == nil {
			st.reconcile()
		}
	}
	s.mu.Lock()
	var gone []*store
	for k, st := range s.stores {
		if !seen[k] {
			gone = append(gone, st)
			delete(s.stores, k)
		}
	}
	s.mu.Unlock()
	for _, st := range gone {
		st.shutdown()
	}
}

func key3(cl, region, name string) string { return cl + "/" + region + "/" + name }

// parseHost splits an endpoint host into cloud, region and cluster name.
func parseHost(host string) (cl, region, name string, ok bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	rest, found := strings.CutSuffix(host, EndpointSuffix)
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[2], parts[1], parts[0], true
}

// errNoCluster is returned for hosts that name no simulated cluster.
var errNoCluster = errors.New("no such simulated cluster")

// storeFor returns the store of a live cluster, loading it from the
// engine, and drops the store of a cluster that is gone or was recreated.
func (s *Server) storeFor(cl, region, name string) (*store, error) {
	c, ok := s.e.LookupCluster(cl, region, name)
	k := key3(cl, region, name)
	s.mu.Lock()
	st := s.stores[k]
	if st != nil && (!ok || st.id != c.ID) {
		delete(s.stores, k)
		s.mu.Unlock()
		st.shutdown()
		s.mu.Lock()
		st = nil
	}
	if !ok {
		s.mu.Unlock()
		return nil, errNoCluster
	}
	if st == nil {
		var err error
		st, err = newStore(s, c)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.stores[k] = st
	}
	s.mu.Unlock()
	return st, nil
}

// tlsConfigFor picks the cluster by the client's server name.
func (s *Server) tlsConfigFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cl, region, name, ok := parseHost(hello.ServerName)
	if !ok {
		return nil, fmt.Errorf("kubefront: server name %q is not a simulated cluster endpoint (<name>.<region>.<cloud>%s)", hello.ServerName, EndpointSuffix)
	}
	c, ok := s.e.LookupCluster(cl, region, name)
	if !ok {
		return nil, fmt.Errorf("kubefront: %w: %s", errNoCluster, hello.ServerName)
	}
	caCert, caKey, err := s.e.KubeCA(cl, region, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	cert := s.certs[c.ID]
	s.mu.Unlock()
	if cert == nil {
		if cert, err = servingCert(strings.TrimPrefix(c.Endpoint, "https://"), caCert, caKey, s.e.Now()); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.certs[c.ID] = cert
		s.mu.Unlock()
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool,
		NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}, nil
}

// servingCert issues the API server's certificate for host and loopback.
func servingCert(host string, ca *x509.Certificate, caKey any, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:     []string{host, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    earliest(now, time.Now()).Add(-24 * time.Hour),
		NotAfter:     earliest(now, time.Now()).Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// DialContext connects to the listener for any *.cloudsim.invalid
// address and to loopback addresses; everything else is refused (the
// simulation never leaves the machine). It is the Dial of RESTConfig.
func (s *Server) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return simworld.Dial(ctx, s.Addr(), network, address)
}

// RESTConfig is a cluster-admin client configuration for the cluster's
// real endpoint URL (https://<name>.<region>.<cloud>.cloudsim.invalid),
// with the cluster CA and a Dial that reaches this server.
func (s *Server) RESTConfig(cl, region, cluster string) (*rest.Config, error) {
	c, ok := s.e.LookupCluster(cl, region, cluster)
	if !ok {
		return nil, fmt.Errorf("kubefront: %w: %s", errNoCluster, key3(cl, region, cluster))
	}
	token, ca, err := s.e.KubeAdmin(cl, region, cluster)
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: c.Endpoint, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca},
		Dial: s.DialContext, UserAgent: "kubefront-admin", QPS: 200, Burst: 400}, nil
}

// Kubeconfig is a cluster-admin kubeconfig for kubectl: server
// https://127.0.0.1:PORT with tls-server-name the endpoint host.
func (s *Server) Kubeconfig(cl, region, cluster string) ([]byte, error) {
	c, ok := s.e.LookupCluster(cl, region, cluster)
	if !ok {
		return nil, fmt.Errorf("kubefront: %w: %s", errNoCluster, key3(cl, region, cluster))
	}
	token, ca, err := s.e.KubeAdmin(cl, region, cluster)
	if err != nil {
		return nil, err
	}
	return s.kubeconfig(c, ca, "cluster-admin", token)
}

func (s *Server) kubeconfig(c cloudsim.Cluster, ca []byte, user, token string) ([]byte, error) {
	addr := s.Addr()
	if addr == "" {
		return nil, errors.New("kubefront: the server is not started")
	}
	name := c.Name
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + addr, TLSServerName: strings.TrimPrefix(c.Endpoint, "https://"),
		CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	return clientcmd.Write(*cfg)
}

// ServiceAccountToken mints a bearer token for a service account of a
// cluster (the token its pods get); the account must exist when the token
// is used, and is authorised by RBAC.
func (s *Server) ServiceAccountToken(cl, region, cluster, namespace, name string) (string, error) {
	st, err := s.storeFor(cl, region, cluster)
	if err != nil {
		return "", err
	}
	return st.saToken(namespace, name), nil
}

// Calls returns the requests served per "cloud/region/cluster verb
// resource" (resource with its subresource, e.g. "nodes/status"), for
// benchmarks.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

func (s *Server) count(st *store, verb, res string) {
	s.mu.Lock()
	s.calls[key3(st.cloud, st.region, st.name)+" "+verb+" "+res]++
	s.mu.Unlock()
}

package cloudsim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// KubeState is the Kubernetes side of a simulated cluster, persisted with
// the engine: the cluster CA with its key (private to the simulator: the
// simulated API server signs its serving certificates with it), the
// cluster-admin token, and the Kubernetes objects as JSON documents with
// the last resource version handed out. It disappears with the cluster.
type KubeState struct {
	ClusterID  string                     `json:"cluster_id"`
	CACert     string                     `json:"ca_cert"`
	CAKey      string                     `json:"ca_key"`
	AdminToken string                     `json:"admin_token"`
	RV         int64                      `json:"resource_version"`
	Objects    map[string]json.RawMessage `json:"objects,omitempty"`
}

// newKubeState makes a cluster's CA (ECDSA P-256, self-signed) and admin
// token. The token is "cloudsim-<cluster ID>", which the AKS front end's
// kubeconfigs already carry.
func (e *Engine) newKubeState(c *Cluster) (*KubeState, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubernetes", Organization: []string{"cloudsim " + c.Cloud}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &KubeState{
		ClusterID:  c.ID,
		CACert:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		CAKey:      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
		AdminToken: "cloudsim-" + c.ID,
	}, nil
}

// kube returns a live cluster's Kubernetes state, creating it for a
// cluster from a state file written before clusters had one. It is called
// with e.mu held.
func (e *Engine) kube(cl, region, name string) (*Cluster, *KubeState, error) {
	e.reap()
	k := clusterKey(cl, region, name)
	c, ok := e.st.Clusters[k]
	if !ok {
		return nil, nil, notFound(cl, "Kubernetes", "cluster "+name)
	}
	ks, ok := e.st.Kube[k]
	if !ok || ks.ClusterID != c.ID {
		var err error
		if ks, err = e.newKubeState(c); err != nil {
			return nil, nil, err
		}
		e.st.Kube[k] = ks
		if err := e.save(); err != nil {
			return nil, nil, err
		}
	}
	return c, ks, nil
}

// KubeAdmin returns a cluster's cluster-admin bearer token and its CA
// certificate (PEM), which the simulated API server's certificates chain
// to; KindNotFound for an unknown cluster.
func (e *Engine) KubeAdmin(cl, region, name string) (token string, caPEM []byte, err error) {
	defer e.lock()()
	_, ks, err := e.kube(cl, region, name)
	if err != nil {
		return "", nil, err
	}
	return ks.AdminToken, []byte(ks.CACert), nil
}

// KubeCA returns a cluster's CA certificate and private key, for the
// simulated API server to sign serving and client certificates with.
// The key never leaves the simulator.
func (e *Engine) KubeCA(cl, region, name string) (*x509.Certificate, crypto.Signer, error) {
	defer e.lock()()
	_, ks, err := e.kube(cl, region, name)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode([]byte(ks.CACert))
	kb, _ := pem.Decode([]byte(ks.CAKey))
	if cb == nil || kb == nil {
		return nil, nil, errors.New("cloudsim: the cluster CA in the state is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cloudsim: cluster CA: %w", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cloudsim: cluster CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("cloudsim: cluster CA key cannot sign")
	}
	return cert, signer, nil
}

// KubeObjects returns a cluster's stored Kubernetes documents (by the
// key the API server chose) and the last resource version handed out,
// along with the cluster's ID (a recreated cluster has a new one);
// KindNotFound for an unknown cluster.
func (e *Engine) KubeObjects(cl, region, name string) (clusterID string, rv int64, docs map[string][]byte, err error) {
	defer e.lock()()
	c, ks, err := e.kube(cl, region, name)
	if err != nil {
		return "", 0, nil, err
	}
	docs = make(map[string][]byte, len(ks.Objects))
	for k, v := range ks.Objects {
		// Older state files are indented; hand out compact documents.
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", 0, nil, fmt.Errorf("cloudsim: Kubernetes document %s is corrupt: %w", k, err)
		}
		docs[k] = b.Bytes()
	}
	rv = ks.RV
	if e.file != "" {
		if rv, err = e.replayKubeLog(c.ID, docs, rv); err != nil {
			return "", 0, nil, err
		}
	}
	return c.ID, rv, docs, nil
}

// PutKubeObjects stores changed Kubernetes documents of a cluster (a nil
// document deletes its key) and the last resource version; KindNotFound
// for an unknown cluster. With a state file the change is appended to the
// cluster's log (kube/<cluster ID>.jsonl beside the state), so that a
// write costs the size of the change, not of the world: a validated
// 512-node fleet makes thousands of them.
func (e *Engine) PutKubeObjects(cl, region, name string, rv int64, docs map[string][]byte) error {
	defer e.lock()()
	c, ks, err := e.kube(cl, region, name)
	if err != nil {
		return err
	}
	if e.file != "" {
		return e.appendKubeLog(c.ID, rv, docs)
	}
	if ks.Objects == nil {
		ks.Objects = map[string]json.RawMessage{}
	}
	for k, v := range maps.All(docs) {
		if v == nil {
			delete(ks.Objects, k)
		} else {
			ks.Objects[k] = append(json.RawMessage(nil), v...)
		}
	}
	ks.RV = max(ks.RV, rv)
	return nil
}

// kubeLogEntry is one change in a cluster's Kubernetes log: a document
// put (or deleted, when Doc is null) at a resource version.
type kubeLogEntry struct {
	Key string          `json:"k"`
	Doc json.RawMessage `json:"d"`
	RV  int64           `json:"rv"`
}

func (e *Engine) kubeLogPath(clusterID string) string {
	return filepath.Join(filepath.Dir(e.file), "kube", clusterID+".jsonl")
}

// appendKubeLog appends changes to a cluster's log. Called with the world
// locked.
func (e *Engine) appendKubeLog(clusterID string, rv int64, docs map[string][]byte) error {
	p := e.kubeLogPath(clusterID)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(docs)) {
		line, err := json.Marshal(kubeLogEntry{Key: k, Doc: docs[k], RV: rv})
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replayKubeLog applies a cluster's log to docs and returns the last
// resource version; a log much longer than what it holds is compacted.
// Called with the world locked.
func (e *Engine) replayKubeLog(clusterID string, docs map[string][]byte, rv int64) (int64, error) {
	p := e.kubeLogPath(clusterID)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return rv, nil
	}
	if err != nil {
		return 0, unreadable(p, err)
	}
	lines := 0
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var en kubeLogEntry
		if err := json.Unmarshal(line, &en); err != nil {
			// A write cut short by a crash leaves a partial last line:
			// everything before it stands.
			break
		}
		lines++
		if len(en.Doc) == 0 || string(en.Doc) == "null" {
			delete(docs, en.Key)
		} else {
			docs[en.Key] = en.Doc
		}
		rv = max(rv, en.RV)
	}
	if lines > 2*len(docs)+256 {
		var b bytes.Buffer
		for _, k := range slices.Sorted(maps.Keys(docs)) {
			line, err := json.Marshal(kubeLogEntry{Key: k, Doc: docs[k], RV: rv})
			if err != nil {
				return 0, unreadable(p, fmt.Errorf("compacting: %w", err))
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		// Compaction is an optimisation: the log read is valid without
		// it, but one that cannot be written back is the world's error.
		if err := os.WriteFile(p+".tmp", b.Bytes(), 0o644); err != nil {
			return 0, unreadable(p, fmt.Errorf("compacting: %w", err))
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return 0, unreadable(p, fmt.Errorf("compacting: %w", err))
		}
	}
	return rv, nil
}

// Now is the engine's time (the simulated world's clock).
func (e *Engine) Now() time.Time { return e.clock.Now() }

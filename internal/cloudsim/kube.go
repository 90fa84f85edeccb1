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
		// The state file is indented; hand out compact documents.
		var b bytes.Buffer
		if err := json.Compact(&b, v); err != nil {
			return "", 0, nil, fmt.Errorf("cloudsim: Kubernetes document %s is corrupt: %w", k, err)
		}
		docs[k] = b.Bytes()
	}
	return c.ID, ks.RV, docs, nil
}

// PutKubeObjects stores changed Kubernetes documents of a cluster (a nil
// document deletes its key) and the last resource version, and persists
// the state; KindNotFound for an unknown cluster.
func (e *Engine) PutKubeObjects(cl, region, name string, rv int64, docs map[string][]byte) error {
	defer e.lock()()
	_, ks, err := e.kube(cl, region, name)
	if err != nil {
		return err
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
	return e.save()
}

// Now is the engine's time (the simulated world's clock).
func (e *Engine) Now() time.Time { return e.clock.Now() }

package provider

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// testdata/network-v0 is a real version 0 state: main.tf applied by the
// provider as released before keys left the state (terraform.tfstate, its
// gpufleet_network with preshared_keys), with the simulated world it built
// (sim/state.json).

type v0State struct {
	Resources []struct {
		Instances []struct {
			SchemaVersion int64           `json:"schema_version"`
			Attributes    json.RawMessage `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
}

func readV0State(t *testing.T) (attrs json.RawMessage, old map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "network-v0", "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	var st v0State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	inst := st.Resources[0].Instances[0]
	if inst.SchemaVersion != 0 {
		t.Fatalf("testdata state is version %d, want 0", inst.SchemaVersion)
	}
	if err := json.Unmarshal(inst.Attributes, &old); err != nil {
		t.Fatal(err)
	}
	if _, ok := old["preshared_keys"]; !ok {
		t.Fatal("testdata state has no preshared_keys: not a version 0 state")
	}
	return inst.Attributes, old
}

// TestNetworkStateUpgradeV0 upgrades the version 0 state: the keys are
// gone and every other value (sites, addresses, connection IDs, outside
// addresses, statuses) is what the old state held.
func TestNetworkStateUpgradeV0(t *testing.T) {
	ctx := context.Background()
	attrs, old := readV0State(t)
	r := &NetworkResource{}
	up, ok := r.UpgradeState(ctx)[0]
	if !ok {
		t.Fatal("no upgrader from version 0")
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	if sr.Schema.Version != 1 {
		t.Fatalf("schema version %d, want 1", sr.Schema.Version)
	}
	var resp resource.UpgradeStateResponse
	up.StateUpgrader(ctx, resource.UpgradeStateRequest{RawState: &tfprotov6.RawState{JSON: attrs}}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	typ := sr.Schema.Type().TerraformType(ctx)
	val, err := resp.DynamicValue.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	st := tfsdk.State{Schema: sr.Schema, Raw: val}
	var m networkModel
	if d := st.Get(ctx, &m); d.HasError() {
		t.Fatal(d)
	}
	links := linksOf(ctx, &m, &resp.Diagnostics)
	nets := networksOf(ctx, &m, &resp.Diagnostics)
	oldLinks := old["links"].(map[string]any)
	oldNets := old["networks"].(map[string]any)
	if len(links) != len(oldLinks) || len(nets) != len(oldNets) || m.Tunnels.ValueInt64() != int64(old["tunnels"].(float64)) || m.ID.ValueString() != old["id"] {
		t.Fatalf("upgraded state has %d links, %d networks, %d tunnels, id %q; the old one %d, %d, %v, %v",
			len(links), len(nets), m.Tunnels.ValueInt64(), m.ID.ValueString(), len(oldLinks), len(oldNets), old["tunnels"], old["id"])
	}
	for k, l := range links {
		ol := oldLinks[k].(map[string]any)
		var tunnels []tunnelModel
		l.Tunnels.ElementsAs(ctx, &tunnels, false)
		ot := ol["tunnels"].([]any)
		if l.AID.ValueString() != ol["a_id"] || l.BID.ValueString() != ol["b_id"] || l.Status.ValueString() != ol["status"] || len(tunnels) != len(ot) {
			t.Errorf("link %s: a_id %q b_id %q status %q, %d tunnels; the old state: %v %v %v, %d", k, l.AID.ValueString(), l.BID.ValueString(),
				l.Status.ValueString(), len(tunnels), ol["a_id"], ol["b_id"], ol["status"], len(ot))
			continue
		}
		for i, tn := range tunnels {
			o := ot[i].(map[string]any)
			if tn.InsideCIDR.ValueString() != o["inside_cidr"] || tn.AIP.ValueString() != o["a_ip"] || tn.BIP.ValueString() != o["b_ip"] {
				t.Errorf("link %s tunnel %d: %+v, the old state %v", k, i, tn, o)
			}
		}
	}
	for k, n := range nets {
		on := oldNets[k].(map[string]any)
		if n.NetworkID.ValueString() != on["network_id"] || n.CIDR.ValueString() != on["cidr"] || n.ASN.ValueInt64() != int64(on["asn"].(float64)) {
			t.Errorf("network %s: %+v, the old state %v", k, n, on)
		}
	}
}

// TestAccNetwork_upgradeFromStateWithKeys runs the real Terraform CLI on
// the version 0 state and its simulated world with this provider. The
// state was written when every link had two tunnels, so the plan is an
// update that only adds the two new tunnels of each AWS link (six tunnels
// to ten); a refresh-only apply writes a version 1 state without keys in
// which every link is still established; the apply then adds the tunnels
// (fresh keys, on both sides) while the first two of each AWS link keep
// theirs and their AWS VPN connections: every link is established with
// four AWS tunnels, no key is in the state, and the next plan is empty.
// Destroy empties the world.
func TestAccNetwork_upgradeFromStateWithKeys(t *testing.T) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if os.Getenv("TF_ACC") == "" || tf == "" {
		t.Skip("TF_ACC and TF_ACC_TERRAFORM_PATH are needed for acceptance tests")
	}
	_, file, _, _ := runtime.Caller(0)
	repo, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	buildProvider(t, repo, filepath.Join(bin, "terraform-provider-gpufleet"))
	root, sim := filepath.Join(dir, "root"), filepath.Join(dir, "root", "sim")
	if err := os.MkdirAll(sim, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from, to string, replace ...string) {
		b, err := os.ReadFile(filepath.Join("testdata", "network-v0", from))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.NewReplacer(replace...).Replace(string(b)))
		if err := os.WriteFile(filepath.Join(root, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("main.tf", "main.tf", "SIM_DIR", sim)
	copyFile("terraform.tfstate", "terraform.tfstate")
	copyFile(filepath.Join("sim", "state.json"), filepath.Join("sim", "state.json"))
	rc := filepath.Join(dir, "dev.tfrc")
	if err := os.WriteFile(rc, []byte("provider_installation {\n  dev_overrides { \"registry.terraform.io/hashicorp/gpufleet\" = \""+bin+"\" }\n  direct {}\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", simTimeScaleEnv+"=0.01")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("terraform %s: exit code %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out)
		}
		return string(out)
	}
	_, v0 := readV0State(t)
	if out := run(2, "plan", "-detailed-exitcode", "-input=false", "-no-color"); !strings.Contains(out, "6 -> 10") ||
		strings.Contains(out, "must be replaced") || strings.Contains(out, "preshared") {
		t.Fatalf("the plan from the two-tunnel state should add the four new AWS tunnels (6 -> 10) in place:\n%s", out)
	}
	// keylessState reads the state back: version 1, no keys, every link
	// established.
	keylessState := func(when string) (raw []byte, attrs map[string]any) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(root, "terraform.tfstate"))
		if err != nil {
			t.Fatal(err)
		}
		var st v0State
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		inst := st.Resources[0].Instances[0]
		if err := json.Unmarshal(inst.Attributes, &attrs); err != nil {
			t.Fatal(err)
		}
		if inst.SchemaVersion != 1 || attrs["preshared_keys"] != nil || strings.Contains(string(raw), "preshared") {
			t.Fatalf("after the %s the state is version %d and holds preshared_keys: %v", when, inst.SchemaVersion, attrs["preshared_keys"] != nil)
		}
		for k, l := range attrs["links"].(map[string]any) {
			if s := l.(map[string]any)["status"]; s != linkEstablished {
				t.Errorf("link %s is %v after the %s, want %s", k, s, when, linkEstablished)
			}
		}
		return raw, attrs
	}
	run(0, "apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color")
	keylessState("refresh")
	// The apply adds the tunnels; the keys stay in the clouds.
	run(0, "apply", "-auto-approve", "-input=false", "-no-color")
	raw, attrs := keylessState("upgrade to four tunnels")
	if n := attrs["tunnels"]; n != float64(10) {
		t.Errorf("%v tunnels after the upgrade, want 10", n)
	}
	simKeys := simulatedKeys(t, filepath.Join(sim, "state.json"))
	oldKeys := v0["preshared_keys"].(map[string]any)
	for k, l := range attrs["links"].(map[string]any) {
		l := l.(map[string]any)
		want := 2
		if strings.HasPrefix(k, "aws/") {
			want = 4
			// The AWS VPN connections were kept: their second tunnels
			// got the new tunnels in place.
			if was := v0["links"].(map[string]any)[k].(map[string]any)["a_id"]; l["a_id"] != was {
				t.Errorf("link %s: AWS connections %v, were %v", k, l["a_id"], was)
			}
			for i := range 2 {
				if key := oldKeys[k+"#"+strconv.Itoa(i)].(string); !simKeys[key] {
					t.Errorf("link %s tunnel %d lost its key", k, i)
				}
			}
		}
		if n := len(l["tunnels"].([]any)); n != want {
			t.Errorf("link %s has %d tunnels after the upgrade, want %d", k, n, want)
		}
	}
	for key := range simKeys {
		if strings.Contains(string(raw), key) {
			t.Fatal("a tunnel's pre-shared key is in the state")
		}
	}
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
}

// simulatedKeys are the pre-shared keys the simulated AWS holds in a
// simulated world's state file (every value of an attribute named *psk).
func simulatedKeys(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && strings.HasSuffix(k, "psk") && s != "" {
					keys[s] = true
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if len(keys) == 0 {
		t.Fatalf("%s holds no tunnel keys", path)
	}
	return keys
}

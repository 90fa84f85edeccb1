package main

import (
	"bufio"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/gpufleet/terraform-provider-gpufleet/internal/provider"
)

// The provider's start-up as Terraform sees it (issue 14): exec the binary
// with go-plugin's handshake environment, read the handshake line from its
// stdout, dial the address it names and call GetProviderSchema, the first
// call of every terraform plan.

// magicCookie is terraform-plugin-go's handshake cookie (tf6server), which
// go-plugin checks before it serves.
const magicCookie = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

// buildProvider builds this module's provider binary as a release does
// (CGO_ENABLED=0) into a temporary directory.
func buildProvider(tb testing.TB) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command on PATH to build the provider with")
	}
	bin := filepath.Join(tb.TempDir(), "terraform-provider-gpufleet")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startup is one start of the provider: how long the handshake line and the
// schema took from exec, the CPU time the provider used from exec to its
// exit (steadier than wall time on a loaded machine), and the resource
// types the schema names.
type startup struct {
	handshake, schema, cpu time.Duration
	resources              []string
}

// startProvider execs bin as Terraform would, waits for its schema and
// shuts it down through go-plugin's controller.
func startProvider(tb testing.TB, bin, socketDir string) (s startup) {
	tb.Helper()
	return startProviderWith(tb, bin, socketDir, nil, nil)
}

// startProviderWith is startProvider with env added to the provider's
// environment (after TF_LOG= and TF_LOG_PROVIDER=, which Terraform's
// environment would not set) and its stderr written to stderr.
func startProviderWith(tb testing.TB, bin, socketDir string, env []string, stderr io.Writer) (s startup) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "TF_PLUGIN_MAGIC_COOKIE="+magicCookie, "PLUGIN_PROTOCOL_VERSIONS=6",
		"PLUGIN_UNIX_SOCKET_DIR="+socketDir, "TF_LOG=", "TF_LOG_PROVIDER=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	defer func() {
		if err := cmd.Wait(); err != nil {
			tb.Errorf("provider exit: %v", err)
		}
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		tb.Fatalf("handshake: %v", err)
	}
	s.handshake = time.Since(start)
	// core version|protocol version|network|address|protocol
	f := strings.Split(strings.TrimSpace(line), "|")
	if len(f) < 5 || f[1] != "6" || f[4] != "grpc" {
		cmd.Process.Kill()
		tb.Fatalf("handshake line %q: want protocol 6 over grpc", line)
	}
	target := f[3]
	if f[2] == "unix" {
		target = "unix://" + f[3]
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		cmd.Process.Kill()
		tb.Fatal(err)
	}
	defer conn.Close()
	// GetProviderSchema.Request has no fields; the response is kept as
	// unknown fields of an Empty and read with protowire, so no tfplugin6
	// stubs are needed.
	var resp emptypb.Empty
	if err := conn.Invoke(ctx, "/tfplugin6.Provider/GetProviderSchema", &emptypb.Empty{}, &resp); err != nil {
		cmd.Process.Kill()
		tb.Fatalf("GetProviderSchema: %v", err)
	}
	s.schema = time.Since(start)
	s.resources = mapKeys(tb, resp.ProtoReflect().GetUnknown(), 2) // resource_schemas
	// The plugin may exit before its answer is read: Unavailable is a
	// shutdown too (Wait checks that it exited cleanly).
	err = conn.Invoke(ctx, "/plugin.GRPCController/Shutdown", &emptypb.Empty{}, &emptypb.Empty{})
	if err != nil && status.Code(err) != codes.Unavailable {
		cmd.Process.Kill()
		tb.Fatalf("shutdown: %v", err)
	}
	return s
}

// mapKeys returns the keys of the map<string, ...> field num of a
// marshalled message, sorted.
func mapKeys(tb testing.TB, b []byte, num protowire.Number) []string {
	tb.Helper()
	var keys []string
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			tb.Fatalf("schema response: %v", protowire.ParseError(l))
		}
		b = b[l:]
		if n != num || typ != protowire.BytesType {
			if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
				tb.Fatalf("schema response: %v", protowire.ParseError(l))
			}
			b = b[l:]
			continue
		}
		entry, l := protowire.ConsumeBytes(b)
		if l < 0 {
			tb.Fatalf("schema response: %v", protowire.ParseError(l))
		}
		b = b[l:]
		for len(entry) > 0 { // key = 1, value = 2
			en, et, el := protowire.ConsumeTag(entry)
			if el < 0 {
				tb.Fatalf("schema map entry: %v", protowire.ParseError(el))
			}
			entry = entry[el:]
			if en == 1 && et == protowire.BytesType {
				k, kl := protowire.ConsumeString(entry)
				if kl < 0 {
					tb.Fatalf("schema map key: %v", protowire.ParseError(kl))
				}
				keys = append(keys, k)
				entry = entry[kl:]
				continue
			}
			if el = protowire.ConsumeFieldValue(en, et, entry); el < 0 {
				tb.Fatalf("schema map entry: %v", protowire.ParseError(el))
			}
			entry = entry[el:]
		}
	}
	slices.Sort(keys)
	return keys
}

// TestProviderServesSchema: the release build of the provider hands
// Terraform a go-plugin handshake and answers GetProviderSchema with every
// resource type, then shuts down when asked.
func TestProviderServesSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider binary")
	}
	s := startProvider(t, buildProvider(t), t.TempDir())
	for _, want := range []string{"gpufleet_cluster", "gpufleet_network", "gpufleet_placement", "gpufleet_pool"} {
		if !slices.Contains(s.resources, want) {
			t.Errorf("schema names resources %v, want %s among them", s.resources, want)
		}
	}
}

// BenchmarkProviderStartup measures exec to GetProviderSchema answered
// (ns/op, and schema-ms/op) and exec to the handshake line
// (handshake-ms/op) of the CGO_ENABLED=0 build, and the provider's CPU time
// from exec to exit (cpu-ms/op). Target: schema under 20 ms.
//
// $GPUFLEET_BENCH_PROVIDER names a prebuilt binary (or a script that execs
// one, e.g. under valgrind) to start instead, so that two builds can be
// compared in one run (docs/benchmarks/provider-startup-2026-12-03.txt).
func BenchmarkProviderStartup(b *testing.B) {
	bin, dir := os.Getenv("GPUFLEET_BENCH_PROVIDER"), b.TempDir()
	if bin == "" {
		bin = buildProvider(b)
	}
	startProvider(b, bin, dir) // page cache warm, as for the second terraform command
	var handshake, schema, cpu time.Duration
	for b.Loop() {
		s := startProvider(b, bin, dir)
		handshake += s.handshake
		schema += s.schema
		cpu += s.cpu
	}
	b.ReportMetric(float64(handshake.Microseconds())/1e3/float64(b.N), "handshake-ms/op")
	b.ReportMetric(float64(schema.Microseconds())/1e3/float64(b.N), "schema-ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
}

// providerDeps lists the packages the provider binary links (go list
// -deps -f format), one a line; the test is skipped without a go command.
func providerDeps(t *testing.T, format string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", format, ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestNoSimulators: the provider binary links none of the simulated
// clouds (the engine, its front ends, the price APIs of pricefront,
// simserve) nor net/http/httptest: simulate = true serves its world, the
// live catalog's price APIs included, in the gpufleet-simkube helper
// (internal/simworld), so that no start pays their package set-up and no
// test server runs in production code.
func TestNoSimulators(t *testing.T) {
	out := providerDeps(t, "{{.ImportPath}}")
	sim := regexp.MustCompile(`(?m)^(github\.com/gpufleet/terraform-provider-gpufleet/internal/cloudsim(/[a-z]+)?|net/http/httptest)$`)
	if linked := sim.FindAllString(out, -1); len(linked) > 0 {
		t.Fatalf("the provider links %v: serve simulated clouds from gpufleet-simkube (simworld.Helper)", linked)
	}
}

// TestNoAWSSDK: the provider binary links no AWS SDK (aws-sdk-go-v2,
// smithy-go) nor the packages built on it (the EKS backend, the AWS live
// sources): they run in the gpufleet-aws helper (internal/cloud/awsremote),
// started on the first AWS call, because their package set-up is about a
// third of a start's (docs/benchmarks/provider-startup-2026-12-03.txt
// section (i)), paid on every Terraform start of the provider.
func TestNoAWSSDK(t *testing.T) {
	out := providerDeps(t, "{{.ImportPath}}")
	aws := regexp.MustCompile(`(?m)^(github\.com/aws/.*|github\.com/gpufleet/terraform-provider-gpufleet/internal/(cloud/aws|livecatalog/awslive|cloud/awsremote/awsserve))$`)
	if linked := aws.FindAllString(out, -1); len(linked) > 0 {
		t.Fatalf("the provider links %d AWS packages (%v ...): reach AWS through internal/cloud/awsremote", len(linked), linked[0])
	}
}

// TestNoComputeProtobufs: the provider reaches Compute Engine through
// google.golang.org/api/compute/v1 (internal/cloud/gcp), not
// cloud.google.com/go/compute/apiv1, whose computepb registers thousands
// of protobuf descriptors at every start (about 9 % of the provider's
// start-up instructions, docs/benchmarks/provider-startup-2026-12-03.txt).
// The simulator (computefront, in gpufleet-simkube) may use them.
func TestNoComputeProtobufs(t *testing.T) {
	notLinked(t, providerDeps(t, "{{.ImportPath}}"), "use google.golang.org/api/compute/v1",
		"cloud.google.com/go/compute/apiv1", "cloud.google.com/go/compute/apiv1/computepb")
}

// TestNoClientsetScheme: the provider reads nodes (internal/kubenodes) and
// installs the validator (internal/kubeinstall) through client-go's
// dynamic client and the discovery documents of the group versions a
// manifest names, not through the typed clientset or client-go's
// discovery client and restmapper. Those link
// k8s.io/client-go/kubernetes/scheme, which registers every built-in API
// group at every start (about a tenth of the provider's instructions to
// its schema), and the apply configurations with structured-merge-diff's
// parsers (docs/benchmarks/provider-startup-2026-12-03.txt). The
// simulated clusters and gpufleet-nodecheck may use them.
func TestNoClientsetScheme(t *testing.T) {
	notLinked(t, providerDeps(t, "{{.ImportPath}}"), "use k8s.io/client-go/dynamic (kubenodes, kubeinstall)",
		"k8s.io/client-go/kubernetes", "k8s.io/client-go/kubernetes/scheme", "k8s.io/client-go/discovery",
		"k8s.io/client-go/restmapper", "k8s.io/client-go/applyconfigurations/meta/v1",
		"sigs.k8s.io/structured-merge-diff/v6/typed")
}

// notLinked fails t for each of pkgs that deps (go list -deps, one a
// line) names, saying what to do instead.
func notLinked(t *testing.T, deps, instead string, pkgs ...string) {
	t.Helper()
	for _, p := range pkgs {
		if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `$`).MatchString(deps) {
			t.Errorf("the provider links %s: %s", p, instead)
		}
	}
}

// TestCollectorOffFirst: internal/startup's init turns the collector off
// before the runtime's first collection, i.e. before the heavy package
// inits (the AWS SDK's schemas) have grown the heap to its first goal:
// startup must not import a package that sorts late (runtime/debug), since
// Go initializes the ready package with the smallest import path first.
// The binary, run without the plugin environment, prints a message and
// exits; GODEBUG=inittrace=1,gctrace=1 shows the inits and collections in
// the order they happen.
func TestCollectorOffFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider binary")
	}
	cmd := exec.Command(buildProvider(t))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GODEBUG=inittrace=1,gctrace=1")
	out, _ := cmd.CombinedOutput() // it exits 1: not started by Terraform
	const pkg = "github.com/gpufleet/terraform-provider-gpufleet/internal/startup"
	inits := 0
	for _, line := range strings.Split(string(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 1 && f[0] == "init" && f[1] == pkg:
			if inits > 50 {
				t.Errorf("%s initialized after %d other packages: it imports one that sorts late", pkg, inits)
			}
			return
		case len(f) > 1 && f[0] == "init":
			inits++
		case len(f) > 1 && f[0] == "gc":
			t.Fatalf("collection before %s's init, after %d package inits: %s", pkg, inits, line)
		}
	}
	t.Fatalf("no init of %s in the provider's trace:\n%s", pkg, out)
}

// TestStartedServerHidesNothing: the provider's server, wrapped to turn
// the garbage collector back on, still offers tf6server every optional
// interface (list resources, actions, state stores) it finds by type
// assertion.
func TestStartedServerHidesNothing(t *testing.T) {
	s := providerserver.NewProtocol6(provider.New("test", nil)())()
	if _, ok := started(s).(startedServer); !ok {
		t.Fatalf("the framework's server (%T) lacks one of fullServer's interfaces: it is served unwrapped", s)
	}
}

// TestNoRegexpCompiledAtInit: no package of this module that the provider
// links compiles a regular expression in a package-level variable, which
// every start would pay before serving its schema (about 25 us each,
// issue 14): internal/lazyre compiles on first use, and the provider's
// schema validators take its expressions (regexMatches).
func TestNoRegexpCompiledAtInit(t *testing.T) {
	dirs := providerDeps(t, "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}")
	fset := token.NewFileSet()
	for _, dir := range strings.Fields(dirs) {
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for _, file := range pkg.Files {
				for _, decl := range file.Decls {
					gen, ok := decl.(*ast.GenDecl)
					if !ok || gen.Tok != token.VAR {
						continue
					}
					ast.Inspect(gen, func(n ast.Node) bool {
						switch n := n.(type) {
						case *ast.FuncLit:
							return false // runs when called, not at init
						case *ast.CallExpr:
							if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
								if id, ok := sel.X.(*ast.Ident); ok && id.Name == "regexp" && strings.HasPrefix(sel.Sel.Name, "MustCompile") {
									t.Errorf("%s: regexp.%s in a package-level variable runs at every start: use lazyre.New", fset.Position(n.Pos()), sel.Sel.Name)
								}
							}
						}
						return true
					})
				}
			}
		}
	}
}

// TestQuietSDKLogs: the SDK's loggers are turned off only when no TF_LOG*
// variable has a value, and then all of them.
func TestQuietSDKLogs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		quiet   bool
	}{
		{"nothing set", []string{"HOME=/root", "PATH=/bin"}, true},
		{"set empty", []string{"TF_LOG=", "TF_LOG_PROVIDER="}, true},
		{"TF_LOG", []string{"TF_LOG=TRACE"}, false},
		{"TF_LOG json", []string{"TF_LOG=json"}, false},
		{"TF_LOG_PROVIDER", []string{"TF_LOG_PROVIDER=DEBUG"}, false},
		{"one SDK level", []string{"TF_LOG_SDK_FRAMEWORK=INFO"}, false},
		{"the provider's own", []string{"TF_LOG_PROVIDER_GPUFLEET=TRACE"}, false},
		{"a log file alone", []string{"TF_LOG_PATH=/tmp/tf.log"}, false},
		{"not a log variable", []string{"XTF_LOG=TRACE", "TF_LOGX"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]string{}
			if err := quietSDKLogs(tc.environ, func(k, v string) error { set[k] = v; return nil }); err != nil {
				t.Fatal(err)
			}
			if !tc.quiet {
				if len(set) > 0 {
					t.Fatalf("set %v although the environment asks for logs", set)
				}
				return
			}
			for _, k := range sdkLogLevels {
				if set[k] != "OFF" {
					t.Errorf("%s = %q, want OFF", k, set[k])
				}
			}
		})
	}
}

// TestProviderLogsOnlyWhenAsked: the provider binary writes the SDK's
// JSON log lines to stderr when Terraform's environment asks for logs,
// and none when it does not (Terraform would discard them).
func TestProviderLogsOnlyWhenAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider binary")
	}
	bin, dir := buildProvider(t), t.TempDir()
	logLines := func(env ...string) int {
		var stderr strings.Builder
		startProviderWith(t, bin, dir, env, &stderr)
		return strings.Count(stderr.String(), `"@level":"trace"`)
	}
	if n := logLines("TF_LOG=TRACE"); n == 0 {
		t.Error("TF_LOG=TRACE: no trace lines on stderr")
	}
	if n := logLines(); n != 0 {
		t.Errorf("no TF_LOG: %d trace lines on stderr, want none", n)
	}
}

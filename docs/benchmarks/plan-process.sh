#!/usr/bin/env bash
# Whole-process benchmarks of issue 14: gpufleet plan against COIN-OR CBC on
# the same MILP, the large spread case end to end with peak memory, and the
# provider start-up to its schema (BenchmarkProviderStartup in main_test.go).
#
#   docs/benchmarks/plan-process.sh [DIR]     # from the repository root
#   BEFORE=/path/to/old/gpufleet docs/benchmarks/plan-process.sh [DIR]
#                                             # the same runs of an older build, side by side
#
# Needs hyperfine and coinor-cbc (Debian: apt-get install hyperfine
# coinor-cbc). Catalogs come from TestWriteBenchCatalogs (cmd/gpufleet):
# embedded-sample-50.csv (every 50th row of the embedded catalog),
# synthetic-100000.csv and synthetic-1000000.csv (max_nodes on 90% of rows).
set -euo pipefail
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
GPUFLEET_BENCH_DIR=$dir go test -count=1 -run TestWriteBenchCatalogs ./cmd/gpufleet >/dev/null
go build -o "$dir/gpufleet" ./cmd/gpufleet
small=$dir/embedded-sample-50.csv

# The MILP gpufleet solves for --gpus 64 on the sample (on-demand only, the
# default): minimise the hourly price of integer node counts x_i with at
# least 64 GPUs, each x_i at most the row's max_nodes where it has one.
awk -F, -v gpus=64 'NR > 1 && !/^#/ {
	n++; obj = obj sprintf(" + %s x%d", $10, n); row = row sprintf(" + %d x%d", $4, n); ints = ints " x" n
	if (NF >= 12 && $12 != "") bounds = bounds sprintf(" 0 <= x%d <= %d\n", n, $12)
} END {
	printf "Minimize\n obj:%s\nSubject To\n gpus:%s >= %d\nBounds\n%sGeneral\n%s\nEnd\n", obj, row, gpus, bounds, ints
}' "$small" > "$dir/sample-64.lp"

echo "== 50 rows (95 offers), 64 GPUs: gpufleet plan vs cbc on the same MILP"
"$dir/gpufleet" plan --catalog "$small" --gpus 64 > "$dir/plan-64.txt" # not | head: pipefail and SIGPIPE
head -1 "$dir/plan-64.txt"
cbc "$dir/sample-64.lp" solve | grep -E '^Objective value'
before=()
[ -n "${BEFORE:-}" ] && before=("$BEFORE plan --catalog $small --gpus 64")
hyperfine -N --warmup 5 --runs 40 \
	"${before[@]}" \
	"$dir/gpufleet plan --catalog $small --gpus 64" \
	"cbc $dir/sample-64.lp solve"

spread="--gpus 4096 --gpu-models H100,H200,A100-80GB --capacity-types on_demand,spot --max-share 0.5 --min-clouds 2 --format json"
for n in 100000 1000000; do
	echo "== $n offers with max_nodes, 4096 GPUs, spread (max_share 0.5, min_clouds 2)"
	before=()
	[ -n "${BEFORE:-}" ] && before=("$BEFORE plan --catalog $dir/synthetic-$n.csv $spread")
	hyperfine -N --warmup 1 --runs 10 "${before[@]}" "$dir/gpufleet plan --catalog $dir/synthetic-$n.csv $spread"
	for bin in ${BEFORE:-} "$dir/gpufleet"; do
		# shellcheck disable=SC2086
		/usr/bin/time -f "$bin: peak RSS %M KiB, %e s wall, %U s user, %S s sys" "$bin" plan --catalog "$dir/synthetic-$n.csv" $spread >/dev/null
	done
done

echo "== provider start-up: exec of the CGO_ENABLED=0 build to GetProviderSchema answered"
go test -run '^$' -bench BenchmarkProviderStartup -benchtime 20x -count 3 . | grep -E '^Benchmark'

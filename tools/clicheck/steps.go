package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cloudCLI is a CLI and the operations it is checked with.
type cloudCLI struct {
	name, cli, install string
	steps              func(r *runner) []step
}

var clouds = []cloudCLI{
	{name: "aws", cli: "aws", install: "Debian: apt-get install awscli", steps: awsSteps},
	{name: "gcloud", cli: "gcloud", install: "Google's google-cloud-cli package", steps: gcloudSteps},
	{name: "az", cli: "az", install: "Debian: apt-get install azure-cli (make cli-check installs it)", steps: azSteps},
	{name: "kubectl", cli: "kubectl", install: "Debian: apt-get install kubernetes-client", steps: kubectlSteps},
}

// get walks a decoded JSON value by a dotted path ("Vpcs.0.CidrBlock").
func get(v any, path string) (any, error) {
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = t[k]; !ok {
				return nil, fmt.Errorf("no %s in the answer (at %q)", path, k)
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(t) {
				return nil, fmt.Errorf("no %s in the answer (%d items at %q)", path, len(t), k)
			}
			v = t[i]
		default:
			return nil, fmt.Errorf("no %s in the answer (%q is not an object)", path, k)
		}
	}
	return v, nil
}

// is checks that path holds want.
func is(path, want string) func(any) error {
	return func(v any) error {
		got, err := get(v, path)
		if err != nil {
			return err
		}
		if want = expand(want); fmt.Sprint(got) != want {
			return fmt.Errorf("%s is %v, want %s", path, got, want)
		}
		return nil
	}
}

// oneOf checks that path holds one of want.
func oneOf(path string, want ...string) func(any) error {
	return func(v any) error {
		got, err := get(v, path)
		if err != nil {
			return err
		}
		for _, w := range want {
			if fmt.Sprint(got) == w {
				return nil
			}
		}
		return fmt.Errorf("%s is %v, want one of %v", path, got, want)
	}
}

// save stores the string at path as variable name (after checking it
// starts with prefix).
func (r *runner) save(name, path, prefix string) func(any) error {
	return func(v any) error {
		got, err := get(v, path)
		if err != nil {
			return err
		}
		s, ok := got.(string)
		if !ok || !strings.HasPrefix(s, prefix) {
			return fmt.Errorf("%s is %v, want a string starting with %q", path, got, prefix)
		}
		vars[name] = s
		return nil
	}
}

// contains checks that the list at path (empty: the answer itself) has an
// item whose field equals want.
func contains(path, field, want string) func(any) error {
	return func(v any) error {
		list := v
		if path != "" {
			var err error
			if list, err = get(v, path); err != nil {
				return err
			}
		}
		items, ok := list.([]any)
		if !ok {
			return fmt.Errorf("%s is not a list: %v", path, list)
		}
		var seen []string
		for _, it := range items {
			got, err := it, error(nil)
			if field != "" {
				got, err = get(it, field)
			}
			if err == nil && fmt.Sprint(got) == want {
				return nil
			}
			seen = append(seen, fmt.Sprint(got))
		}
		return fmt.Errorf("no item of %s with %s = %s (have %v)", path, field, want, seen)
	}
}

// length checks the length of the list at path.
func length(path string, n int) func(any) error {
	return func(v any) error {
		list := v
		if path != "" {
			var err error
			if list, err = get(v, path); err != nil {
				return err
			}
		}
		items, ok := list.([]any)
		if !ok || len(items) != n {
			return fmt.Errorf("%s has %d items, want %d: %v", path, len(items), n, list)
		}
		return nil
	}
}

func all(checks ...func(any) error) func(any) error {
	return func(v any) error {
		for _, c := range checks {
			if err := c(v); err != nil {
				return err
			}
		}
		return nil
	}
}

const (
	awsRegion = "eu-north-1"
	eksTrust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	ec2Trust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

func awsSteps(r *runner) []step {
	aws := func(args ...string) []string {
		return append([]string{"aws", "--output", "json", "--region", awsRegion}, args...)
	}
	s := func(name string, check func(any) error, args ...string) step {
		return step{cloud: "aws", name: name, args: aws(args...), check: check}
	}
	wait := func(st step, d time.Duration) step { st.retry = d; return st }
	return []step{
		s("ec2 describe-vpn-connections (none yet)", length("VpnConnections", 0), "ec2", "describe-vpn-connections"),
		s("ec2 create-vpc", all(r.save("VPC", "Vpc.VpcId", "vpc-"), is("Vpc.CidrBlock", "10.20.0.0/16")),
			"ec2", "create-vpc", "--cidr-block", "10.20.0.0/16"),
		s("ec2 describe-vpcs", all(length("Vpcs", 1), is("Vpcs.0.CidrBlock", "10.20.0.0/16"), is("Vpcs.0.State", "available")),
			"ec2", "describe-vpcs", "--vpc-ids", "{VPC}"),
		s("ec2 create-subnet (a)", r.save("SUBNET_A", "Subnet.SubnetId", "subnet-"),
			"ec2", "create-subnet", "--vpc-id", "{VPC}", "--cidr-block", "10.20.0.0/20", "--availability-zone", awsRegion+"a"),
		s("ec2 create-subnet (b)", r.save("SUBNET_B", "Subnet.SubnetId", "subnet-"),
			"ec2", "create-subnet", "--vpc-id", "{VPC}", "--cidr-block", "10.20.16.0/20", "--availability-zone", awsRegion+"b"),
		s("ec2 describe-subnets", all(length("Subnets", 2), contains("Subnets", "CidrBlock", "10.20.16.0/20"),
			contains("Subnets", "AvailabilityZone", awsRegion+"a")),
			"ec2", "describe-subnets", "--filters", "Name=vpc-id,Values={VPC}"),
		s("iam create-role (cluster)", all(r.save("CLUSTER_ROLE", "Role.Arn", "arn:aws:iam::"), is("Role.RoleName", "clicheck-cluster")),
			"iam", "create-role", "--role-name", "clicheck-cluster", "--assume-role-policy-document", eksTrust),
		s("iam get-role", all(is("Role.RoleName", "clicheck-cluster"), is("Role.Arn", "{CLUSTER_ROLE}")),
			"iam", "get-role", "--role-name", "clicheck-cluster"),
		s("iam create-role (nodes)", r.save("NODE_ROLE", "Role.Arn", "arn:aws:iam::"),
			"iam", "create-role", "--role-name", "clicheck-nodes", "--assume-role-policy-document", ec2Trust),
		// EKS takes the roles only with their managed policies
		// (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html,
		// .../create-node-role.html); attach-role-policy answers nothing.
		s("iam attach-role-policy (cluster)", nil,
			"iam", "attach-role-policy", "--role-name", "clicheck-cluster", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
		s("iam attach-role-policy (nodes, worker)", nil,
			"iam", "attach-role-policy", "--role-name", "clicheck-nodes", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"),
		s("iam attach-role-policy (nodes, ECR)", nil,
			"iam", "attach-role-policy", "--role-name", "clicheck-nodes", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"),
		s("iam list-attached-role-policies", all(length("AttachedPolicies", 2),
			contains("AttachedPolicies", "PolicyName", "AmazonEKSWorkerNodePolicy")),
			"iam", "list-attached-role-policies", "--role-name", "clicheck-nodes"),
		s("eks create-cluster", all(is("cluster.name", "clicheck"), oneOf("cluster.status", "CREATING", "ACTIVE")),
			"eks", "create-cluster", "--name", "clicheck", "--role-arn", "{CLUSTER_ROLE}",
			"--resources-vpc-config", "subnetIds={SUBNET_A},{SUBNET_B}", "--kubernetes-version", "1.33"),
		s("eks list-clusters", contains("clusters", "", "clicheck"), "eks", "list-clusters"),
		wait(s("eks describe-cluster (ACTIVE)", all(is("cluster.status", "ACTIVE"), is("cluster.version", "1.33"),
			is("cluster.roleArn", "{CLUSTER_ROLE}")), "eks", "describe-cluster", "--name", "clicheck"), time.Minute),
		s("eks list-nodegroups (none yet)", length("nodegroups", 0), "eks", "list-nodegroups", "--cluster-name", "clicheck"),
		s("eks create-nodegroup", all(is("nodegroup.nodegroupName", "gpu"), is("nodegroup.instanceTypes.0", "g4dn.xlarge")),
			"eks", "create-nodegroup", "--cluster-name", "clicheck", "--nodegroup-name", "gpu", "--subnets", "{SUBNET_A}",
			"--node-role", "{NODE_ROLE}", "--instance-types", "g4dn.xlarge", "--ami-type", "AL2023_x86_64_NVIDIA",
			"--scaling-config", "minSize=1,maxSize=1,desiredSize=1"),
		s("eks list-nodegroups", contains("nodegroups", "", "gpu"), "eks", "list-nodegroups", "--cluster-name", "clicheck"),
		wait(s("eks describe-nodegroup (ACTIVE)", all(is("nodegroup.status", "ACTIVE"), is("nodegroup.scalingConfig.desiredSize", "1")),
			"eks", "describe-nodegroup", "--cluster-name", "clicheck", "--nodegroup-name", "gpu"), time.Minute),
	}
}

const (
	gcpRegion = "europe-west4"
	gcpZone   = "europe-west4-a"
)

func gcloudSteps(r *runner) []step {
	g := func(args ...string) []string { return append([]string{"gcloud"}, append(args, "--format", "json")...) }
	s := func(name string, check func(any) error, args ...string) step {
		return step{cloud: "gcloud", name: name, args: g(args...), check: check}
	}
	return []step{
		s("compute networks create", contains("", "name", "clicheck"),
			"compute", "networks", "create", "clicheck", "--subnet-mode", "custom"),
		s("compute networks list", contains("", "name", "clicheck"), "compute", "networks", "list"),
		s("compute networks subnets create", all(contains("", "name", "clicheck-nodes"), contains("", "ipCidrRange", "10.30.0.0/20")),
			"compute", "networks", "subnets", "create", "clicheck-nodes", "--network", "clicheck", "--region", gcpRegion,
			"--range", "10.30.0.0/20", "--secondary-range", "pods=10.31.0.0/16,services=10.32.0.0/20"),
		s("compute routers create", contains("", "name", "clicheck"),
			"compute", "routers", "create", "clicheck", "--network", "clicheck", "--region", gcpRegion, "--asn", "64512"),
		s("compute routers list", contains("", "name", "clicheck"), "compute", "routers", "list"),
		s("container clusters create", contains("", "name", "clicheck"),
			"container", "clusters", "create", "clicheck", "--zone", gcpZone, "--network", "clicheck", "--subnetwork", "clicheck-nodes",
			"--cluster-secondary-range-name", "pods", "--services-secondary-range-name", "services", "--enable-ip-alias",
			"--num-nodes", "1", "--machine-type", "n1-standard-4", "--cluster-version", "1.33"),
		s("container clusters list", contains("", "name", "clicheck"), "container", "clusters", "list"),
		s("container clusters describe", all(is("name", "clicheck"), is("status", "RUNNING"), is("location", gcpZone)),
			"container", "clusters", "describe", "clicheck", "--zone", gcpZone),
		s("container node-pools list", length("", 1), "container", "node-pools", "list", "--cluster", "clicheck", "--zone", gcpZone),
	}
}

func azSteps(r *runner) []step {
	az := func(args ...string) []string { return append([]string{"az"}, append(args, "--output", "json")...) }
	s := func(name string, check func(any) error, args ...string) step {
		return step{cloud: "az", name: name, args: az(args...), check: check}
	}
	rm := strings.TrimSuffix(envValue(r.env, "GPUFLEET_SIM_AZURE_ENDPOINT"), "/")
	return []step{
		// Debian's azure-cli 2.45 lacks the Microsoft.Network models of the
		// latest API profile (2022-01-01): az network fails to load there.
		// The 2020-09-01-hybrid profile's versions ship with it.
		{cloud: "az", name: "cloud register (ARM metadata endpoint)", args: []string{"az", "cloud", "register", "-n", "GpufleetSim",
			"--endpoint-resource-manager", rm + "/", "--profile", "2020-09-01-hybrid",
			"--suffix-storage-endpoint", "core.cloudsim.invalid", "--suffix-keyvault-dns", ".vault.cloudsim.invalid"}},
		{cloud: "az", name: "cloud set", args: []string{"az", "cloud", "set", "-n", "GpufleetSim"}},
		s("login --service-principal", all(length("", 1), is("0.id", "00000000-0000-0000-0000-000000000000")),
			"login", "--service-principal", "-u", "gpufleet-sim", "-p", "SIMULATED", "--tenant", "00000000-0000-0000-0000-000000000002"),
		s("group create", is("properties.provisioningState", "Succeeded"), "group", "create", "-n", "clicheck", "-l", "westeurope"),
		s("network vnet create", all(is("newVNet.name", "clicheck"), is("newVNet.addressSpace.addressPrefixes.0", "10.40.0.0/16")),
			"network", "vnet", "create", "-g", "clicheck", "-n", "clicheck", "--address-prefixes", "10.40.0.0/16",
			"--subnet-name", "nodes", "--subnet-prefixes", "10.40.0.0/20"),
		s("network vnet list", contains("", "name", "clicheck"), "network", "vnet", "list", "-g", "clicheck"),
		s("network vnet show", all(is("name", "clicheck"), is("subnets.0.name", "nodes"), is("subnets.0.addressPrefix", "10.40.0.0/20")),
			"network", "vnet", "show", "-g", "clicheck", "-n", "clicheck"),
		s("aks create", all(is("name", "clicheck"), is("agentPoolProfiles.0.count", "1")),
			"aks", "create", "-g", "clicheck", "-n", "clicheck", "--node-count", "1", "--node-vm-size", "Standard_D4s_v5",
			"--network-plugin", "azure", "--vnet-subnet-id",
			"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/clicheck/providers/Microsoft.Network/virtualNetworks/clicheck/subnets/nodes",
			"--service-cidr", "10.41.0.0/16", "--dns-service-ip", "10.41.0.10", "--generate-ssh-keys", "--kubernetes-version", "1.33"),
		s("aks list", contains("", "name", "clicheck"), "aks", "list"),
		s("aks show", all(is("name", "clicheck"), is("provisioningState", "Succeeded")), "aks", "show", "-g", "clicheck", "-n", "clicheck"),
		s("aks nodepool list", length("", 1), "aks", "nodepool", "list", "-g", "clicheck", "--cluster-name", "clicheck"),
	}
}

func kubectlSteps(r *runner) []step {
	return []step{{cloud: "kubectl", name: "get nodes (EKS cluster clicheck)", retry: 30 * time.Second,
		args: []string{"kubectl", "--context", "aws_" + awsRegion + "_clicheck", "get", "nodes", "-o", "json"},
		check: all(length("items", 1), func(v any) error {
			labels, err := get(v, "items.0.metadata.labels")
			if err != nil {
				return err
			}
			if m, _ := labels.(map[string]any); m["node.kubernetes.io/instance-type"] != "g4dn.xlarge" {
				return fmt.Errorf("node label node.kubernetes.io/instance-type is %v, want g4dn.xlarge", m["node.kubernetes.io/instance-type"])
			}
			return nil
		})}}
}

// envValue is the value of an environment variable in env.
func envValue(env []string, name string) string {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == name {
			return v
		}
	}
	return ""
}

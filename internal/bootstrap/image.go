package bootstrap

// DefaultImageRepository is where the release publishes the validator's
// container image (gpufleet-nodecheck, linux/amd64 and linux/arm64).
const DefaultImageRepository = "ghcr.io/gpufleet/gpufleet-nodecheck"

// DefaultImage is the validator image the release of a provider version
// publishes: DefaultImageRepository tagged with the version (without a
// leading "v"); development builds ("dev", "test", "") use "latest".
func DefaultImage(version string) string {
	switch version {
	case "", "dev", "test":
		return DefaultImageRepository + ":latest"
	}
	if version[0] == 'v' {
		version = version[1:]
	}
	return DefaultImageRepository + ":" + version
}

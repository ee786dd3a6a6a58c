package config

import (
	"fmt"
	"slices"
	"strings"
)

// knownRegions are the AWS regions a config may name. The SDK keeps its own list
// internal, so this one is kept by hand; add a region here when AWS opens one.
var knownRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2",
	"ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
	"ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1", "cn-north-1", "cn-northwest-1", "eu-central-1",
	"eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2",
	"eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
	"sa-east-1", "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1",
	"us-west-1", "us-west-2",
}

// KnownRegion reports whether name is an AWS region grantwatch knows.
func KnownRegion(name string) bool {
	_, ok := slices.BinarySearch(knownRegions, name)
	return ok
}

// KnownRegions returns the region names, sorted.
func KnownRegions() []string { return slices.Clone(knownRegions) }

// Partition returns the AWS partition of a region: aws-cn for cn-*, aws-us-gov
// for us-gov-*, aws otherwise (the partitions of the regions grantwatch knows).
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// RoleARN builds an IAM role ARN; name may carry a path (path/to/Name).
func RoleARN(partition, account, name string) string {
	return "arn:" + partition + ":iam::" + account + ":role/" + strings.TrimPrefix(name, "/")
}

// validateRegions checks that regions are known, listed once each, and in
// one partition.
func (c *Config) validateRegions(bad badFunc) {
	if len(c.Regions) == 0 {
		bad("regions", "no regions: list at least one, such as us-east-1")
	}
	seenRegion := map[string]bool{}
	for i, r := range c.Regions {
		switch {
		case !KnownRegion(r):
			bad(fmt.Sprintf("regions[%d]", i), "unknown region %q", r)
		case seenRegion[r]:
			bad(fmt.Sprintf("regions[%d]", i), "region %q is listed twice", r)
		case Partition(r) != Partition(c.Regions[0]):
			bad(fmt.Sprintf("regions[%d]", i), "region %q is in partition %s but regions[0] %q is in %s: credentials do not cross partitions, so deploy one grantwatch per partition",
				r, Partition(r), c.Regions[0], Partition(c.Regions[0]))
		}
		seenRegion[r] = true
	}
}

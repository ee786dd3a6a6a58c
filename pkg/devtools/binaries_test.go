package devtools_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The product binaries are what an operator runs and deploys; the test
// environment (and the testing package it brings) belongs to the tests only.
// The simulator and the local stand-ins are allowed in the CLI: `grantwatch
// demo` runs on them.
func TestProductBinariesDoNotLinkTheTestEnvironment(t *testing.T) {
	const module = "github.com/grantwatch/grantwatch/"
	forbidden := []string{"testing", module + "pkg/devtools/testenv"}
	for _, binary := range []string{"cmd/grantwatch", "functions/auditor", "functions/history"} {
		t.Run(binary, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", module+binary)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", binary, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed %d packages; want the binary's whole dependency graph", binary, len(deps))
			}
			for _, dep := range deps {
				for _, bad := range forbidden {
					if dep == bad {
						t.Errorf("%s links %s; want product binaries free of the test environment", binary, dep)
					}
				}
			}
		})
	}
}

package awssim

import _ "embed"

// demoYAML is the organization `grantwatch demo` and `grantwatch sim` serve.
//
//go:embed demo.yaml
var demoYAML []byte

// Demo returns a fresh copy of the demo organization.
func Demo() (*Scenario, error) { return ParseScenario(demoYAML) }

// Package demo bundles a simulated organization and the configuration that
// audits it, so that grantwatch can be tried without an AWS account.
package demo

import (
	_ "embed"

	"github.com/grantwatch/grantwatch/pkg/awssim"
	"github.com/grantwatch/grantwatch/pkg/config"
)

var (
	//go:embed scenario.yaml
	scenarioYAML []byte
	//go:embed config.yaml
	configYAML []byte
)

// Scenario returns a fresh copy of the demo organization.
func Scenario() (*awssim.Scenario, error) { return awssim.ParseScenario(scenarioYAML) }

// Config returns the demo configuration.
func Config() (*config.Config, error) { return config.Parse(configYAML) }

// ScenarioYAML is the demo organization as a scenario file, for `grantwatch sim`.
func ScenarioYAML() []byte { return scenarioYAML }

// Command infra is grantwatch's CDK app: the audit stack for the audit account
// and the member-role stack for every account. `cdk synth` and `cdk deploy`
// run it through cdk.json.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

func main() {
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "grantwatch infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	get := func(key string) string {
		// No default from the deploying account: the member-role template is
		// synthesized once and deployed everywhere, so it must name the audit
		// account explicitly.
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
			return v
		}
		return ""
	}
	settings, err := LoadSettings(get)
	if err != nil {
		return err
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	build := filepath.Join(root, "build", "lambda")
	for _, name := range []string{"auditor", "history"} {
		if err := buildFunction(root, name, filepath.Join(build, name)); err != nil {
			return err
		}
	}
	if err := copyFile(settings.ConfigFile, filepath.Join(build, "auditor", "grantwatch.yaml")); err != nil {
		return fmt.Errorf("bundle %s: %w", settings.ConfigFile, err)
	}

	env := &awscdk.Environment{Account: jsii.String(settings.AuditAccountID), Region: jsii.String(os.Getenv("CDK_DEFAULT_REGION"))}
	NewAuditStack(app, "Grantwatch", &AuditStackProps{
		StackProps:  awscdk.StackProps{Env: env, Description: jsii.String("grantwatch: Bedrock model access audit (audit account)")},
		Settings:    settings,
		AuditorCode: awslambda.Code_FromAsset(jsii.String(filepath.Join(build, "auditor")), nil),
		HistoryCode: awslambda.Code_FromAsset(jsii.String(filepath.Join(build, "history")), nil),
	})
	// No env: the same template deploys to every account through a StackSet.
	NewMemberRoleStack(app, "GrantwatchMemberRole", &MemberRoleStackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("grantwatch: read-only Bedrock audit role (every account)"),
			Synthesizer: MemberRoleSynthesizer()},
		Settings: settings,
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
	return nil
}

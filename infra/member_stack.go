package main

import (
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/grantwatch/grantwatch/pkg/check"
	"github.com/grantwatch/grantwatch/pkg/config"
)

// MemberRoleStackProps configure the audit role deployed in every account.
type MemberRoleStackProps struct {
	awscdk.StackProps
	Settings *Settings
}

// The member role's read actions, from check.MemberReadActions by scope and
// by when they are granted.

// BedrockReadActions support no resource-level permissions: the Service
// Authorization Reference ("Actions defined by Amazon Bedrock") lists no
// resource type for them, so only "*" works. Sorted, as the template has
// always listed them.
func BedrockReadActions() []string {
	return slices.Sorted(slices.Values(memberActions(check.ScopeAny, check.GrantAlways)))
}

// ProfileReadActions are scoped to the account's own application inference
// profiles: GetInferenceProfile takes the application-inference-profile
// resource type (Service Authorization Reference), whose ARNs carry the
// account. grantwatch reads system profiles with ListInferenceProfiles only
// (pkg/check), so it is not granted on them.
func ProfileReadActions() []string {
	return memberActions(check.ScopeOwnApplicationProfiles, check.GrantAlways)
}

// AccountReadActions tell the account's opt-in regions apart, where the
// Anthropic use-case form must be read again: the Account Management API's
// ListRegions (ledger: ACC-list-regions). The Service Authorization
// Reference lists the account resource type for it
// (arn:${Partition}:account::${Account}:account), and the audit role asks
// only about its own account (no AccountId), so it is granted on that ARN
// alone, not on "*" as AWS's older example policy does.
func AccountReadActions() []string {
	return memberActions(check.ScopeOwnAccount, check.GrantAlways)
}

// memberActions are the member role's read actions granted on scope, when.
func memberActions(scope check.MemberScope, when check.MemberGrant) []string {
	return check.MemberActions(func(a check.MemberAction) bool { return a.Scope == scope && a.When == when })
}

// anyResourceReason names the actions granted on "*" for cdk-nag, in the
// order a check calls them: "bedrock:A, B and C".
func anyResourceReason() string {
	names := memberActions(check.ScopeAny, check.GrantAlways)
	for i := 1; i < len(names); i++ {
		_, names[i], _ = strings.Cut(names[i], ":")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// MemberRoleSynthesizer synthesizes the member-role template without the CDK
// bootstrap artifacts (the BootstrapVersion parameter and the
// CheckBootstrapVersion rule): a StackSet deploys it to accounts that were
// never CDK-bootstrapped, and the stack has no assets that would need it.
func MemberRoleSynthesizer() awscdk.IStackSynthesizer {
	return awscdk.NewDefaultStackSynthesizer(&awscdk.DefaultStackSynthesizerProps{GenerateBootstrapVersionRule: jsii.Bool(false)})
}

// NewMemberRoleStack defines the read-only audit role. Deploy it to every
// account with a service-managed StackSet (see the README).
//
// It trusts the audit account, for the auditor role's ARN only
// (aws:PrincipalArn), with the ExternalId and from inside the organization.
// Trusting the role ARN as the principal would store the role's unique id,
// and re-creating the audit stack would then break the trust in every
// account; a condition on the ARN survives that.
func NewMemberRoleStack(scope constructs.Construct, id string, props *MemberRoleStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := props.Settings
	auditor := awsiam.NewAccountPrincipal(jsii.String(s.AuditAccountID)).
		WithConditions(&map[string]interface{}{
			"ArnEquals": map[string]interface{}{
				"aws:PrincipalArn": AuditorRoleARN(stack, s.AuditAccountID),
			},
			"StringEquals": map[string]interface{}{
				"sts:ExternalId":     s.Config.Role.ExternalID,
				"aws:PrincipalOrgID": s.OrganizationID,
			},
		})
	statements := []awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(BedrockReadActions()...),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(ProfileReadActions()...),
			Resources: &[]*string{profileARN(stack, "application-inference-profile")},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings(AccountReadActions()...),
			Resources: &[]*string{accountARN(stack)},
		}),
	}
	statements = append(statements, principalStatements(stack, s.Config.Principals)...)
	role := awsiam.NewRole(stack, jsii.String("AuditRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(s.Config.Role.Name),
		Description: jsii.String("grantwatch reads Bedrock model access here: models, their availability, inference profiles, the use-case form and which regions are opt-in; read only"),
		AssumedBy:   auditor,
		// The auditor's sessions are role chaining, capped at 1 hour by AWS;
		// role.session_duration is validated to at most that.
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"BedrockModelAccessRead": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
		},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String(anyResourceReason() + " support no resource-level permissions: the Service Authorization Reference lists no resource type for them, so only \"*\" works. GetInferenceProfile is scoped to this account's application inference profiles in any region; the profile ids are not known when the role is deployed. With principals configured, iam:SimulatePrincipalPolicy (and iam:ListRoleTags for tag discovery) are scoped to this account's roles, whose names the configuration may give by tag; iam:ListRoles supports no resource-level permission."),
		AppliesTo: &[]interface{}{"Resource::*",
			"Resource::arn:<AWS::Partition>:bedrock:*:<AWS::AccountId>:application-inference-profile/*",
			"Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*"},
	}}, jsii.Bool(true))
	awscdk.NewCfnOutput(stack, jsii.String("AuditRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
	if s.Remediation.Enabled {
		addRemediationRole(stack, s.Remediation, auditor)
	}
	return stack
}

// The IAM reads that evaluate principals: the simulation, scoped to the
// account's roles (Service Authorization Reference: SimulatePrincipalPolicy
// takes the role resource type), and for tag discovery ListRoles (no
// resource type) and ListRoleTags (role); check.MemberReadActions says when.

// SimulateActions are granted on the account's roles with principals
// configured.
func SimulateActions() []string { return memberActions(check.ScopeOwnRoles, check.GrantWithPrincipals) }

// TagActions are granted on the account's roles when a principal set uses
// tags.
func TagActions() []string { return memberActions(check.ScopeOwnRoles, check.GrantWithPrincipalTags) }

// ListRoleActions are granted on "*" when a principal set uses tags.
func ListRoleActions() []string { return memberActions(check.ScopeAny, check.GrantWithPrincipalTags) }

// principalStatements grants the IAM reads the configured principals need,
// and nothing when none are configured.
func principalStatements(stack awscdk.Stack, p config.Principals) []awsiam.PolicyStatement {
	if !p.Configured() {
		return nil
	}
	roles := stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
		Resource: jsii.String("role"), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
	out := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings(SimulateActions()...), Resources: &[]*string{roles},
	})}
	if p.UsesTags() {
		out = append(out,
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(TagActions()...), Resources: &[]*string{roles}}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(ListRoleActions()...), Resources: jsii.Strings("*")}))
	}
	return out
}

// profileARN is every inference profile of the given resource type in the
// account the stack is deployed to, in any region.
func profileARN(stack awscdk.Stack, resource string) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("bedrock"), Region: jsii.String("*"),
		Resource: jsii.String(resource), ResourceName: jsii.String("*"), ArnFormat: awscdk.ArnFormat_SLASH_RESOURCE_NAME})
}

// accountARN is the Account Management API's account resource of the
// stack's own account: arn:${Partition}:account::${Account}:account
// (Service Authorization Reference, AWS Account Management, resource types).
func accountARN(stack awscdk.Stack) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("account"), Region: jsii.String(""),
		Resource: jsii.String("account"), ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})
}

// AuditorRoleARN is the auditor function's role ARN, in the partition the
// stack is deployed to.
func AuditorRoleARN(stack awscdk.Stack, auditAccount string) *string {
	return stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("iam"), Region: jsii.String(""),
		Account: jsii.String(auditAccount), Resource: jsii.String("role"), ResourceName: jsii.String(AuditorRoleName)})
}
